"""The Sweeps page's sidebar: build a sweep from Train's kind of widgets and see what it costs before launching.

The base config is a preset, the Train form's values or a sweep loaded with "Run again with
changes" (load_spec); one to three fields vary, each over values picked from the same log-spaced
choices Train's sliders offer; the seeds come last.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import streamlit as st

from core.config import CHOICES, NUMERIC_RANGES, PRESETS, RNNConfig
from core.sweeps.ray_connect import ADDRESS_HELP, ADDRESS_LABEL, check_address
from core.sweeps.spec import MAX_TRIALS, Axis, SweepSpec, default_cpus_per_trial, log_for_curves
from dashboard.labels import format_value, plain
from dashboard.train.form import (
    ADAM_BETA_2S,
    CLIP_NORMS,
    INIT_STDDEVS,
    LABELS,
    LEARNING_RATES,
    form_values,
    with_labels,
)
from dashboard.train.form import KEY as TRAIN_KEY

KEY = "sweeps_"  # prefix of every widget key of the Sweeps page
MAX_AXES = 3
MAX_SEEDS = 10
STARTS = {"Tutorial": "tutorial", "Tuned": "tuned", "Train form": None}  # None: the Train page's form values
LOADED = "Loaded sweep"  # a further start, offered once load_spec has put a sweep's own base in the form
LOADED_BASE = KEY + "loaded_base"  # that base, as RNNConfig.to_dict()
MAX_EPOCHS = 20  # the Epochs slider's end
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
    """The config a sweep starts from: a preset, a loaded sweep's base, or the Train form's values
    (the tutorial's until the Train page was opened). ValueError names a form field that is out of range."""
    if start == LOADED:
        return RNNConfig.from_dict(st.session_state[LOADED_BASE])
    preset = STARTS[start]
    if preset is not None:
        return PRESETS[preset]
    if TRAIN_KEY + "seed" not in st.session_state:
        return PRESETS["tutorial"]
    return RNNConfig(**form_values())


def form_spec(start_config: RNNConfig, train_subset: int, epochs: int, values: dict[str, list], seed_count: int,
              cpus: int) -> SweepSpec:
    """The spec the form's values describe: start_config with the form's images and epochs, its
    varied fields' values in order, seeds from the base's seed on. ValueError names what is wrong."""
    axes = tuple(Axis(name, values=tuple(sorted(picked, key=str if name in CHOICES else None)))
                 for name, picked in values.items())
    base = log_for_curves(start_config.replace(train_subset=int(train_subset), epochs=int(epochs)), axes)
    return SweepSpec(base=base, axes=axes, seeds=tuple(range(base.seed, base.seed + int(seed_count))),
                     cpus_per_trial=int(cpus))


def load_spec(spec: SweepSpec, address: str | None) -> tuple[bool, list[str]]:
    """Put spec into the form's widgets (before they are drawn: a button's callback), to run it again
    with changes. Returns (whether it was loaded, what the form cannot hold exactly); when it cannot
    hold the sweep at all (a field it does not offer, too many epochs, axes or seeds), it changes
    nothing and says why."""
    refused = [f"it varies {LABELS.get(axis.name, axis.name)}, which the form does not offer"
               for axis in spec.axes if axis.name not in VALUE_CHOICES]
    if len(spec.axes) > MAX_AXES:
        refused.append(f"it varies {len(spec.axes)} fields; the form varies up to {MAX_AXES}")
    if spec.base.epochs > MAX_EPOCHS:
        refused.append(f"it trains {spec.base.epochs} epochs; the form goes up to {MAX_EPOCHS}")
    if len(spec.seeds) > MAX_SEEDS:
        refused.append(f"it has {len(spec.seeds)} seeds; the form takes up to {MAX_SEEDS}")
    if refused:
        return False, ["The form cannot hold this sweep: " + "; ".join(refused) + "."]
    values = {axis.name: list(axis.expand()) for axis in spec.axes}
    cpus = min(spec.cpus_per_trial, os.cpu_count() or 1)
    size = {"train_subset": spec.base.train_subset, "epochs": spec.base.epochs}
    start, start_config = LOADED, spec.base.replace(seed=spec.seeds[0])
    for name, preset in STARTS.items():  # a preset's name, when the form would rebuild the same base from it
        try:
            same = preset is not None and form_spec(PRESETS[preset], **size, values=values,
                                                    seed_count=len(spec.seeds), cpus=cpus).base == spec.base
        except ValueError:  # the preset's other fields do not fit these values
            same = False
        if same:
            start, start_config = name, PRESETS[preset]
            break
    if start == LOADED:
        st.session_state[LOADED_BASE] = start_config.to_dict()
    st.session_state.update({KEY + "start": start, KEY + "train_subset": spec.base.train_subset,
                             KEY + "epochs": spec.base.epochs, KEY + "vary": list(values),
                             KEY + "seeds": len(spec.seeds), KEY + "cpus": cpus, KEY + "address": address or "",
                             **{f"{KEY}values_{name}": picked for name, picked in values.items()}})
    notes = []
    if form_spec(start_config, **size, values=values, seed_count=len(spec.seeds), cpus=cpus) != spec:
        if cpus != spec.cpus_per_trial:
            notes.append(f"CPUs per trial is {cpus}, this machine's count, not {spec.cpus_per_trial}")
        if spec.seeds != tuple(range(spec.seeds[0], spec.seeds[0] + len(spec.seeds))):
            notes.append(f"the seeds are {spec.seeds[0]} to {spec.seeds[0] + len(spec.seeds) - 1}, "
                         f"not {', '.join(map(str, spec.seeds))}")
        notes.append("the form's sweep is not the same sweep: Start makes a new one")
    return True, notes


def _values_ui(name: str) -> list:
    st.session_state.setdefault(f"{KEY}values_{name}", FIRST_VALUES[name])
    # A loaded sweep's values are offered too, when they are not among the usual choices.
    choices = sorted(set(VALUE_CHOICES[name]) | set(st.session_state[f"{KEY}values_{name}"]),
                     key=str if name in CHOICES else None)
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
        starts = [*STARTS, LOADED] if LOADED_BASE in st.session_state else list(STARTS)
        start = st.segmented_control("Start from", starts, key=KEY + "start", **KEEP,
                                     help="The values of every field you do not vary") or "Tutorial"
        train_subset = st.number_input(LABELS["train_subset"], min_value=int(NUMERIC_RANGES["train_subset"][0]),
                                       max_value=55_000, step=1_000, key=KEY + "train_subset", **KEEP,
                                       help="Fewer images make every trial quicker")
        epochs = st.slider(LABELS["epochs"], 1, MAX_EPOCHS, key=KEY + "epochs", **KEEP)
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
            address = st.text_input(ADDRESS_LABEL, key=KEY + "address", **KEEP, placeholder="a new local Ray instance",
                                    help=ADDRESS_HELP)
    if not varied:
        return SweepRequest(None, "Pick at least one hyperparameter to vary.", None)
    empty = [LABELS[name] for name, picked in values.items() if not picked]
    if empty:
        return SweepRequest(None, f"Pick at least one value of {', '.join(empty)}.", None)
    try:
        spec = form_spec(base_config(start), train_subset, epochs, values, seed_count, cpus)
        spec.expand(MAX_TRIALS)
    except ValueError as error:
        return SweepRequest(None, with_labels(str(error)).replace("(raise the cap with --max-trials)",
                                                                 "— pick fewer values or seeds"), None)
    try:
        address = check_address(address)
    except ValueError as error:
        return SweepRequest(None, plain(error, 400), None)  # the address as typed, shown literally
    return SweepRequest(spec, None, address)
