"""What a sweep found, as tidy tables: one row per trial, the spread over seeds, the curves of all trials.

Pure functions of a SweepRecord (core/sweeps/record.py) and the run store's records; the Sweeps
page draws them with dashboard/sweeps/figures.py. Accuracies are fractions in [0, 1]. A finished
trial whose run no longer opens (damaged, deleted, trained again) is shown as such and left out of
the results, which say so (trial_problems, left_out).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.events import BATCH_COLUMNS
from core.runs.compare import epoch_histories, stack_histories
from core.runs.format import RunError, RunRecord, RunStatus
from core.runs.store import RunStore
from core.sweeps.record import SweepRecord, TrialState

FINISHED_STATES = (TrialState.COMPLETE, TrialState.CACHED)  # a trial whose run is complete in the store
# What a finished trial is shown as when its run does not open verified: damaged (a file missing or
# changed), deleted, or changed (trained again since: no longer complete).
DELETED, CHANGED = "deleted", "changed"
LEFT_OUT_GROUPS = 4  # kinds of reasons listed by left_out before "and N more"
LOG_FIELDS = ("learning_rate", "output_init_stddev")  # fields that span decades: drawn on log axes
SEED = "seed"
# Every trials table has these columns, then one per varied field (the spec's order).
TRIAL_COLUMNS = ["run_id", "name", "state", "epoch", "epochs", "validation_accuracy", "best_validation_accuracy",
                 "test_accuracy", "train_seconds", "error"]
METRICS = ("best_validation_accuracy", "test_accuracy")


@dataclass(frozen=True)
class TrialProblem:
    """Why a finished trial's run cannot be shown."""

    state: str  # shown as the trial's state: RunStatus.DAMAGED, DELETED or CHANGED
    reason: str  # one line, e.g. "test_predictions.npz is truncated or changed"


def _reason(run_id: str, problem: object) -> str:
    """A run's problem without the "run <id> is damaged: " the store puts first (the table names the run)."""
    text = str(problem)
    for prefix in (f"run {run_id} is damaged: ", f"run {run_id} "):
        if text.startswith(prefix):
            return text[len(prefix):]
    return text


def trial_problems(record: SweepRecord, runs: Mapping[str, RunRecord],
                   damaged: Mapping[str, str]) -> dict[str, TrialProblem]:
    """{run id: problem} of the finished trials whose run does not open; trials whose run opens are not in it.

    runs and damaged are RunStore.list_runs() as {run id: record} and {run id: problem}: the listing
    checks every run's sha256 (re-hashing only files changed since), so a run it lists is intact."""
    problems = {}
    for trial in record.trials:
        run_id = trial.run_id
        if trial.state not in FINISHED_STATES:
            continue
        run = runs.get(run_id)
        if run_id in damaged:
            problems[run_id] = TrialProblem(RunStatus.DAMAGED, _reason(run_id, damaged[run_id]))
        elif run is None:
            problems[run_id] = TrialProblem(DELETED, "its run was deleted")
        elif run.status != RunStatus.COMPLETE:
            problems[run_id] = TrialProblem(CHANGED, f"its run is {run.status} now (trained again?)")
    return problems


def trials_table(record: SweepRecord, runs: Mapping[str, RunRecord],
                 problems: Mapping[str, TrialProblem] | None = None) -> pd.DataFrame:
    """One row per trial, in the spec's order: its state, epoch and latest validation accuracy from
    the sweep's status (live while it trains), its run's final metrics once complete (from runs,
    {run id: record} as RunStore.list_runs gives them), and one column per varied field.
    problems (trial_problems) turn a finished trial into its problem's state, with the reason as its error."""
    varied = list(record.spec.varied)
    rows = []
    for trial in record.trials:
        run = runs.get(trial.run_id)
        problem = (problems or {}).get(trial.run_id)
        complete = (problem is None and run is not None and run.status == RunStatus.COMPLETE
                    and trial.state in FINISHED_STATES)
        rows.append({
            "run_id": trial.run_id, "name": run.name if run is not None else None,
            "state": problem.state if problem else trial.state,
            "epoch": trial.epoch, "epochs": trial.values.get("epochs", record.spec.base.epochs),
            "validation_accuracy": trial.validation_accuracy,
            **{name: run.metric(name) if complete else None for name in (*METRICS, "train_seconds")},
            "error": problem.reason if problem else trial.error,
            **{name: trial.values.get(name) for name in varied},
        })
    table = pd.DataFrame(rows, columns=TRIAL_COLUMNS + varied)
    for name in ("validation_accuracy", *METRICS, "train_seconds"):
        table[name] = pd.to_numeric(table[name])
    return table


def finished(table: pd.DataFrame) -> pd.DataFrame:
    """The trials whose run is complete (trained by this sweep or found in the cache)."""
    return table[table["state"].isin(FINISHED_STATES) & table["best_validation_accuracy"].notna()]


def left_out(table: pd.DataFrame) -> str | None:
    """What the results leave out of a trials table and why, or None when every trial is in them:
    "3 of 4 trials left out: damaged (test_predictions.npz is truncated or changed)"; with several
    reasons, each with its count ("...: 2 damaged (...); 1 failed (RuntimeError: boom)")."""
    out = table.drop(finished(table).index)
    if out.empty:
        return None
    groups: dict[str, int] = {}
    for state, error in zip(out["state"], out["error"], strict=False):
        explained = (state in (RunStatus.DAMAGED, DELETED, CHANGED, TrialState.FAILED)
                     and isinstance(error, str) and error)
        key = f"{state} ({error})" if explained else "not started" if state == TrialState.PENDING else state
        groups[key] = groups.get(key, 0) + 1
    parts = list(groups) if len(groups) == 1 else [f"{count} {key}" for key, count in groups.items()]
    if len(parts) > LEFT_OUT_GROUPS:
        parts = parts[:LEFT_OUT_GROUPS] + [f"and {len(parts) - LEFT_OUT_GROUPS} more"]
    return f"{len(out)} of {len(table)} trial{'s' * (len(table) != 1)} left out: {'; '.join(parts)}"


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
    of core.runs.compare.stack_histories plus one per varied field."""
    done = finished(table)
    per_run = {name: dict(zip(done["run_id"], done[name], strict=False)) for name in varied}
    return stack_histories(epoch_histories(store, done["run_id"].tolist()), **per_run)


def trial_batch_curves(store: RunStore, table: pd.DataFrame, varied: list[str]) -> pd.DataFrame:
    """Training loss and accuracy of the finished trials' logged batches, stacked: one row per (run,
    logged batch) with run_id, core.events.BATCH_COLUMNS and one column per varied field (the
    curves of a one-epoch sweep, whose validation curves are single points)."""
    parts = []
    for row in finished(table).to_dict("records"):
        try:
            batches, _ = store.load_histories(row["run_id"])
        except RunError:
            continue
        parts.append(batches.assign(run_id=row["run_id"], **{name: row[name] for name in varied}))
    columns = ["run_id", *BATCH_COLUMNS, *varied]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def sweep_run_ids(record: SweepRecord) -> list[str]:
    """The run ids of a sweep's trials (for the Runs page's filter)."""
    return [trial.run_id for trial in record.trials]
