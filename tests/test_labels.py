"""Tests for dashboard.labels: run labels, config summaries, durations and text echoed back to the user."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.config import PRESETS, RNNConfig
from core.runs.format import RunRecord
from dashboard.labels import (
    FIELD_LABELS,
    PICKER_LIMIT,
    describe,
    distinguishing_labels,
    duration,
    field_label,
    picker_labels,
    plain,
    run_label,
    run_not_found,
    run_title,
    short_descriptions,
    table_labels,
)


@pytest.mark.parametrize("hostile", ["[click me](//e.co)", "![](//e.co/a.png)", "<script>alert(1)</script>",
                                     "**bold** `code` :material/home:", "a\nb"])
def test_plain_escapes_every_markdown_punctuation(hostile):
    """Check every punctuation mark is escaped and newlines are folded, so markdown shows the text as typed."""
    escaped = plain(hostile)
    assert "\n" not in escaped
    unescaped = escaped.replace("\\", "")
    assert unescaped == " ".join(hostile.split())
    for position, character in enumerate(escaped):
        if character in "[]()!<>*`:" and (position == 0 or escaped[position - 1] != "\\"):
            pytest.fail(f"{character!r} at {position} of {escaped!r} is not escaped")


def test_plain_cuts_long_values():
    """Check a 10,000-character value is cut to the limit with an ellipsis."""
    assert plain("a" * 10_000, limit=20) == "a" * 19 + "…"


def _record(config: RNNConfig, run_id: str, status: str = "complete", accuracy: float | None = None,
            name: str | None = None) -> RunRecord:
    info = {"metrics": {"test_accuracy": accuracy}} if accuracy is not None else {}
    return RunRecord(run_id, Path(run_id), config, "mnist", status, info, name=name)


@pytest.mark.parametrize("config, text", [
    (PRESETS["tutorial"], "RNN, 128 units · adam at 0.001 · 10 epochs of 55,000 images, batch 100"),
    (PRESETS["tuned"], "RNN, 128 units · adam at 0.001 (cosine) · 10 epochs of 55,000 images, batch 32 · "
                       "beta 2 0.99 · clip 1 · readout init 0.1 · best-epoch weights"),
    (RNNConfig(cell="gru", optimizer="sgd", adam_beta_2=0.99, epochs=1, train_subset=2_000, seed=123_456),
     "GRU, 128 units · sgd at 0.001 · 1 epoch of 2,000 images, batch 100 · seed 123456"),
])
def test_describe_names_architecture_schedule_and_changes_from_the_tutorial(config, text):
    """Check one line gives the architecture and schedule, then only what differs from the tutorial
    (beta 2 only for Adam, which uses it)."""
    assert describe(config) == text


@pytest.mark.parametrize("seconds, text", [
    (-3, "0 s"), (0.4, "0 s"), (59.4, "59 s"), (60, "1 min 00 s"), (125, "2 min 05 s"), (3599, "59 min 59 s"),
    (3600, "1 h 00 min"), (7322, "2 h 02 min"),
])
def test_duration_reads_as_seconds_minutes_or_hours(seconds, text):
    """Check a time span is written with the units a person would use."""
    assert duration(seconds) == text


@pytest.mark.parametrize("name, value, text", [
    ("cell", "gru", "GRU"), ("hidden_units", 32, "32 units"), ("learning_rate", 0.003, "lr 0.003"),
    ("epochs", 1, "1 epoch"), ("epochs", 2, "2 epochs"), ("train_subset", 2_000, "2,000 images"),
    ("gradient_clip_norm", 0.0, "no clipping"), ("gradient_clip_norm", 2.5, "clip 2.5"),
    ("keep_best_weights", True, "best-epoch weights"), ("keep_best_weights", False, "last-epoch weights"),
    ("seed", 123_456, "seed 123456"), ("batch_size", np.int64(64), "batch 64"),
])
def test_field_label_reads_like_speech(name, value, text):
    """Check each hyperparameter is labelled the way a reader would say it."""
    assert field_label(name, value) == text


def test_field_label_knows_every_config_field_and_refuses_others():
    """Check every RNNConfig field has a wording, and an unknown name is refused, naming it."""
    assert set(FIELD_LABELS) == {field.name for field in fields(RNNConfig)}
    with pytest.raises(ValueError, match="'colour'"):
        field_label("colour", "red")


def test_distinguishing_labels_name_only_what_differs():
    """Check runs are labelled by the fields that differ among them, seed last, and nothing else."""
    base = RNNConfig(train_subset=2_000, epochs=1)
    configs = {"a" * 16: base.replace(learning_rate=0.003, seed=1), "b" * 16: base.replace(seed=2),
               "c" * 16: base.replace(learning_rate=0.003, seed=2)}
    assert distinguishing_labels(configs) == {"a" * 16: "lr 0.003 · seed 1", "b" * 16: "lr 0.001 · seed 2",
                                              "c" * 16: "lr 0.003 · seed 2"}


def test_distinguishing_labels_fall_back_to_the_run_id_when_configs_are_equal():
    """Check equal configs (runs on different data) and a lone run are told apart by the id prefix,
    and only runs whose differing fields collide get it."""
    base = RNNConfig()
    assert distinguishing_labels({"a" * 16: base}) == {"a" * 16: "run aaaaaaaa"}
    assert distinguishing_labels({"a" * 16: base, "b" * 16: base}) == {"a" * 16: "run aaaaaaaa",
                                                                       "b" * 16: "run bbbbbbbb"}
    labels = distinguishing_labels({"a" * 16: base, "b" * 16: base, "c" * 16: base.replace(seed=1)})
    assert labels == {"a" * 16: "seed 0 · run aaaaaaaa", "b" * 16: "seed 0 · run bbbbbbbb", "c" * 16: "seed 1"}


def test_distinguishing_labels_use_the_names_users_gave():
    """Check a run the user named is called by its name in a legend; the others by what differs."""
    configs = {"a" * 16: RNNConfig(seed=1), "b" * 16: RNNConfig(seed=2)}
    assert distinguishing_labels(configs, {"a" * 16: "baseline", "b" * 16: None}) == {"a" * 16: "baseline",
                                                                                     "b" * 16: "seed 2"}


SWEEP_TRIAL = RNNConfig(train_subset=500, epochs=2, hidden_units=8)
# The runs folder of issue 19's tour: the presets, an LSTM, sweep trials, subsets and hand-made runs.
CROWDED = {
    "tutorial": PRESETS["tutorial"], "tuned": PRESETS["tuned"], "tuned seed 1": PRESETS["tuned"].replace(seed=1),
    "lstm": PRESETS["tutorial"].replace(cell="lstm"),
    "quick gru": PRESETS["tutorial"].replace(cell="gru", train_subset=2_000, epochs=1),
    "trial 0.001/0": SWEEP_TRIAL, "trial 0.001/1": SWEEP_TRIAL.replace(seed=1),
    "trial 0.01/0": SWEEP_TRIAL.replace(learning_rate=0.01),
    "trial 0.01/1": SWEEP_TRIAL.replace(learning_rate=0.01, seed=1),
    "by hand": PRESETS["tutorial"].replace(learning_rate=0.003, batch_size=32, seed=5),
    "tuned, cosine off": PRESETS["tuned"].replace(learning_rate_schedule="constant", keep_best_weights=False,
                                                  gradient_clip_norm=0.0, output_init_stddev=0.01, seed=4),
}


def test_short_descriptions_tell_a_crowded_folder_apart_in_few_words():
    """Check presets are named, runs near a preset say how they differ from it, and the others (sweep
    trials) say only what tells them apart: every description is different and at most the limit."""
    descriptions = short_descriptions(CROWDED, limit=22)
    assert descriptions == {
        "tutorial": "Tutorial", "tuned": "Tuned", "tuned seed 1": "Tuned · seed 1", "lstm": "Tutorial · LSTM",
        "quick gru": "GRU", "trial 0.001/0": "lr 0.001 · seed 0", "trial 0.001/1": "lr 0.001 · seed 1",
        "trial 0.01/0": "lr 0.01 · seed 0", "trial 0.01/1": "lr 0.01 · seed 1", "by hand": "lr 0.003",
        "tuned, cosine off": "seed 4"}


def test_short_descriptions_of_equal_configs_end_with_the_id():
    """Check runs whose configs are equal (made from other data, say) get their id's first characters, and a
    lone run that is no preset is described by its cell, size and epochs."""
    assert short_descriptions({"a" * 16: RNNConfig(), "b" * 16: RNNConfig()}, limit=22) == {
        "a" * 16: "Tutorial · #aaaaaa", "b" * 16: "Tutorial · #bbbbbb"}
    lone = RNNConfig(learning_rate=0.003, batch_size=32, epochs=3, seed=9, hidden_units=64)
    assert short_descriptions({"c" * 16: lone}, limit=22) == {"c" * 16: "RNN 64 · 3 epochs"}


def test_picker_labels_fit_the_sidebar_and_name_runs_by_their_names():
    """Check picker labels read '<name or description> · <test accuracy>' (a stopped run says so instead),
    fit PICKER_LIMIT even with the longest name allowed, and are all different."""
    from core.runs.names import MAX_NAME_LENGTH

    records = [_record(config, f"{index:016x}", accuracy=0.9706) for index, config in enumerate(CROWDED.values())]
    records.append(_record(SWEEP_TRIAL.replace(seed=7), "f" * 16, status="stopped", accuracy=0.5))
    records.append(_record(SWEEP_TRIAL.replace(seed=8), "e" * 16, accuracy=1.0, name="n" * MAX_NAME_LENGTH))
    labels = picker_labels(records)
    assert labels["0" * 16] == "Tutorial · 97.06%" and labels["f" * 16] == "seed 7 · stopped"
    assert labels["e" * 16] == "n" * MAX_NAME_LENGTH + " · 100.00%"
    assert len(set(labels.values())) == len(records)
    assert max(len(label) for label in labels.values()) <= PICKER_LIMIT == 32
    assert run_label("c" * 16, "damaged") == f"damaged · {'c' * 16}"


def test_table_labels_label_listed_and_damaged_rows():
    """Check rows of a runs table get picker labels, by name where the row has one; a damaged row says so."""
    table = pd.DataFrame({"run_id": ["a" * 16, "b" * 16, "c" * 16, "d" * 16],
                          "name": [None, None, None, "mine"],
                          "status": ["complete", "interrupted", "damaged", "complete"],
                          "test_accuracy": [0.9, None, None, 0.8]})
    configs = {"a" * 16: RNNConfig(hidden_units=16), "b" * 16: RNNConfig(hidden_units=32),
               "d" * 16: RNNConfig(hidden_units=64)}
    # " · interrupted" leaves 18 characters for the descriptions: too few for "Tutorial · 16 units".
    assert table_labels(table, configs) == {"a" * 16: "16 units · 90.00%", "b" * 16: "32 units · interrupted",
                                            "c" * 16: f"damaged · {'c' * 16}", "d" * 16: "mine · 80.00%"}


def test_run_title_names_a_run_by_its_name_and_id_as_plain_text():
    """Check a header names a run by the user's name (markdown in it shown as typed) and its id."""
    assert run_title("a" * 16) == f"Run `{'a' * 16}`"
    assert run_title("a" * 16, "**lr** 0.1") == f"Run **\\*\\*lr\\*\\* 0\\.1** (`{'a' * 16}`)"


@pytest.mark.parametrize("value, shown, text", [
    ("0123456789abcdef", "fedcba9876543210",
     "Run 0123456789abcdef was not found (deleted, or never trained here); it was removed from the address. "
     "Showing run fedcba9876543210 instead."),
    ("[x](//e.co)", None,
     "The run in this link was not found: its ?run= value is not a run id (16 lowercase hexadecimal digits); it was "
     "removed from the address."),
])
def test_run_not_found_echoes_only_a_well_formed_id(value, shown, text):
    """Check the message names a well-formed id, never a malformed value (which may be hostile)."""
    assert run_not_found(value, shown) == text
