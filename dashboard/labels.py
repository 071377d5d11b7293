"""Text shown to the user, formatted in one place: run labels, config summaries, durations, echoed values.

Pure functions, no Streamlit: pages, pickers and figure legends call them.
"""

from __future__ import annotations

import numbers
import string
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from core.compare import differing_fields
from core.config import PRESETS, RNNConfig, is_run_id
from core.run_format import COMPLETE, RunRecord

ECHO_LIMIT = 60  # characters of a URL value or file name repeated back to the user
ID_PREFIX = 8  # characters of a run id that tell runs apart in a legend


def plain(value: object, limit: int = ECHO_LIMIT) -> str:
    """value as markdown that shows it literally: every ASCII punctuation mark backslash-escaped
    (no links, images, emphasis, code, icons or HTML), one line, cut to `limit` characters."""
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return "".join("\\" + character if character in string.punctuation else character for character in text)


def format_value(value: object) -> str:
    """A hyperparameter value as a short label: 0.001 not 0.0010000, 55,000 not 55000."""
    if not is_number(value):
        return str(value)
    if isinstance(value, numbers.Integral) or (float(value).is_integer() and abs(value) >= 1):
        return f"{int(value):,}"
    return f"{float(value):g}"


def is_number(value: object) -> bool:
    """True for ints and floats, numpy's too; False for booleans (Python counts them as ints)."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


# How each hyperparameter is said: (value, value as format_value writes it) -> label.
FIELD_LABELS: dict[str, Callable[[Any, str], str]] = {
    "cell": lambda value, text: text.upper(),
    "hidden_units": lambda value, text: f"{text} units",
    "output_init_stddev": lambda value, text: f"readout init {text}",
    "optimizer": lambda value, text: text,
    "learning_rate": lambda value, text: f"lr {text}",
    "learning_rate_schedule": lambda value, text: f"{text} schedule",
    "epochs": lambda value, text: f"{text} epoch{'s' * (value != 1)}",
    "batch_size": lambda value, text: f"batch {text}",
    "train_subset": lambda value, text: f"{text} images",
    "gradient_clip_norm": lambda value, text: "no clipping" if value == 0 else f"clip {text}",
    "keep_best_weights": lambda value, text: "best-epoch weights" if value else "last-epoch weights",
    "adam_beta_2": lambda value, text: f"beta 2 {text}",
    "display_freq": lambda value, text: f"log every {text}",
    "seed": lambda value, text: f"seed {value}",  # an id, not a quantity: no thousands separator
}


def field_label(name: str, value: object) -> str:
    """One hyperparameter as a reader would say it: 'lr 0.003', 'seed 1', '32 units', 'GRU'."""
    if name not in FIELD_LABELS:
        raise ValueError(f"field {name!r} has no label; labelled fields are {sorted(FIELD_LABELS)}")
    return FIELD_LABELS[name](value, format_value(value))


def differences(configs: Mapping[str, RNNConfig]) -> dict[str, str]:
    """{run id: the values of the fields that differ among the configs}, e.g. 'lr 0.003 · seed 1';
    an empty string for every run when no field differs (one run, or equal configs)."""
    names = differing_fields(configs.values())
    return {run_id: " · ".join(field_label(name, getattr(config, name)) for name in names)
            for run_id, config in configs.items()}


def distinguishing_labels(configs: Mapping[str, RNNConfig]) -> dict[str, str]:
    """A label per run that tells it apart from the others: what differs among the configs, and
    the run id's first characters only where that is not enough (equal configs, or a single run)."""
    labels = differences(configs)
    counts: dict[str, int] = {}
    for label in labels.values():
        counts[label] = counts.get(label, 0) + 1
    return {run_id: label if label and counts[label] == 1
            else " · ".join(part for part in (label, f"run {run_id[:ID_PREFIX]}") if part)
            for run_id, label in labels.items()}


def run_label(run_id: str, status: str, config: RNNConfig | None = None, test_accuracy: float | None = None,
              differs: str = "") -> str:
    """One line per run, most telling first so a cut-off label still tells runs apart:
    'seed 3 · 91.20% · stopped · <run id>'. differs: what sets this run apart from the others
    listed with it (see differences); without it, the architecture and epochs."""
    summary = ""
    if config is not None:
        summary = differs or f"{config.cell.upper()} {config.hidden_units} · {field_label('epochs', config.epochs)}"
    parts = [summary, f"{test_accuracy:.2%}" if test_accuracy is not None else "",
             status if status != COMPLETE else "", run_id]
    return " · ".join(part for part in parts if part)


def picker_label(record: RunRecord, differs: str = "") -> str:
    """A run picker's label for a run read from disk (see run_label)."""
    return run_label(record.run_id, record.status, record.config, record.metric("test_accuracy"), differs)


def picker_labels(records: Iterable[RunRecord]) -> dict[str, str]:
    """{run id: label} for a picker of these runs, each labelled by what sets it apart from the others."""
    records = list(records)
    differs = differences({record.run_id: record.config for record in records})
    return {record.run_id: picker_label(record, differs[record.run_id]) for record in records}


def table_labels(table: pd.DataFrame, configs: Mapping[str, RNNConfig]) -> dict[str, str]:
    """{run id: label} of the rows of a runs table (RunStore.runs_table()); configs: those of its
    undamaged rows (core.compare.table_configs), labelled by what differs among them."""
    differs = differences(configs)
    return {row.run_id: run_label(row.run_id, row.status, configs.get(row.run_id),
                                  row.test_accuracy if pd.notna(row.test_accuracy) else None,
                                  differs.get(row.run_id, ""))
            for row in table.itertuples()}


def run_not_found(value: object, shown: str | None) -> str:
    """Markdown: the run named in a link does not exist here, and what is shown instead."""
    # A well-formed id is echoed (escaped all the same); anything else is not, since it is not a run.
    named = f"Run {plain(value)}" if is_run_id(value) else "The run in this link"
    instead = f" Showing run {plain(shown)} instead." if shown else ""
    return f"{named} was not found (deleted, or never trained here); it was removed from the address.{instead}"


def describe(config: RNNConfig) -> str:
    """One line: the architecture and schedule, then whatever else differs from the tutorial."""
    schedule = "" if config.learning_rate_schedule == "constant" else f" ({config.learning_rate_schedule})"
    tutorial = PRESETS["tutorial"]
    extras = [field_label(name, getattr(config, name)) for name, changed in [
        ("adam_beta_2", config.optimizer == "adam" and config.adam_beta_2 != tutorial.adam_beta_2),
        ("gradient_clip_norm", config.gradient_clip_norm != tutorial.gradient_clip_norm),
        ("output_init_stddev", config.output_init_stddev != tutorial.output_init_stddev),
        ("keep_best_weights", config.keep_best_weights),
        ("seed", config.seed != tutorial.seed),
    ] if changed]
    return (f"{config.cell.upper()}, {config.hidden_units} units · {config.optimizer} at "
            f"{config.learning_rate:g}{schedule} · {field_label('epochs', config.epochs)} "
            f"of {config.train_subset:,} images, batch {config.batch_size}"
            + "".join(f" · {extra}" for extra in extras))


def counted(count: int, noun: str) -> str:
    """'1 trial', '6 trials': a count with its noun, plural when it is not one."""
    return f"{count:,} {noun}{'s' * (count != 1)}"


def duration(seconds: float) -> str:
    """A time span as people say it: '42 s', '3 min 05 s', '1 h 02 min'."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
