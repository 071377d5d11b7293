"""The dashboard's own browser components: JavaScript modules with the Python that feeds them.

dom.js (globalThis.RnnDom) is the DOM helper every component's script uses; with_dom puts it at the
head of a component's module, as the offline report inlines it first.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

DOM_JS = Path(__file__).resolve().parent / "dom.js"


def with_dom(module_js: str) -> str:
    """A component's js with dom.js first: one text, as a v2 component's module cannot import a file."""
    return DOM_JS.read_text(encoding="utf-8") + "\n" + module_js


def json_digest(value) -> str:
    """A short fingerprint of value (JSON types): a component skips redrawing data it has drawn already."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]
