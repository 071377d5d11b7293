"""Tests for core.runs.compare: which hyperparameters differ among runs, and their curves in one table."""

from __future__ import annotations

import shutil
from dataclasses import fields

import pandas as pd
import pytest

from core.config import RNNConfig
from core.runs.compare import (
    EPOCH_CURVE_COLUMNS,
    FIELD_ORDER,
    best_of_other_cells,
    differing_fields,
    epoch_histories,
    stack_histories,
    table_configs,
)
from core.runs.format import EPOCH_HISTORY_FILE, RunRecord, RunStatus
from core.runs.store import RunStore


def test_field_order_holds_every_config_field_once_seed_last():
    """Check FIELD_ORDER is a permutation of RNNConfig's fields with the seed last."""
    assert sorted(FIELD_ORDER) == sorted(field.name for field in fields(RNNConfig))
    assert FIELD_ORDER[-1] == "seed"


@pytest.mark.parametrize("changes, expected", [
    ([{}, {}], []),
    ([{"seed": 1}, {"seed": 2}], ["seed"]),
    ([{"seed": 1, "learning_rate": 0.003}, {"seed": 2}, {"seed": 1}], ["learning_rate", "seed"]),
    ([{"cell": "gru", "epochs": 2}, {"keep_best_weights": True}], ["cell", "epochs", "keep_best_weights"]),
])
def test_differing_fields_lists_fields_not_equal_everywhere(changes, expected):
    """Check the fields named are exactly those whose value differs in some config, in FIELD_ORDER."""
    assert differing_fields([RNNConfig().replace(**change) for change in changes]) == expected


def test_differing_fields_of_one_or_no_config_is_empty():
    """Check a single run (or none) has nothing that differs."""
    assert differing_fields([RNNConfig(seed=5)]) == [] and differing_fields([]) == []


def test_table_configs_reads_back_each_runs_config(tiny_run, tmp_path):
    """Check the configs read from the runs table equal the runs' own, also beside a damaged row (which
    leaves whole-number columns whole numbers), and damaged rows are left out."""
    _, record = tiny_run
    shutil.copytree(record.run_dir, tmp_path / record.run_id)
    (tmp_path / "0123456789abcdef").mkdir()  # damaged: no config at all
    table = RunStore(tmp_path).runs_table()
    assert str(table["hidden_units"].dtype) == "Int64" and str(table["keep_best_weights"].dtype) == "boolean"
    configs = table_configs(table)
    assert configs == {record.run_id: record.config}
    assert type(configs[record.run_id].hidden_units) is int


def test_epoch_histories_leave_out_runs_without_one(tiny_run, tmp_path):
    """Check a run's epoch history is read as saved, and a run with none is left out, not fatal."""
    store, record = tiny_run
    shutil.copytree(record.run_dir, tmp_path / record.run_id)
    without = "0123456789abcdef"
    (tmp_path / without).mkdir()
    histories = epoch_histories(RunStore(tmp_path), [record.run_id, without])
    assert list(histories) == [record.run_id]
    pd.testing.assert_frame_equal(histories[record.run_id], pd.read_csv(record.run_dir / EPOCH_HISTORY_FILE))


def _history(accuracies: list[float]) -> pd.DataFrame:
    epochs = list(range(1, len(accuracies) + 1))
    return pd.DataFrame({"epoch": epochs, "iteration": [20 * epoch for epoch in epochs],
                         "validation_loss": [1 - accuracy for accuracy in accuracies],
                         "validation_accuracy": accuracies})


def test_stack_histories_gives_one_row_per_run_and_epoch_with_the_runs_values():
    """Check the stacked table keeps each run's rows in order, tagged with its id and its values."""
    stacked = stack_histories({"a" * 16: _history([0.5, 0.7]), "b" * 16: _history([0.6]), "c" * 16: _history([])},
                              seed={"a" * 16: 1, "b" * 16: 2, "c" * 16: 3})
    assert list(stacked.columns) == EPOCH_CURVE_COLUMNS + ["seed"]
    assert stacked["run_id"].tolist() == ["a" * 16, "a" * 16, "b" * 16]
    assert stacked["epoch"].tolist() == [1, 2, 1]
    assert stacked["validation_accuracy"].tolist() == [0.5, 0.7, 0.6]
    assert stacked["seed"].tolist() == [1, 1, 2]


def test_stack_histories_of_nothing_has_the_columns():
    """Check an empty stack still has every column, so a figure can name what is missing."""
    stacked = stack_histories({}, cell={})
    assert stacked.empty and list(stacked.columns) == EPOCH_CURVE_COLUMNS + ["cell"]


def _record(name: str, cell: str, accuracy: float | None, status: str = RunStatus.COMPLETE, subset: int = 55_000,
            data: str = "mnist", day: int = 1) -> RunRecord:
    return RunRecord(run_id=name, run_dir=None, config=RNNConfig(cell=cell, train_subset=subset), data_identity=data,
                     status=status, info={"started_at": f"2025-01-{day:02d}T00:00:00",
                                          "metrics": {"test_accuracy": accuracy}})


def test_best_of_other_cells_picks_a_complete_full_run_with_the_best_accuracy():
    """Check each other cell is represented by its complete run on the same data, full training set
    first, then by test accuracy, then the newest; never a newer but worse, partial or stopped run."""
    current = _record("lstm", "lstm", 0.98)
    records = [
        _record("rnn-trial", "rnn", 0.58, day=9),  # the newest RNN: a weak sweep trial
        _record("rnn-best", "rnn", 0.9706, day=2),
        _record("rnn-subset", "rnn", 0.99, subset=5_000, day=3),  # better, but on a tenth of the data
        _record("rnn-stopped", "rnn", 0.995, status=RunStatus.STOPPED, day=4),
        _record("rnn-other-data", "rnn", 0.999, data="fashion", day=5),
        _record("gru-failed", "gru", None, status=RunStatus.FAILED, day=8),
        _record("gru-old", "gru", 0.97, day=1),
        _record("gru-tie", "gru", 0.97, day=6),  # as good, newer
        _record("lstm-other", "lstm", 0.99),  # current's own cell: never
    ]
    assert [record.run_id for record in best_of_other_cells(current, records)] == ["rnn-best", "gru-tie"]
    subsets_only = [_record("rnn-small", "rnn", 0.9, subset=5_000), _record("rnn-smaller", "rnn", 0.8, subset=1_000)]
    assert [record.run_id for record in best_of_other_cells(current, subsets_only)] == ["rnn-small"]
    assert best_of_other_cells(current, [current]) == []
