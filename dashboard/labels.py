"""Text shown to the user, formatted in one place: values echoed from the URL or a file name."""

from __future__ import annotations

import string

ECHO_LIMIT = 60  # characters of a URL value or file name repeated back to the user


def plain(value: object, limit: int = ECHO_LIMIT) -> str:
    """value as markdown that shows it literally: every ASCII punctuation mark backslash-escaped
    (no links, images, emphasis, code, icons or HTML), one line, cut to `limit` characters."""
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return "".join("\\" + character if character in string.punctuation else character for character in text)
