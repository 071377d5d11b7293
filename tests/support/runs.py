"""Runs as only the tests need them: a stored analysis read exactly as it is on disk, a second run
copied from a trained one, and a byte flipped in a file."""

from __future__ import annotations

from pathlib import Path

from core.config import fingerprint
from core.inspect.stored_analysis import RunAnalysis
from core.runs.files import read_analysis
from core.runs.format import (
    ANALYSIS_FILE,
    ARTIFACT_FILES,
    STATUS_FILE,
    RunRecord,
    read_status,
    write_config,
    write_status,
)
from core.runs.store import RunStore


def load_analysis(store: RunStore, run_id: str) -> RunAnalysis:
    """The run's stored analysis, never recomputed (the product's RunStore.ensure_analysis recomputes
    what is missing); RunError if it has none or it is damaged, AnalysisOutdated (with the groups
    still usable) if it is of another version or does not fit the run."""
    record = store.read_run(run_id)
    return RunAnalysis.from_arrays(read_analysis(record), record.config)


def copy_as_other_run(store: RunStore, record: RunRecord, seed: int, started_at: str | None = None) -> RunRecord:
    """A second run folder in store: the record's files under the id of its config with another
    seed, started at started_at (an ISO time) if given.

    Its weights are not that config's, which no test looks at; its files are all intact."""
    config = record.config.replace(seed=seed)
    run_id = fingerprint(config, record.data_identity)
    run_dir = store.root / run_id
    run_dir.mkdir()
    for name in (STATUS_FILE, *ARTIFACT_FILES, ANALYSIS_FILE):
        if (record.run_dir / name).is_file():
            (run_dir / name).write_bytes((record.run_dir / name).read_bytes())
    write_config(run_dir, run_id, config, record.data_identity)
    if started_at is not None:
        write_status(run_dir, {**read_status(run_id, run_dir), "started_at": started_at})
    return store.read_run(run_id)


def flip_byte(path: Path, position: int = -1) -> None:
    """Change one byte of a file in place: its size stays the same, its sha256 does not."""
    content = bytearray(path.read_bytes())
    content[position] ^= 0xFF
    path.write_bytes(bytes(content))
