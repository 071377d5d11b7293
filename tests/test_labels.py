"""Tests for dashboard.labels: run labels, config summaries, durations and text echoed back to the user."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.config import PRESETS, RNNConfig
from core.run_format import RunRecord
from dashboard.labels import (FIELD_LABELS, describe, distinguishing_labels, duration, field_label, picker_label,
                              picker_labels, plain, run_label, run_not_found, table_labels)


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


def _record(config: RNNConfig, run_id: str, status: str = "complete", accuracy: float | None = None) -> RunRecord:
    info = {"metrics": {"test_accuracy": accuracy}} if accuracy is not None else {}
    return RunRecord(run_id, Path(run_id), config, "mnist", status, info)


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


def test_picker_labels_put_what_differs_first():
    """Check picker labels lead with what sets each run apart, then accuracy, status and the full id;
    with nothing to set it apart, the architecture and epochs."""
    runs = [_record(RNNConfig(seed=1), "a" * 16, accuracy=0.9512),
            _record(RNNConfig(seed=2), "b" * 16, status="stopped", accuracy=0.5)]
    assert picker_labels(runs) == {"a" * 16: f"seed 1 · 95.12% · {'a' * 16}",
                                   "b" * 16: f"seed 2 · 50.00% · stopped · {'b' * 16}"}
    assert picker_label(runs[0]) == f"RNN 128 · 10 epochs · 95.12% · {'a' * 16}"
    assert run_label("c" * 16, "damaged") == f"damaged · {'c' * 16}"


def test_table_labels_label_listed_and_damaged_rows():
    """Check rows of a runs table get picker labels led by what differs; a damaged row says so."""
    table = pd.DataFrame({"run_id": ["a" * 16, "b" * 16, "c" * 16], "status": ["complete", "interrupted", "damaged"],
                          "test_accuracy": [0.9, None, None]})
    configs = {"a" * 16: RNNConfig(hidden_units=16), "b" * 16: RNNConfig(hidden_units=32)}
    assert table_labels(table, configs) == {"a" * 16: f"16 units · 90.00% · {'a' * 16}",
                                            "b" * 16: f"32 units · interrupted · {'b' * 16}",
                                            "c" * 16: f"damaged · {'c' * 16}"}


@pytest.mark.parametrize("value, shown, text", [
    ("0123456789abcdef", "fedcba9876543210",
     "Run 0123456789abcdef was not found (deleted, or never trained here); it was removed from the address. "
     "Showing run fedcba9876543210 instead."),
    ("[x](//e.co)", None,
     "The run in this link was not found (deleted, or never trained here); it was removed from the address."),
])
def test_run_not_found_echoes_only_a_well_formed_id(value, shown, text):
    """Check the message names a well-formed id, never a malformed value (which may be hostile)."""
    assert run_not_found(value, shown) == text
