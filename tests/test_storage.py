"""Tests of atomic writes: the file modes they leave and what a failed write keeps."""

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.atomic_files import atomic_write_bytes, atomic_write_with

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Each writer under a chosen umask, in a fresh process so the test run's own umask is untouched.
MODE_PROBE = """
import json, os, sys
from pathlib import Path
import numpy as np, pandas as pd
from core.atomic_files import (atomic_write_bytes, atomic_write_csv, atomic_write_json, atomic_write_npz,
                               atomic_write_with)
os.umask(int(sys.argv[2], 8))  # after the import: the umask in force when writing is the one that counts
folder = Path(sys.argv[1])
atomic_write_bytes(folder / "a.bin", b"x")
atomic_write_json(folder / "b.json", {"a": 1})
atomic_write_csv(folder / "c.csv", pd.DataFrame({"a": [1]}))
atomic_write_npz(folder / "d.npz", a=np.zeros(2))
atomic_write_with(folder / "e.h5", lambda temporary: temporary.write_bytes(b"weights"))
(folder / "plain.txt").write_text("made by open()")
print(json.dumps({path.name: path.stat().st_mode & 0o777 for path in folder.iterdir()}))
"""


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_writes_get_the_modes_of_any_new_file(tmp_path, umask, mode):
    """Check every atomic writer leaves a file with 0666 less the umask, like open() would."""
    result = subprocess.run([sys.executable, "-c", MODE_PROBE, str(tmp_path), oct(umask)], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    modes = json.loads(result.stdout)
    assert modes == {name: mode for name in ("a.bin", "b.json", "c.csv", "d.npz", "e.h5", "plain.txt")}
    assert sorted(os.listdir(tmp_path)) == sorted(modes)  # no temporary file left behind


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    """Check a write that fails half-way leaves the previous content and no stray temporary file."""
    target = tmp_path / "status.json"
    atomic_write_bytes(target, b"old content")

    def write_half_then_fail(temporary: Path) -> None:
        temporary.write_bytes(b"new con")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        atomic_write_with(target, write_half_then_fail)
    assert target.read_bytes() == b"old content"
    assert [path.name for path in tmp_path.iterdir()] == ["status.json"]
