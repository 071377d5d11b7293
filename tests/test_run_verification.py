"""Tests of core.runs.verification: listing runs finds a flipped byte, and re-hashes only changed files."""

from __future__ import annotations

import json
import os

import pytest

import core.runs.format
import core.runs.verification
from core.runs.format import PREDICTIONS_FILE, WEIGHTS_FILE, RunStatus
from core.runs.verification import RECORD_FILE
from tests.support.runs import copy_as_other_run, flip_byte

NEWER = "2099-01-01T00:00:00+00:00"


@pytest.fixture
def hashed(monkeypatch):
    """The files hashed by listings, in order; files count as settled as soon as they are written."""
    monkeypatch.setattr(core.runs.verification, "SETTLED_SECONDS", 0.0)
    names = []
    real_sha256 = core.runs.format.sha256

    def counting_sha256(path):
        names.append(path.name)
        return real_sha256(path)

    monkeypatch.setattr(core.runs.verification, "sha256", counting_sha256)
    return names


def test_a_flipped_byte_in_the_predictions_makes_the_run_damaged_in_the_listing(copied_run):
    """Check one byte flipped in test_predictions.npz (size unchanged) makes the run damaged in the
    listing and the runs table, beside an intact run that stays complete."""
    store, record = copied_run
    newest = copy_as_other_run(store, record, seed=1, started_at=NEWER)
    flip_byte(newest.run_dir / PREDICTIONS_FILE, position=1000)
    records, damaged = store.list_runs()
    assert ([(listed.run_id, listed.status, listed.verified) for listed in records]
            == [(record.run_id, RunStatus.COMPLETE, True)])
    assert damaged == {newest.run_id: f"run {newest.run_id} is damaged: {PREDICTIONS_FILE} is truncated or changed"}
    table = store.runs_table().set_index("run_id")
    assert table["status"].to_dict() == {record.run_id: RunStatus.COMPLETE, newest.run_id: RunStatus.DAMAGED}


def test_listing_hashes_only_files_changed_since_the_last_listing(copied_run, hashed):
    """Check the first listing hashes every artifact, the next hashes none, and after one file is
    rewritten only that one is hashed again."""
    store, record = copied_run
    store.list_runs()
    assert sorted(hashed) == sorted(record.status_info.sizes.keys() - {"analysis.npz"})
    hashed.clear()
    store.list_runs()
    assert hashed == []
    (record.run_dir / WEIGHTS_FILE).write_bytes((record.run_dir / WEIGHTS_FILE).read_bytes())  # same bytes
    records, _ = store.list_runs()
    assert hashed == [WEIGHTS_FILE] and [listed.status for listed in records] == [RunStatus.COMPLETE]


def test_a_failure_is_remembered_and_a_repair_is_seen(copied_run, hashed):
    """Check a run found damaged stays damaged without being hashed again, and is complete again
    once its file is put back."""
    store, record = copied_run
    original = (record.run_dir / PREDICTIONS_FILE).read_bytes()
    flip_byte(record.run_dir / PREDICTIONS_FILE)
    assert list(store.list_runs()[1]) == [record.run_id]
    hashed.clear()
    assert list(store.list_runs()[1]) == [record.run_id] and hashed == []
    (record.run_dir / PREDICTIONS_FILE).write_bytes(original)
    records, damaged = store.list_runs()
    assert [listed.run_id for listed in records] == [record.run_id] and damaged == {}


def test_a_change_that_keeps_size_and_mtime_is_still_found(copied_run, hashed):
    """Check a stale record cannot vouch for a file: a byte flipped after the listing hashed it, with
    the file's size and modification time put back as they were, is found (its ctime changed)."""
    store, record = copied_run
    store.list_runs()
    path = record.run_dir / PREDICTIONS_FILE
    before = os.stat(path)
    flip_byte(path)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert list(store.list_runs()[1]) == [record.run_id]


def test_a_file_changed_just_before_its_hashing_is_hashed_again(copied_run, monkeypatch):
    """Check a file written less than SETTLED_SECONDS before a listing is not remembered (a later
    write within the same clock tick could keep its stamp), so the next listing hashes it again."""
    store, record = copied_run
    (store.root / RECORD_FILE).unlink(missing_ok=True)  # copied with the session's runs, if they were listed
    monkeypatch.setattr(core.runs.verification, "SETTLED_SECONDS", 3600.0)
    store.list_runs()
    assert not (store.root / RECORD_FILE).exists()  # nothing settled: nothing to remember


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", json.dumps({"version": 1, "runs": {"x": 5}}),
                                     json.dumps({"version": 1, "runs": {"0123456789abcdef": {
                                         WEIGHTS_FILE: {"stamp": [1, 2, "3", 4, 5], "sha256": "0" * 64}}}})])
def test_a_damaged_record_is_ignored(copied_run, hashed, content):
    """Check a record that cannot be read, or holds entries of the wrong shape, costs only a re-hash."""
    store, record = copied_run
    (store.root / RECORD_FILE).write_text(content)
    records, damaged = store.list_runs()
    assert [listed.run_id for listed in records] == [record.run_id] and damaged == {}
    assert WEIGHTS_FILE in hashed
    assert json.loads((store.root / RECORD_FILE).read_text())["version"] == 1  # rewritten whole


def test_a_forged_entry_for_another_stamp_is_not_trusted(copied_run, hashed):
    """Check an entry that vouches for the listed digest under a stamp the file does not have leads to
    a re-hash, which finds the flipped byte."""
    store, record = copied_run
    flip_byte(record.run_dir / WEIGHTS_FILE)
    forged = {"version": 1, "runs": {record.run_id: {WEIGHTS_FILE: {
        "stamp": [1, 2, 3, 4, 5], "sha256": record.status_info.files[WEIGHTS_FILE]}}}}
    (store.root / RECORD_FILE).write_text(json.dumps(forged))
    assert list(store.list_runs()[1]) == [record.run_id]
    assert WEIGHTS_FILE in hashed
