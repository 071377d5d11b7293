"""The Train page's sidebar form: presets and a widget for every hyperparameter of RNNConfig.

Each widget's session-state key is KEY + the config field's name, so a config goes into the form
with apply_config and comes out with form_values.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import streamlit as st

from core.config import CHOICES, NUMERIC_RANGES, PRESETS, RNNConfig

KEY = "train_"  # prefix of every widget and session-state key of the Train page
FORM_ERROR = KEY + "form_error"
# Boxes of whole numbers are float boxes showing no decimals: the browser reads what is typed in an
# int box with parseInt, so "1e9" became 1 without a word; a float box reads it as 1e9, which
# RNNConfig then refuses as out of range, naming the field.
WHOLE_NUMBER_BOXES = ("train_subset", "seed", "batch_size")

# The form's label of every RNNConfig field, so a message about a value names what the user sees.
LABELS = {
    "train_subset": "Training images", "seed": "Seed", "cell": "Cell", "hidden_units": "Hidden units",
    "output_init_stddev": "Readout init stddev", "optimizer": "Optimizer", "adam_beta_2": "Adam beta 2",
    "learning_rate": "Learning rate", "learning_rate_schedule": "Learning-rate schedule", "epochs": "Epochs",
    "batch_size": "Batch size", "display_freq": "Log every (iterations)",
    "gradient_clip_norm": "Gradient clip (global norm)", "keep_best_weights": "Keep best weights",
}


# ---------------------------------------------------------------------------------------------
# Widget choices: log-spaced values for the rates, 1-2-5 steps for counts that span decades


def _decades(low: float, high: float, mantissas: tuple[int, ...], kind: type) -> list:
    """mantissa x 10^exponent for every exponent, kept within [low, high]: 1, 2, 5, 10, 20, 50, ..."""
    values = {kind(float(f"{mantissa}e{exponent}")) for exponent in range(-6, 6) for mantissa in mantissas}
    return sorted(value for value in values if low <= value <= high)


def _with_presets(name: str, values: list) -> list:
    return sorted(set(values) | {getattr(preset, name) for preset in PRESETS.values()})


LEARNING_RATES = _with_presets("learning_rate", _decades(*NUMERIC_RANGES["learning_rate"], (1, 2, 3, 5), float))
INIT_STDDEVS = _with_presets("output_init_stddev",
                             _decades(*NUMERIC_RANGES["output_init_stddev"], (1, 2, 5), float))
DISPLAY_FREQUENCIES = _with_presets("display_freq", _decades(*NUMERIC_RANGES["display_freq"], (1, 2, 5), int))
CLIP_NORMS = _with_presets("gradient_clip_norm",
                           [0.0] + _decades(*NUMERIC_RANGES["gradient_clip_norm"], (1, 2, 5), float)[1:])
# Adam's beta_2 as its memory: 1 - beta_2 of 0.1, 0.05, 0.02, 0.01, ..., 0.0001.
ADAM_BETA_2S = _with_presets("adam_beta_2", [0.9, 0.95, 0.98, 0.99, 0.995, 0.998, 0.999, 0.9995, 0.9999])


def _range(name: str) -> tuple[int, int]:
    low, high = NUMERIC_RANGES[name]
    return int(low), int(high)


def _span(name: str) -> str:
    low, high = _range(name)
    return f"{low:,} to {high:,}"


def with_labels(message: str) -> str:
    """A config error as the form shows it: 'seed=-5 is out of range' becomes 'Seed -5 is out of range'."""
    return re.sub(r"\b([a-z_0-9]+)=", lambda match: f"**{LABELS[match[1]]}** " if match[1] in LABELS
                  else match[0], message)


def apply_config(config: RNNConfig) -> None:
    """Widget callback: put a config's values into every form widget."""
    for field_name, value in config.to_dict().items():
        st.session_state[KEY + field_name] = value
    st.session_state.pop(FORM_ERROR, None)


def apply_preset(name: str) -> None:
    apply_config(PRESETS[name])


def _rate(value: float) -> str:
    return f"{value:g}"


# ---------------------------------------------------------------------------------------------
# Sidebar: the form


def config_form_ui(on_train: Callable[[], None], on_stop: Callable[[], None], stop_enabled: bool,
                   stop_help: str | None = None) -> None:
    """Preset buttons, then a form: Train and Stop on top, a widget for every RNNConfig field below.

    on_train and on_stop are the buttons' callbacks; they run before the page is drawn. The number
    fields take any whole number: a value out of range reaches on_train, which refuses it with a
    message (a field with bounds would keep its last valid value and train that, silently).
    """
    for field_name, value in PRESETS["tutorial"].to_dict().items():
        st.session_state.setdefault(KEY + field_name, value)
    keep = {"persist_state": "session"}  # the form keeps its values while the user visits other pages

    st.sidebar.header("Hyperparameters")
    st.sidebar.caption("Start from a preset, adjust, then press **Train**.")
    tutorial_column, tuned_column = st.sidebar.columns(2)
    tutorial_column.button("Tutorial", key=KEY + "preset_tutorial", on_click=apply_preset, args=("tutorial",),
                           width="stretch", icon=":material/restart_alt:",
                           help="Reset every value to the Easy-TensorFlow tutorial's defaults")
    tuned_column.button("Tuned", key=KEY + "preset_tuned", on_click=apply_preset, args=("tuned",),
                        width="stretch", icon=":material/tune:",
                        help="The same vanilla RNN with batch 32, a cosine schedule, clipping, a wider readout init, "
                             "Adam beta 2 0.99 and best-epoch weights")

    with st.sidebar.form(KEY + "form", border=False):
        train_column, stop_column = st.columns(2)
        # At the top, so Stop is in reach while the page scrolls. Callbacks run before the page is
        # drawn, so the page below already shows the new job.
        train_column.form_submit_button("Train", type="primary", icon=":material/play_arrow:", width="stretch",
                                        on_click=on_train)
        stop_column.form_submit_button("Stop", icon=":material/stop:", width="stretch", on_click=on_stop,
                                       disabled=not stop_enabled, help=stop_help)
        st.subheader("Data")
        st.number_input(LABELS["train_subset"], step=1_000.0, format="%.0f", key=KEY + "train_subset",
                        help=f"The first N of the 55,000 training images ({_span('train_subset')}); fewer for a "
                             "quick look", **keep)
        st.number_input(LABELS["seed"], step=1.0, format="%.0f", key=KEY + "seed",
                        help=f"Seeds the weights, the shuffling and everything else random ({_span('seed')})",
                        **keep)

        st.subheader("Model")
        st.selectbox(LABELS["cell"], CHOICES["cell"], key=KEY + "cell", format_func=str.upper,
                     help="RNN is the tutorial's vanilla tanh cell; LSTM and GRU for comparison", **keep)
        st.slider(LABELS["hidden_units"], *_range("hidden_units"), step=4, key=KEY + "hidden_units", **keep)
        st.select_slider(LABELS["output_init_stddev"], INIT_STDDEVS, key=KEY + "output_init_stddev",
                         format_func=_rate, help="Truncated-normal stddev of the 10-way readout weights (log scale)",
                         **keep)

        st.subheader("Training")
        st.selectbox(LABELS["optimizer"], CHOICES["optimizer"], key=KEY + "optimizer", **keep)
        st.select_slider(LABELS["adam_beta_2"], ADAM_BETA_2S, key=KEY + "adam_beta_2", format_func="{:g}".format,
                         help="How slowly Adam's average of squared gradients forgets (TF1's default 0.999); "
                              "only the adam optimizer uses it", **keep)
        st.select_slider(LABELS["learning_rate"], LEARNING_RATES, key=KEY + "learning_rate", format_func=_rate,
                         help="Log scale. With the cosine schedule this is the peak rate", **keep)
        st.selectbox(LABELS["learning_rate_schedule"], CHOICES["learning_rate_schedule"],
                     key=KEY + "learning_rate_schedule", help="Cosine decays to 0 over all iterations", **keep)
        st.slider(LABELS["epochs"], *_range("epochs"), key=KEY + "epochs", **keep)
        st.number_input(LABELS["batch_size"], step=1.0, format="%.0f", key=KEY + "batch_size",
                        help=f"Images per training step ({_span('batch_size')}); the tutorial's is 100", **keep)
        st.select_slider(LABELS["display_freq"], DISPLAY_FREQUENCIES, key=KEY + "display_freq",
                         help="Batch loss and accuracy are recorded every this many iterations", **keep)
        st.select_slider(LABELS["gradient_clip_norm"], CLIP_NORMS, key=KEY + "gradient_clip_norm",
                         format_func=lambda value: "off" if value == 0 else _rate(value), **keep)
        st.toggle(LABELS["keep_best_weights"], key=KEY + "keep_best_weights",
                  help="End with the weights of the epoch with the best validation accuracy", **keep)


def form_values() -> dict:
    """The form's values as RNNConfig's fields. The boxes of whole numbers take any number (see
    WHOLE_NUMBER_BOXES): a whole one comes back as an int; anything else is left for RNNConfig to refuse."""
    values = {field_name: st.session_state[KEY + field_name] for field_name in PRESETS["tutorial"].to_dict()}
    for name in WHOLE_NUMBER_BOXES:
        if isinstance(values[name], float) and values[name].is_integer():
            values[name] = int(values[name])
    return values
