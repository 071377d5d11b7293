"""A run's name, given by the user (like W&B's run names): the one reader and one writer of name.json.

The name is not part of the run id, which stays the fingerprint of the config: it lives in its own
small file in the run's folder, so it goes where the folder goes (copied, deleted, pruned), and a
retrain of the run keeps it (core/runs/train.py carries it over): it names the experiment, and a
retrain is the same experiment done again. It is not one of the files status.json verifies: it can
change at any time, and a missing or unreadable one only means the run has no name.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from core.atomic_files import atomic_write_json, read_json

NAME_FILE = "name.json"
# Short enough that "<name> · 97.06%" fits the sidebar's run picker at its default width
# (dashboard/labels.py PICKER_LIMIT; tests/test_browser_runs.py): 20 characters of mixed case do,
# 22 did not. A name of 20 capitals (W and M are the widest) is still cut there.
MAX_NAME_LENGTH = 20
# Characters a Plotly legend or hover text would read as markup; everything else is shown as typed.
MARKUP_CHARACTERS = "<>&"


def clean_run_name(text: object) -> str:
    """The name as stored: spaces at either end removed, inner runs of spaces made one. ValueError
    naming the value and what is allowed when it is empty, too long, or not plain text."""
    if not isinstance(text, str):
        raise ValueError(f"run name must be text, got {type(text).__name__}")
    name = " ".join(text.split())
    shown = f"{name[:MAX_NAME_LENGTH + 10]!r}"
    if not name:
        raise ValueError("run name is empty; type a name, or clear it to remove the run's name")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"run name {shown} is {len(name)} characters long; allowed at most {MAX_NAME_LENGTH}")
    # Control and format characters (newlines, right-to-left overrides, zero-width joiners) and the
    # markup characters: the name is plain text, shown as typed in tables, pickers and legends.
    odd = sorted({character for character in name if character in MARKUP_CHARACTERS
                  or unicodedata.category(character)[0] == "C"})
    if odd:
        listed = ", ".join(repr(character) for character in odd)
        raise ValueError(f"run name {shown} holds {listed}; allowed are letters, digits, spaces and punctuation "
                         f"other than {' '.join(MARKUP_CHARACTERS)}")
    return name


def read_run_name(run_dir: Path) -> str | None:
    """The run's name, or None when it has none, or its name.json is unreadable or not a valid name
    (a name is a label: a bad one is never a reason to fail a page)."""
    try:
        content = read_json(run_dir / NAME_FILE)
        return clean_run_name(content["name"]) if isinstance(content, dict) and set(content) == {"name"} else None
    except (OSError, ValueError, RecursionError, KeyError):
        return None


def write_run_name(run_dir: Path, name: str | None) -> str | None:
    """Give the run in run_dir a name (validated: clean_run_name), or remove its name when name is
    None or only spaces; returns the name stored. The folder must exist."""
    if not run_dir.is_dir():
        raise ValueError(f"run folder {run_dir.name} does not exist")
    if name is None or not name.strip():
        (run_dir / NAME_FILE).unlink(missing_ok=True)
        return None
    cleaned = clean_run_name(name)
    atomic_write_json(run_dir / NAME_FILE, {"name": cleaned})
    return cleaned
