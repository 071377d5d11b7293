"""What the tests of dashboard/components/network/network.js share: a blank Chromium page with it
loaded as a classic script (no Streamlit server), and arrays passed across as base64 bytes."""

from __future__ import annotations

import base64

import numpy as np

from dashboard.components.network import NETWORK_JS

# In the page beside network.js: typed arrays to and from base64, so that 100 images' states cross
# the boundary as their exact bytes rather than as JSON numbers.
BYTES_JS = """
globalThis.testBytes = {
  decode(text, Type) {
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
    return new Type(bytes.buffer);
  },
  encode(array) {
    const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
    let binary = "";
    for (let index = 0; index < bytes.length; index += 8192) {
      binary += String.fromCharCode.apply(null, bytes.subarray(index, index + 8192));
    }
    return btoa(binary);
  },
};
"""


def blank_page(browser, with_network: bool = True):
    """A new blank page with the byte helpers and, unless told otherwise, network.js as a classic script."""
    page = browser.new_page()
    page.set_default_timeout(120_000)
    page.set_content("<!doctype html><html><head></head><body></body></html>")
    page.add_script_tag(content=BYTES_JS)
    if with_network:
        page.add_script_tag(content=NETWORK_JS.read_text(encoding="utf-8"))
    return page


def encode(array: np.ndarray, dtype: str) -> str:
    """array's values as base64 bytes of dtype ("<f4", "<f8", "u1"), row-major."""
    return base64.b64encode(np.ascontiguousarray(array, dtype=dtype).tobytes()).decode("ascii")


def decode(text: str, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    """base64 bytes of dtype (little-endian) -> an array of shape."""
    return np.frombuffer(base64.b64decode(text), dtype=dtype).reshape(shape)
