"""Comparing runs: which hyperparameters differ among them, their validation curves in one table,
and which runs of the other cells to set beside one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields

import pandas as pd

from core.config import NUMERIC_RANGES, RNNConfig
from core.runs.format import RunError, RunRecord, RunStatus
from core.runs.store import RunStore

# Every RNNConfig field, most telling first. The seed comes last: runs that differ in something
# else as well are usually compared for that, and the seed is then the noise.
FIELD_ORDER = ("cell", "hidden_units", "optimizer", "learning_rate", "learning_rate_schedule", "epochs",
               "batch_size", "train_subset", "gradient_clip_norm", "keep_best_weights", "output_init_stddev",
               "adam_beta_2", "display_freq", "seed")
EPOCH_CURVE_COLUMNS = ["run_id", "epoch", "iteration", "validation_loss", "validation_accuracy"]


def differing_fields(configs: Iterable[RNNConfig]) -> list[str]:
    """Names of the fields whose value is not the same in every config, in FIELD_ORDER."""
    configs = list(configs)
    return [name for name in FIELD_ORDER if len({getattr(config, name) for config in configs}) > 1]


def best_of_other_cells(current: RunRecord, records: Iterable[RunRecord]) -> list[RunRecord]:
    """For each cell other than current's, the run of it that compares best with current: complete, on
    the same data (data identity), trained on the full training set if any such run is, then the
    highest test accuracy, then the newest (records in any order). Cells in the order first met.

    A half-trained sweep trial or a quick look on a subset would otherwise stand for its cell."""
    full = NUMERIC_RANGES["train_subset"][1]
    best: dict[str, RunRecord] = {}
    for record in records:
        cell = record.config.cell
        accuracy = record.metric("test_accuracy")
        if (cell == current.config.cell or record.status != RunStatus.COMPLETE or accuracy is None
                or record.data_identity != current.data_identity):
            continue
        key = (record.config.train_subset >= full, accuracy, record.started_at)
        if cell not in best or key > (best[cell].config.train_subset >= full, best[cell].metric("test_accuracy"),
                                      best[cell].started_at):
            best[cell] = record
    return list(best.values())


def table_configs(table: pd.DataFrame) -> dict[str, RNNConfig]:
    """{run id: config} of the rows of RunStore.runs_table() that are not damaged.

    The table holds each run's config as one column per field, in pandas' types (Int64, boolean,
    float64, numpy scalars when read); each value is cast back to its field's Python type.
    """
    types = {field.name: type(field.default) for field in fields(RNNConfig)}
    configs = {}
    for row in table[table["status"] != RunStatus.DAMAGED].to_dict("records"):
        configs[row["run_id"]] = RNNConfig(**{name: kind(row[name]) for name, kind in types.items()})
    return configs


def epoch_histories(store: RunStore, run_ids: Sequence[str]) -> dict[str, pd.DataFrame]:
    """{run id: epoch history} of the runs that have one; a run with no finished epoch yet (stopped
    in its first) or an unreadable history is left out."""
    histories = {}
    for run_id in run_ids:
        try:
            _, histories[run_id] = store.load_histories(run_id)
        except RunError:
            continue
    return histories


def stack_histories(histories: Mapping[str, pd.DataFrame], **per_run: Mapping[str, object]) -> pd.DataFrame:
    """Epoch histories stacked into one tidy table: one row per (run, epoch), with a run_id column
    and one more column per keyword, holding that run's value (stack_histories(h, seed={id: 3}))."""
    parts = [history.assign(run_id=run_id, **{name: values[run_id] for name, values in per_run.items()})
             for run_id, history in histories.items() if not history.empty]
    columns = EPOCH_CURVE_COLUMNS + list(per_run)
    if not parts:
        return pd.DataFrame(columns=columns)
    stacked = pd.concat(parts, ignore_index=True)
    return stacked[columns + [name for name in stacked.columns if name not in columns]]
