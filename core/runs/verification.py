"""What the run store remembers of its sha256 checks, so listing runs re-hashes only files that changed.

A listing must call a run damaged when any byte of an artifact differs from the sha256 in its
status.json, even when the size is unchanged, without reading every byte of every run each time.
The store keeps one small record, <runs folder>/.verified.json, written atomically: for each
artifact it hashed, the file's stamp at that moment and the sha256 it found (the right one or not,
so a failure is remembered too). A listing re-hashes a file only when its stamp differs from the
remembered one.

The record can only save work, never vouch for a file: a stamp is (size, mtime_ns, ctime_ns, inode,
device), and the kernel sets ctime to the current time on every write, rename or utime, which no
user-level call can set back, so a file changed in any way since it was hashed has another stamp
and is hashed again. Timestamps have a clock tick's resolution, so a write within the tick of the
hashing could keep the stamp: a hash is remembered only for files last changed more than
SETTLED_SECONDS before it was taken (git's "racy clean" rule). A record that cannot be read, or
an entry of the wrong shape, is ignored: every file is then hashed again.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from core.atomic_files import atomic_write_json, read_json
from core.runs.format import DERIVED_FILES, RunError, RunRecord, sha256

RECORD_FILE = ".verified.json"  # in the runs folder; a dot-name is never listed as a run
RECORD_VERSION = 1
# A file changed less than this long before its hashing is hashed again next time (see above):
# more than the coarsest timestamp resolution of a file system a runs folder may live on (FAT's 2 s).
SETTLED_SECONDS = 3.0

Stamp = tuple[int, int, int, int, int]  # (size, mtime_ns, ctime_ns, inode, device)


def stamp(path: Path) -> Stamp:
    """The file's (size, mtime_ns, ctime_ns, inode, device); OSError if it cannot be read."""
    status = os.stat(path)
    return (status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino, status.st_dev)


@dataclass(frozen=True)
class Remembered:
    """A file's stamp when it was hashed, and the sha256 its bytes had then."""

    stamp: Stamp
    sha256: str


def _parse(content: object) -> dict[str, dict[str, Remembered]]:
    """{run id: {file name: Remembered}} from the record's JSON; entries of the wrong shape are left out."""
    if not isinstance(content, dict) or content.get("version") != RECORD_VERSION or not isinstance(
            content.get("runs"), dict):
        return {}
    runs: dict[str, dict[str, Remembered]] = {}
    for run_id, files in content["runs"].items():
        if not isinstance(files, dict):
            continue
        for name, entry in files.items():
            if (isinstance(entry, dict) and isinstance(entry.get("sha256"), str)
                    and re.fullmatch("[0-9a-f]{64}", entry["sha256"]) and isinstance(entry.get("stamp"), list)
                    and len(entry["stamp"]) == 5
                    and all(isinstance(part, int) and not isinstance(part, bool) for part in entry["stamp"])):
                runs.setdefault(run_id, {})[name] = Remembered(tuple(entry["stamp"]), entry["sha256"])
    return runs


class VerificationRecord:
    """The remembered hashes of one runs folder: load(), check() each listed run, then save()."""

    def __init__(self, root: Path, runs: dict[str, dict[str, Remembered]]):
        self.root = root
        self._loaded = runs
        self._kept: dict[str, dict[str, Remembered]] = {}  # what this listing saw: written back by save()

    @classmethod
    def load(cls, root: Path) -> VerificationRecord:
        try:
            content = read_json(root / RECORD_FILE)
        except (OSError, ValueError, RecursionError):  # none yet, or unreadable: hash everything again
            content = None
        return cls(root, _parse(content))

    def check(self, record: RunRecord) -> None:
        """Raise RunError if an artifact of the run has another sha256 than its status.json lists,
        hashing only the files whose stamp is not the remembered one. Derived files are left to
        their readers, as core/runs/format.py check_artifacts does."""
        remembered = self._loaded.get(record.run_id, {})
        kept = self._kept.setdefault(record.run_id, {})
        for name, expected in record.status_info.files.items():
            if name in DERIVED_FILES:
                continue
            path = record.run_dir / name
            try:
                current = stamp(path)
                known = remembered.get(name)
                settled = known is not None and known.stamp == current
                if not settled:
                    hashed_at = time.time_ns()
                    known = Remembered(current, sha256(path))
                    # Remembered only if the file did not change while it was read, nor just before.
                    settled = (stamp(path) == current
                               and hashed_at - max(current[1], current[2]) >= SETTLED_SECONDS * 1e9)
            except OSError as error:
                raise RunError(f"run {record.run_id} is damaged: {name} cannot be read ({error})") from error
            if settled:
                kept[name] = known  # a failure is remembered too: it is not hashed again while unchanged
            if known.sha256 != expected:
                raise RunError(f"run {record.run_id} is damaged: {name} is truncated or changed")

    def save(self) -> None:
        """Write what this listing saw (runs no longer listed are forgotten), if it differs from what
        was loaded. A folder that cannot be written to only costs the next listing its hashing."""
        kept = {run_id: files for run_id, files in self._kept.items() if files}
        if kept == self._loaded:
            return
        content = {"version": RECORD_VERSION, "runs": {
            run_id: {name: {"stamp": list(entry.stamp), "sha256": entry.sha256} for name, entry in files.items()}
            for run_id, files in kept.items()}}
        with contextlib.suppress(OSError):
            atomic_write_json(self.root / RECORD_FILE, content)
