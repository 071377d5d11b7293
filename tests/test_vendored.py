"""The vendored plotly.js is the file dashboard/static/VENDORED.json records (docs/UPGRADING.md says
how to replace it): a changed file without a changed record, or the other way round, fails here."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[1] / "dashboard" / "static"


def test_vendored_files_match_their_record():
    """Check every recorded file's SHA-256, its version in its own header, and that every file in
    dashboard/static is recorded (or is a recorded file's licence)."""
    record = json.loads((STATIC / "VENDORED.json").read_text())
    for name, entry in record.items():
        content = (STATIC / name).read_bytes()
        assert hashlib.sha256(content).hexdigest() == entry["sha256"], name
        header = re.search(rb"plotly\.js \(cartesian - minified\) v(\S+)", content[:300])
        assert header is not None and header.group(1).decode() == entry["version"], name
    assert sorted(path.name for path in STATIC.iterdir()) == sorted([*record, "VENDORED.json", "plotly-LICENSE"])
