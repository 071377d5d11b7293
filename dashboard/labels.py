"""Text shown to the user, formatted in one place: run labels, config summaries, durations, echoed values.

Pure functions, no Streamlit: pages, pickers and figure legends call them.
"""

from __future__ import annotations

import numbers
import string
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from core.config import PRESETS, RNNConfig, is_run_id
from core.runs.compare import FIELD_ORDER, differing_fields
from core.runs.format import RunRecord, RunStatus

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


def distinguishing_labels(configs: Mapping[str, RNNConfig], names: Mapping[str, str | None] | None = None
                          ) -> dict[str, str]:
    """A label per run that tells it apart from the others, for legends: the name the user gave it
    (names: {run id: name or None}), else what differs among the configs, and the run id's first
    characters only where that is not enough (equal configs, or a single run)."""
    labels = differences(configs)
    counts: dict[str, int] = {}
    for label in labels.values():
        counts[label] = counts.get(label, 0) + 1
    return {run_id: (names or {}).get(run_id) or (label if label and counts[label] == 1
            else " · ".join(part for part in (label, f"run {run_id[:ID_PREFIX]}") if part))
            for run_id, label in labels.items()}


# A run picker's label is at most this many characters: what the sidebar's picker shows without
# cutting it (300 px wide by default, 190 px of it for the text, in 14 px Source Sans; checked by
# tests/test_browser_runs.py): "<what> · 97.06%", with the run's name or a short description as <what>.
PICKER_LIMIT = 32
SHORT_ID = 6  # characters of a run id that tell apart runs whose configs do not


def _nearest_preset(config: RNNConfig) -> tuple[str, list[str]]:
    """(preset name, the fields in which config differs from it, in FIELD_ORDER): the preset it is
    closest to, the first listed on a tie."""
    deviations = {name: [field for field in FIELD_ORDER if getattr(config, field) != getattr(preset, field)]
                  for name, preset in PRESETS.items()}
    name = min(deviations, key=lambda preset: len(deviations[preset]))
    return name, deviations[name]


def _telling_fields(codes: np.ndarray, row: int) -> list[int]:
    """Columns of codes (runs, fields) that tell row apart from every other row with another config,
    nearest runs first: each time, the run still alike with the fewest differences is ruled out by
    the one of those fields that rules out most of the runs still alike (the first on a tie)."""
    alike = np.ones(len(codes), dtype=bool)
    alike[row] = False
    alike &= (codes != codes[row]).any(axis=1)  # an equal config cannot be told apart by its fields
    chosen: list[int] = []
    while alike.any():
        differs = codes[alike] != codes[row]  # (runs still alike, fields)
        nearest = differs[np.argmin(differs.sum(axis=1))]
        ruled_out = np.where(nearest, differs.sum(axis=0), -1)
        best = int(np.argmax(ruled_out))
        chosen.append(best)
        alike &= codes[:, best] == codes[row, best]
    return chosen


def _labels(config: RNNConfig, names: list[str], columns: list[int]) -> list[str]:
    """field_label of config's fields names[column] for each of columns, in the order of names."""
    return [field_label(names[column], getattr(config, names[column])) for column in sorted(columns)]


def _tagged(parts: list[str], limit: int, tag: str) -> str:
    """parts joined by ' · ' with the tag last, leaving out parts from the end until it fits limit."""
    parts = list(parts)
    while parts and len(" · ".join([*parts, tag])) > limit:
        parts.pop()
    return " · ".join([*parts, tag])


def short_descriptions(configs: Mapping[str, RNNConfig], limit: int) -> dict[str, str]:
    """{run id: at most `limit` characters that tell the run apart from the others}, for pickers.

    A run that is a preset is named by it ("Tuned"), and one a few fields away from a preset by
    those too when that fits ("Tuned · seed 1", "Tutorial · LSTM"). Otherwise it is described by the
    fields that tell it apart from the other runs (_telling_fields, written in FIELD_ORDER), those
    that tell it from its nearest neighbours kept first when they do not all fit: sweep trials read
    "lr 0.01 · seed 1". Descriptions that are still equal (equal configs, or fields left out) get the
    first characters of the run id ("#1a2b3c").
    """
    run_ids = list(configs)
    varied = differing_fields(configs.values())
    # Each field's values numbered (in order of appearance), so comparing every run with every other
    # is one array operation: codes (runs, fields).
    numbers: dict[str, dict] = {name: {} for name in varied}
    codes = np.array([[numbers[name].setdefault(getattr(configs[run_id], name), len(numbers[name]))
                       for name in varied] for run_id in run_ids], dtype=np.int64).reshape(len(run_ids), len(varied))
    descriptions, telling = {}, {}
    for row, run_id in enumerate(run_ids):
        config = configs[run_id]
        preset, deviations = _nearest_preset(config)
        exact = " · ".join([preset.capitalize(), *(field_label(name, getattr(config, name)) for name in deviations)])
        if len(exact) <= limit:
            telling[run_id] = [exact]
        else:
            columns = _telling_fields(codes, row)
            while columns and len(" · ".join(_labels(config, varied, columns))) > limit:
                columns.pop()  # those that tell it from its farthest runs go first
            telling[run_id] = _labels(config, varied, columns)
        descriptions[run_id] = " · ".join(telling[run_id]) or (
            f"{config.cell.upper()} {config.hidden_units} · " + field_label("epochs", config.epochs))
    counts: dict[str, int] = {}
    for description in descriptions.values():
        counts[description] = counts.get(description, 0) + 1
    return {run_id: description if counts[description] == 1 else _tagged(telling[run_id], limit,
                                                                          f"#{run_id[:SHORT_ID]}")
            for run_id, description in descriptions.items()}


def run_label(run_id: str, status: str, what: str = "", test_accuracy: float | None = None) -> str:
    """A run picker's line: 'Tuned · seed 1 · 98.25%': what the run is (its name, or what sets it
    apart: short_descriptions), then its test accuracy when complete, else its status. Without a
    what (a damaged folder), its status and id: 'damaged · 0123456789abcdef'."""
    if not what:
        return f"{status} · {run_id}"
    outcome = f"{test_accuracy:.2%}" if status == RunStatus.COMPLETE and test_accuracy is not None else status
    return f"{what} · {outcome}"


def _description_limit(statuses: Iterable[str]) -> int:
    """How long a description may be so that run_label's line stays within PICKER_LIMIT."""
    longest = max((len(" · 100.00%") if status == RunStatus.COMPLETE else len(f" · {status}") for status in statuses),
                  default=0)
    return PICKER_LIMIT - longest


def picker_labels(records: Iterable[RunRecord]) -> dict[str, str]:
    """{run id: label} for a picker of these runs: each named by its name, else by what sets it
    apart from the others (short_descriptions), in at most PICKER_LIMIT characters."""
    records = list(records)
    described = short_descriptions({record.run_id: record.config for record in records},
                                   _description_limit(record.status for record in records))
    return {record.run_id: run_label(record.run_id, record.status, record.name or described[record.run_id],
                                     record.metric("test_accuracy")) for record in records}


def table_labels(table: pd.DataFrame, configs: Mapping[str, RNNConfig]) -> dict[str, str]:
    """{run id: label} of the rows of a runs table (RunStore.runs_table()), as picker_labels gives
    them; configs: those of its undamaged rows (core.runs.compare.table_configs)."""
    described = short_descriptions(configs, _description_limit(table["status"]))
    return {row.run_id: run_label(row.run_id, row.status, row.name if isinstance(row.name, str) and row.name
                                  else described.get(row.run_id, ""),
                                  row.test_accuracy if pd.notna(row.test_accuracy) else None)
            for row in table.itertuples()}


def run_title(run_id: str, name: str | None = None) -> str:
    """Markdown naming a run in a page's text: 'Run **baseline** (`0123456789abcdef`)' when the user
    named it, else 'Run `0123456789abcdef`'."""
    return f"Run **{plain(name)}** (`{run_id}`)" if name else f"Run `{run_id}`"


def run_not_found(value: object, shown: str | None) -> str:
    """Markdown: the run named in a link does not exist here, and what is shown instead."""
    # A well-formed id is echoed (escaped all the same); anything else is not, since it is not a run.
    instead = f" Showing run {plain(shown)} instead." if shown else ""
    if not is_run_id(value):
        return ("The run in this link was not found: its ?run= value is not a run id (16 lowercase hexadecimal "
                f"digits); it was removed from the address.{instead}")
    return (f"Run {plain(value)} was not found (deleted, or never trained here); "
            f"it was removed from the address.{instead}")


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
