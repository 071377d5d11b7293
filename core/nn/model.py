"""The tutorial's network in Keras 3: 28 image rows in, one recurrent layer, 10 logits out."""

from __future__ import annotations

import keras
from keras import layers

from core.config import RNNConfig
from core.data.mnist import IMAGE_SIZE, NUM_CLASSES


def build_model(config: RNNConfig) -> keras.Model:
    """images (n, 28, 28) -> logits (n, 10): one recurrent layer, its last h_t into Dense(10)."""
    recurrent_layers = {"rnn": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}
    inputs = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE), name="image_rows")  # a row per timestep
    # unroll=True writes the 28 steps out as one graph, which runs faster than a while-loop of small steps.
    last_hidden = recurrent_layers[config.cell](config.hidden_units, unroll=True, name="recurrent")(inputs)
    logits = layers.Dense(
        NUM_CLASSES,
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=config.output_init_stddev),
        bias_initializer="zeros",
        name="readout",
    )(last_hidden)
    return keras.Model(inputs, logits, name=f"{config.cell}_digit_classifier")
