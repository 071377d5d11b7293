"""Tests of core.runs.names: a run's name is stored beside it, validated, listed, and kept by a retrain."""

from __future__ import annotations

import pytest

from core.runs.format import RunError
from core.runs.names import MAX_NAME_LENGTH, NAME_FILE, clean_run_name, read_run_name, write_run_name


def test_name_round_trips_and_clears(copied_run):
    """Check a name is stored in the run's folder, listed with the run (records and table), and removed
    again by a blank name, without touching anything the run's status.json verifies."""
    store, record = copied_run
    assert store.set_run_name(record.run_id, "  baseline   tuned ") == "baseline tuned"
    assert read_run_name(record.run_dir) == "baseline tuned"
    assert store.read_run(record.run_id).name == "baseline tuned"
    assert [listed.name for listed in store.list_runs()[0]] == ["baseline tuned"]
    assert store.runs_table()["name"].tolist() == ["baseline tuned"]
    assert store.set_run_name(record.run_id, "   ") is None
    assert not (record.run_dir / NAME_FILE).exists() and store.read_run(record.run_id).name is None


@pytest.mark.parametrize("text, message", [
    ("", "run name is empty"),
    ("x" * (MAX_NAME_LENGTH + 1), f"is {MAX_NAME_LENGTH + 1} characters long; allowed at most {MAX_NAME_LENGTH}"),
    ("<b>bold</b>", r"holds '<', '>'; allowed are letters, digits, spaces and punctuation other than < > &"),
    ("a & b", "holds '&'"),
    ("nul\x00here", r"holds '\\x00'"),
    ("right\u202eto left", r"holds '\\u202e'"),
    (42, "run name must be text, got int"),
])
def test_bad_names_are_refused_with_the_reason(text, message):
    """Check an empty, too long or non-plain-text name raises ValueError naming the value and the rule."""
    with pytest.raises(ValueError, match=message):
        clean_run_name(text)


def test_markdown_and_unicode_are_kept_as_typed():
    """Check punctuation that markdown would read and letters beyond ASCII are plain text, stored as typed."""
    assert clean_run_name("**lr** [x](y) `z`") == "**lr** [x](y) `z`"
    assert clean_run_name("Kästner's\tnet 😀") == "Kästner's net 😀"


@pytest.mark.parametrize("content", ['{"name": 5}', "{not json", '["a"]', '{"name": "a", "extra": 1}',
                                     '{"name": "<script>"}'])
def test_an_unreadable_name_file_means_no_name(tmp_path, content):
    """Check a hand-edited name.json that is not a valid name reads as no name, never as an error."""
    (tmp_path / NAME_FILE).write_text(content)
    assert read_run_name(tmp_path) is None


def test_naming_a_run_that_does_not_exist_is_refused(copied_run, tmp_path):
    """Check a name for an unknown run id or folder is refused without creating anything."""
    store, _ = copied_run
    with pytest.raises(RunError, match="run 0123456789abcdef does not exist"):
        store.set_run_name("0123456789abcdef", "x")
    assert not (store.root / "0123456789abcdef").exists()
    with pytest.raises(ValueError, match="run folder missing does not exist"):
        write_run_name(tmp_path / "missing", "x")
