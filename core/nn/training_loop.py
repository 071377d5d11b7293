"""The training loop: the tutorial's schedule of logging and evaluation, one compiled step per batch."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from core.config import RNNConfig
from core.data.mnist import IMAGE_SIZE, MnistSplit, to_float_images
from core.events import (
    BATCH_COLUMNS,
    EPOCH_COLUMNS,
    BatchLogged,
    EpochEnded,
    Evaluated,
    EventCallback,
    Progress,
    TrainingStarted,
    ignore_event,
)
from core.nn.fused_step import fused_vanilla_logits
from core.nn.model import build_model
from core.nn.weights import log_softmax
from core.process_settings import TRAINING_SHARDS

PROGRESS_EVERY = 10  # iterations between Progress events
EVALUATION_BATCH = 5_000  # evaluation runs in large batches: one call per 5,000 images


@dataclass
class TrainingOutcome:
    """What a training produced; the run store writes it to disk."""

    model: keras.Model
    stopped: bool
    batch_history: pd.DataFrame  # columns BATCH_COLUMNS
    epoch_history: pd.DataFrame  # columns EPOCH_COLUMNS
    test_probabilities: np.ndarray  # (10000, 10) float32
    test_loss: float
    test_accuracy: float
    best_validation_accuracy: float | None
    train_seconds: float  # wall time of the batch loops (tracing included); evaluation and checkpoints excluded
    samples_seen: int
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def samples_per_second(self) -> float:
        return self.samples_seen / self.train_seconds if self.train_seconds > 0 else 0.0


def make_optimizer(config: RNNConfig) -> keras.optimizers.Optimizer:
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule = config.learning_rate
    if config.learning_rate_schedule == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(config.learning_rate, config.total_iterations)
    clip = {"global_clipnorm": config.gradient_clip_norm} if config.gradient_clip_norm > 0 else {}
    if config.optimizer == "adam":
        # TF1's AdamOptimizer used epsilon 1e-8 (Keras defaults to 1e-7).
        return keras.optimizers.Adam(learning_rate=learning_rate, beta_2=config.adam_beta_2, epsilon=1e-8, **clip)
    if config.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=learning_rate, **clip)
    return keras.optimizers.SGD(learning_rate=learning_rate, **clip)


def scale_pixels(pixels: tf.Tensor) -> tf.Tensor:
    """uint8 pixels -> float32 in [0, 1] inside a graph: the same values as core.data.mnist.to_float_images.

    A look-up of the 256 possible values, not a division: in a compiled graph TensorFlow rewrites
    x / 255 as x * (1 / 255), which is off by one float step for some pixels (measured).
    """
    values = tf.constant(to_float_images(np.arange(256, dtype=np.uint8)))  # (256,)
    return tf.gather(values, tf.cast(pixels, tf.int32))


class _CompiledSteps:
    """The model's training step and evaluation, each compiled once with tf.function."""

    def __init__(self, model: keras.Model, optimizer: keras.optimizers.Optimizer, train_size: int,
                 batch_size: int):
        self.model = model
        self.optimizer = optimizer
        self.batch_size = batch_size
        # The epoch's shuffled order is stored once per epoch and each step takes its own next batch
        # of indices, so a step is called with the same two tensors each time: no conversion from
        # Python per batch.
        self.order = tf.Variable(tf.zeros(train_size, tf.int32), trainable=False)  # (n,)
        self.position = tf.Variable(0, trainable=False)  # index into order of the next batch
        self.loss_function = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.fused = isinstance(model.get_layer("recurrent"), keras.layers.SimpleRNN)
        # The training set is an argument of the step, never a tensor the traced graph captures.
        # tf.custom_gradient (the fused step's backward pass) registers each traced backward
        # function in TensorFlow's process-wide gradient registry, which is never emptied; that
        # keeps the traced graph and everything it captures alive after training. A captured
        # training set stayed in the dashboard's server after every training (256 MB of
        # TensorFlow's allocator for the float32 copy of 55,000 images, measured).
        pixel_spec = tf.TensorSpec(shape=(None, IMAGE_SIZE, IMAGE_SIZE), dtype=tf.uint8)
        label_spec = tf.TensorSpec(shape=(None,), dtype=tf.int64)
        # autograph=False: both functions are plain graphs (Python branches on Python values only),
        # and autograph's conversion would ast.parse their source in the worker thread, which races
        # with Streamlit compiling a page in its script thread on Python 3.11 (see core/runs/job_queue.py).
        self.train_step = tf.function(self._train_step, input_signature=[pixel_spec, label_spec],
                                      autograph=False)
        image_spec = tf.TensorSpec(shape=(None, IMAGE_SIZE, IMAGE_SIZE), dtype=tf.float32)
        self.logits = tf.function(self._logits, input_signature=[image_spec], autograph=False)

    def start_epoch(self, order: np.ndarray) -> None:
        """order: (n,) int32, this epoch's permutation of the training images."""
        self.order.assign(order)
        self.position.assign(0)

    def _train_step(self, train_pixels: tf.Tensor, train_labels: tf.Tensor) -> None:
        """One batch, order[position : position + batch_size], of the whole training set:
        train_pixels (n, 28, 28) uint8 and train_labels (n,) int64."""
        start = self.position.read_value()
        batch_indices = self.order[start : start + self.batch_size]  # the last batch may be shorter
        self.position.assign_add(self.batch_size)
        images = scale_pixels(tf.gather(train_pixels, batch_indices))  # (batch, 28, 28) float32
        labels = tf.gather(train_labels, batch_indices)
        with tf.GradientTape() as tape:
            if self.fused:
                # The same logits and gradients as self.model(images), laid out to train faster.
                logits = fused_vanilla_logits(self.model, images, TRAINING_SHARDS)
            else:
                logits = self.model(images, training=True)
            loss = self.loss_function(labels, logits)
        variables = self.model.trainable_variables
        gradients = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(gradients, variables, strict=False))

    def _logits(self, images: tf.Tensor):
        return self.model(images, training=False)

    def predict(self, pixels: np.ndarray) -> np.ndarray:
        """pixels (n, 28, 28) uint8 -> logits (n, 10), in large batches."""
        parts = [self.logits(tf.constant(to_float_images(pixels[start : start + EVALUATION_BATCH]))).numpy()
                 for start in range(0, len(pixels), EVALUATION_BATCH)]
        return np.concatenate(parts)


def evaluate_logits(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Mean cross-entropy, accuracy and softmax probabilities (n, 10) from logits (n, 10)."""
    log_probabilities = log_softmax(logits)  # (n, 10) float64
    loss = float(-log_probabilities[np.arange(len(labels)), labels].mean())
    accuracy = float((logits.argmax(axis=1) == labels).mean())
    return loss, accuracy, np.exp(log_probabilities).astype(np.float32)


def train(config: RNNConfig, data: MnistSplit, run_id: str = "", on_event: EventCallback = ignore_event,
          should_stop: Callable[[], bool] = lambda: False,
          on_epoch_end: Callable[[keras.Model, pd.DataFrame, pd.DataFrame], None] | None = None,
          ) -> TrainingOutcome:
    """Train config's network on data, reporting through on_event; returns early if should_stop().

    on_epoch_end(model, batch_history, epoch_history) lets the caller checkpoint after each epoch.
    Runs fastest in a process that called core.process_settings.configure_process() before TensorFlow started.
    """
    started = time.perf_counter()
    keras.utils.set_random_seed(config.seed)
    model = build_model(config)
    optimizer = make_optimizer(config)
    # The training set as uint8 tensors, a quarter of float32's size; each step scales its batch.
    pixels, labels = data.train_pixels[: config.train_subset], data.train_labels[: config.train_subset]
    train_pixels, train_labels = tf.constant(pixels), tf.constant(labels)  # (n, 28, 28) uint8, (n,) int64
    train_size = len(labels)
    steps = _CompiledSteps(model, optimizer, train_size, config.batch_size)
    shuffler = np.random.default_rng(config.seed)
    # Trace the evaluation's compiled function now, not inside the timed loop at the first log line.
    steps.predict(pixels[:1])
    timings = {"build_seconds": time.perf_counter() - started}

    on_event(TrainingStarted(run_id, config.total_iterations, config.iterations_per_epoch, config.epochs,
                             train_size, len(data.validation_labels), len(data.test_labels)))
    batch_rows: list[tuple] = []
    epoch_rows: list[tuple] = []
    best_validation_accuracy: float | None = None
    best_weights = None
    iteration = 0
    samples_seen = 0
    train_seconds = 0.0
    stopped = False

    for epoch in range(1, config.epochs + 1):
        # Training time is wall time of the whole batch loop (shuffling, stop checks and events
        # included, the first epoch's tracing too); evaluation and checkpoints are left out.
        epoch_started = time.perf_counter()
        order = shuffler.permutation(train_size).astype(np.int32)
        steps.start_epoch(order)
        for epoch_iteration, start in enumerate(range(0, train_size, config.batch_size)):
            if should_stop():
                stopped = True
                break
            steps.train_step(train_pixels, train_labels)  # the batch order[start : start + batch_size]
            iteration += 1
            samples_seen += min(config.batch_size, train_size - start)
            if epoch_iteration % config.display_freq == 0:
                # The tutorial's schedule: iterations 0, display_freq, ... of each epoch, the batch's
                # loss and accuracy after its update. Only these iterations pay for a second forward
                # pass, through the evaluation's compiled function (traced once for both).
                batch = order[start : start + config.batch_size]
                loss, accuracy, _ = evaluate_logits(steps.predict(pixels[batch]), labels[batch])
                on_event(BatchLogged(epoch, iteration, loss, accuracy, epoch_iteration))
                batch_rows.append((epoch, iteration, loss, accuracy))
            if iteration % PROGRESS_EVERY == 0 or iteration == config.total_iterations:
                elapsed = train_seconds + time.perf_counter() - epoch_started
                on_event(Progress(epoch, iteration, config.total_iterations, elapsed,
                                  samples_seen / max(elapsed, 1e-9)))
        train_seconds += time.perf_counter() - epoch_started
        if stopped:
            break
        validation_started = time.perf_counter()
        validation_loss, validation_accuracy, _ = evaluate_logits(
            steps.predict(data.validation_pixels), data.validation_labels)
        on_event(Evaluated(len(data.validation_labels), time.perf_counter() - validation_started))
        learning_rate = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        epoch_rows.append((epoch, iteration, validation_loss, validation_accuracy, learning_rate,
                           time.perf_counter() - epoch_started))
        on_event(EpochEnded(*epoch_rows[-1]))
        if best_validation_accuracy is None or validation_accuracy > best_validation_accuracy:
            best_validation_accuracy = validation_accuracy
            if config.keep_best_weights:
                best_weights = model.get_weights()
        if on_epoch_end is not None:
            on_epoch_end(model, pd.DataFrame(batch_rows, columns=BATCH_COLUMNS),
                         pd.DataFrame(epoch_rows, columns=EPOCH_COLUMNS))

    if config.keep_best_weights and best_weights is not None and not stopped:
        model.set_weights(best_weights)
    evaluation_started = time.perf_counter()
    test_loss, test_accuracy, test_probabilities = evaluate_logits(
        steps.predict(data.test_pixels), data.test_labels)
    timings["test_seconds"] = time.perf_counter() - evaluation_started
    on_event(Evaluated(len(data.test_labels), timings["test_seconds"]))
    timings["total_seconds"] = time.perf_counter() - started
    return TrainingOutcome(
        model=model,
        stopped=stopped,
        batch_history=pd.DataFrame(batch_rows, columns=BATCH_COLUMNS),
        epoch_history=pd.DataFrame(epoch_rows, columns=EPOCH_COLUMNS),
        test_probabilities=test_probabilities,
        test_loss=test_loss,
        test_accuracy=test_accuracy,
        best_validation_accuracy=best_validation_accuracy,
        train_seconds=train_seconds,
        samples_seen=samples_seen,
        timings=timings,
    )
