"""What a sweep found, as tidy tables: one row per trial, the spread over seeds, the curves of all trials.

Pure functions of a SweepRecord (core/sweep_record.py) and the run store's records; the Sweeps
page draws them with dashboard/figures_sweeps.py. Accuracies are fractions in [0, 1].
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from core.compare import epoch_histories, stack_histories
from core.run_format import COMPLETE, RunRecord
from core.run_store import RunStore
from core.sweep_record import CACHED, TRIAL_COMPLETE, SweepRecord

FINISHED_STATES = (TRIAL_COMPLETE, CACHED)  # a trial whose run is complete in the store
LOG_FIELDS = ("learning_rate", "output_init_stddev")  # fields that span decades: drawn on log axes
SEED = "seed"
# Every trials table has these columns, then one per varied field (the spec's order).
TRIAL_COLUMNS = ["run_id", "name", "state", "epoch", "epochs", "validation_accuracy", "best_validation_accuracy",
                 "test_accuracy", "train_seconds", "error"]
METRICS = ("best_validation_accuracy", "test_accuracy")


def trials_table(record: SweepRecord, runs: Mapping[str, RunRecord]) -> pd.DataFrame:
    """One row per trial, in the spec's order: its state, epoch and latest validation accuracy from
    the sweep's status (live while it trains), its run's final metrics once complete (from runs,
    {run id: record} as RunStore.list_runs gives them), and one column per varied field."""
    varied = list(record.spec.varied)
    rows = []
    for trial in record.trials:
        run = runs.get(trial["run_id"])
        complete = run is not None and run.status == COMPLETE and trial["state"] in FINISHED_STATES
        rows.append({
            "run_id": trial["run_id"], "name": run.name if run is not None else None, "state": trial["state"],
            "epoch": trial["epoch"],
            "epochs": trial["values"].get("epochs", record.spec.base.epochs),
            "validation_accuracy": trial["validation_accuracy"],
            **{name: run.metric(name) if complete else None for name in (*METRICS, "train_seconds")},
            "error": trial["error"],
            **{name: trial["values"].get(name) for name in varied},
        })
    table = pd.DataFrame(rows, columns=TRIAL_COLUMNS + varied)
    for name in ("validation_accuracy", *METRICS, "train_seconds"):
        table[name] = pd.to_numeric(table[name])
    return table


def finished(table: pd.DataFrame) -> pd.DataFrame:
    """The trials whose run is complete (trained by this sweep or found in the cache)."""
    return table[table["state"].isin(FINISHED_STATES) & table["best_validation_accuracy"].notna()]


def top_trials(table: pd.DataFrame, count: int, metric: str = "best_validation_accuracy") -> pd.DataFrame:
    """The count finished trials with the highest metric, best first (ties: the spec's order)."""
    if count < 1:
        raise ValueError(f"count={count} is out of range; allowed 1 or more")
    return finished(table).sort_values(metric, ascending=False, kind="stable").head(count)


def seed_summary(table: pd.DataFrame, varied: list[str], metric: str = "best_validation_accuracy") -> pd.DataFrame:
    """Mean and spread over seeds: one row per combination of the varied fields other than the seed,
    with mean, std (sample std, ddof=1; 0 for a single seed) and seeds (how many finished)."""
    if metric not in METRICS:
        raise ValueError(f"metric={metric!r} is not allowed; choose one of {', '.join(METRICS)}")
    keys = [name for name in varied if name != SEED]
    done = finished(table)
    columns = keys + ["mean", "std", "seeds"]
    if done.empty:
        return pd.DataFrame(columns=columns)
    if not keys:  # only the seed varies: one configuration
        values = done[metric].to_numpy()
        return pd.DataFrame([{"mean": values.mean(), "std": _std(values), "seeds": len(values)}], columns=columns)
    groups = done.groupby(keys, sort=True, dropna=False)[metric]
    summary = groups.agg(mean="mean", seeds="count").reset_index()
    summary["std"] = groups.agg(_std).to_numpy()
    return summary[columns]


def _std(values) -> float:
    values = np.asarray(values, dtype=float)
    return float(values.std(ddof=1)) if len(values) > 1 else 0.0


def trial_curves(store: RunStore, table: pd.DataFrame, varied: list[str]) -> pd.DataFrame:
    """Validation curves of the finished trials, stacked: one row per (run, epoch) with the columns
    of core.compare.stack_histories plus one per varied field."""
    done = finished(table)
    per_run = {name: dict(zip(done["run_id"], done[name])) for name in varied}
    return stack_histories(epoch_histories(store, done["run_id"].tolist()), **per_run)


def sweep_run_ids(record: SweepRecord) -> list[str]:
    """The run ids of a sweep's trials (for the Runs page's filter)."""
    return [trial["run_id"] for trial in record.trials]
