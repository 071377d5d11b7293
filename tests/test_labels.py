"""Tests for dashboard.labels: text echoed back to the user."""

from __future__ import annotations

import pytest

from dashboard.labels import plain


@pytest.mark.parametrize("hostile", ["[click me](//e.co)", "![](//e.co/a.png)", "<script>alert(1)</script>",
                                     "**bold** `code` :material/home:", "a\nb"])
def test_plain_escapes_every_markdown_punctuation(hostile):
    """Check every punctuation mark is escaped and newlines are folded, so markdown shows the text as typed."""
    escaped = plain(hostile)
    assert "\n" not in escaped
    unescaped = escaped.replace("\\", "")
    assert unescaped == " ".join(hostile.split())
    for position, character in enumerate(escaped):
        if character in "[]()!<>*`:" and (position == 0 or escaped[position - 1] != "\\"):
            pytest.fail(f"{character!r} at {position} of {escaped!r} is not escaped")


def test_plain_cuts_long_values():
    """Check a 10,000-character value is cut to the limit with an ellipsis."""
    assert plain("a" * 10_000, limit=20) == "a" * 19 + "…"
