"""The Sweeps page's sidebar: build a sweep from Train's kind of widgets and see what it costs before launching.

The base config is a preset or the Train form's values; one to three fields vary, each over
values picked from the same log-spaced choices Train's sliders offer; the seeds come last.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import streamlit as st

from core.config import CHOICES, NUMERIC_RANGES, PRESETS, RNNConfig
from core.sweep_spec import MAX_TRIALS, Axis, SweepSpec, default_cpus_per_trial
from dashboard.labels import format_value
from dashboard.train_form import (ADAM_BETA_2S, CLIP_NORMS, INIT_STDDEVS, KEY as TRAIN_KEY, LABELS, LEARNING_RATES,
                                  form_values, with_labels)

KEY = "sweeps_"  # prefix of every widget key of the Sweeps page
MAX_AXES = 3
MAX_SEEDS = 10
STARTS = {"Tutorial": "tutorial", "Tuned": "tuned", "Train form": None}  # None: the Train page's form values
# The values offered per varied field (Train's choices where it has them) and those picked at first.
VALUE_CHOICES = {
    "learning_rate": LEARNING_RATES, "hidden_units": [4, 8, 16, 32, 64, 128, 256, 512],
    "cell": list(CHOICES["cell"]), "optimizer": list(CHOICES["optimizer"]),
    "learning_rate_schedule": list(CHOICES["learning_rate_schedule"]),
    "batch_size": [16, 32, 50, 64, 100, 128, 200, 256, 500, 1_000], "epochs": [1, 2, 3, 5, 10, 20, 50, 100],
    "train_subset": [1_000, 2_000, 5_000, 10_000, 20_000, 55_000], "gradient_clip_norm": CLIP_NORMS,
    "output_init_stddev": INIT_STDDEVS, "adam_beta_2": ADAM_BETA_2S, "keep_best_weights": [False, True],
}
FIRST_VALUES = {
    "learning_rate": [0.0003, 0.001, 0.003], "hidden_units": [32, 64, 128], "cell": ["rnn", "lstm", "gru"],
    "optimizer": ["adam", "sgd", "rmsprop"], "learning_rate_schedule": ["constant", "cosine"],
    "batch_size": [32, 100], "epochs": [1, 2, 5], "train_subset": [2_000, 10_000], "gradient_clip_norm": [0.0, 1.0],
    "output_init_stddev": [0.01, 0.1], "adam_beta_2": [0.99, 0.999], "keep_best_weights": [False, True],
}

# The sidebar's first values: a quick sweep of the learning rate (a sweep trains many runs: start small).
KEEP = {"persist_state": "session"}  # the sidebar keeps its values while the user visits other pages
FIRST_CHOICES = {"start": "Tutorial", "train_subset": 10_000, "epochs": 2, "vary": ["learning_rate"], "seeds": 2,
                 "cpus": default_cpus_per_trial(), "address": ""}


@dataclass(frozen=True)
class SweepRequest:
    """What the sidebar asks for: a valid spec, or the message saying what is wrong with it."""

    spec: SweepSpec | None
    error: str | None
    address: str | None


def base_config(start: str) -> RNNConfig:
    """The config a sweep starts from: a preset, or the Train form's values (the tutorial's until
    the Train page was opened). ValueError names a form field that is out of range."""
    preset = STARTS[start]
    if preset is not None:
        return PRESETS[preset]
    if TRAIN_KEY + "seed" not in st.session_state:
        return PRESETS["tutorial"]
    return RNNConfig(**form_values())


def _values_ui(name: str) -> list:
    choices = VALUE_CHOICES[name]
    st.session_state.setdefault(f"{KEY}values_{name}", FIRST_VALUES[name])
    return st.multiselect(f"{LABELS[name]} values", choices, key=f"{KEY}values_{name}", **KEEP,
                          format_func=lambda value: format_value(value) if name != "gradient_clip_norm" or value
                          else "off", help="Log-spaced choices" if name == "learning_rate" else None)


def sweep_form_ui() -> SweepRequest:
    """The sidebar's widgets, top to bottom; returns the spec they describe, or why there is none."""
    st.sidebar.header("New sweep")
    st.sidebar.caption("Every combination of the values you pick, once per seed. Each trial is an ordinary run: "
                       "one trained before is not trained again.")
    for name, value in FIRST_CHOICES.items():  # set here, not as defaults: tests and links may set them first
        st.session_state.setdefault(KEY + name, value)
    with st.sidebar:
        start = st.segmented_control("Start from", list(STARTS), key=KEY + "start", **KEEP,
                                     help="The values of every field you do not vary") or "Tutorial"
        train_subset = st.number_input(LABELS["train_subset"], min_value=int(NUMERIC_RANGES["train_subset"][0]),
                                       max_value=55_000, step=1_000, key=KEY + "train_subset", **KEEP,
                                       help="Fewer images make every trial quicker")
        epochs = st.slider(LABELS["epochs"], 1, 20, key=KEY + "epochs", **KEEP)
        varied = st.multiselect("Vary", list(VALUE_CHOICES), max_selections=MAX_AXES, format_func=LABELS.get,
                                key=KEY + "vary", **KEEP, help=f"One to {MAX_AXES} hyperparameters")
        values = {name: _values_ui(name) for name in varied}
        seed_count = st.number_input("Seeds per configuration", min_value=1, max_value=MAX_SEEDS,
                                     key=KEY + "seeds", **KEEP,
                                     help="Seeds 0, 1, ...: the spread over seeds shows what is noise")
        with st.expander("Where to run"):
            cpus = st.number_input("CPUs per trial", min_value=1, max_value=os.cpu_count() or 1,
                                   key=KEY + "cpus", **KEEP,
                                   help="Ray runs as many trials side by side as CPUs allow")
            address = st.text_input("Ray address", key=KEY + "address", **KEEP,
                                    placeholder="a new local Ray instance",
                                    help="Empty: Ray on this machine. HEAD:6379 joins a cluster; "
                                         "http://HEAD:8265 submits to its Jobs API (untested)").strip()
    if not varied:
        return SweepRequest(None, "Pick at least one hyperparameter to vary.", None)
    empty = [LABELS[name] for name, picked in values.items() if not picked]
    if empty:
        return SweepRequest(None, f"Pick at least one value of {', '.join(empty)}.", None)
    try:
        base = base_config(start).replace(train_subset=int(train_subset), epochs=int(epochs))
        axes = tuple(Axis(name, values=tuple(sorted(picked, key=str if name in CHOICES else None)))
                     for name, picked in values.items())
        spec = SweepSpec(base=base, axes=axes, seeds=tuple(range(base.seed, base.seed + int(seed_count))),
                         cpus_per_trial=int(cpus))
        spec.expand(MAX_TRIALS)
    except ValueError as error:
        return SweepRequest(None, with_labels(str(error)).replace("(raise the cap with --max-trials)",
                                                                 "— pick fewer values or seeds"), None)
    return SweepRequest(spec, None, address or None)
