"""Atomic file writes (a temporary name in the same folder, fsync, then rename), the JSON reader beside
them, and the timestamp the status files record."""

from __future__ import annotations

import io
import json
import os
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def utc_timestamp() -> str:
    """Now, as the run, sweep and launch records write it: ISO 8601 in UTC, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _create_temporary(path: Path) -> Path:
    """Create a new empty file beside path, named so no one else picks it, with the permissions
    of any new file (0666 less the process's umask)."""
    while True:
        # The temporary name keeps the final suffix: some writers (Keras weights) insist on it.
        temporary = path.parent / f".tmp-{secrets.token_hex(8)}-{path.name}"
        try:
            os.close(os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return temporary


def atomic_write_with(path: Path, write: Callable[[Path], None]) -> None:
    """Call write(temporary_path), then rename it over path; on any error the old file is intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary_path = _create_temporary(path)
    try:
        write(temporary_path)
        with open(temporary_path, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(temporary_path, path)
    except BaseException:
        temporary_path.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, content: bytes) -> None:
    atomic_write_with(path, lambda temporary: temporary.write_bytes(content))


def atomic_write_json(path: Path, value: Any) -> None:
    atomic_write_bytes(path, (json.dumps(value, indent=2, sort_keys=True) + "\n").encode())


def atomic_write_csv(path: Path, frame: pd.DataFrame) -> None:
    atomic_write_bytes(path, frame.to_csv(index=False).encode())


def atomic_write_npz(path: Path, **arrays: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
