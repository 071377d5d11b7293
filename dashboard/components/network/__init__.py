"""The network in the browser: network.js (the forward pass and MNIST's preparation of a drawing, as
core does them) and the weights payload it loads (network_payload is its one writer, network.js
loadNetwork its one reader).

network.js puts one namespace, globalThis.RnnNetwork, on the page. An offline HTML file inlines it as
a classic <script>; a Streamlit component (st.components.v2.component, whose js is one ES module run
from a Blob URL, so it cannot import a file beside it) gets it by with_network: network.js's text first,
then the component's own module code with its default export, which finds RnnNetwork on globalThis.
"""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np

from core.nn.weights import NetworkWeights
from dashboard.components import with_dom

NETWORK_JS = Path(__file__).resolve().parent / "network.js"
# network.js refuses any other format or version: bump both together when the payload changes.
PAYLOAD_FORMAT = "rnn-network"
PAYLOAD_VERSION = 1
ARRAY_NAMES = ("kernel", "recurrent_kernel", "bias", "readout_kernel", "readout_bias")  # NetworkWeights' fields


def _encoded(array: np.ndarray) -> dict:
    """One array as {"shape": [...], "data": base64 of its little-endian float32 values, row-major}."""
    values = np.ascontiguousarray(array, dtype="<f4")
    return {"shape": list(values.shape), "data": base64.b64encode(values.tobytes()).decode("ascii")}


def network_payload(weights: NetworkWeights) -> dict:
    """The weights as the JSON network.js loadNetwork reads: the cell, the units and every array
    (float32, base64: 16/3 bytes of JSON per weight) with its shape."""
    return {"format": PAYLOAD_FORMAT, "version": PAYLOAD_VERSION, "cell": weights.cell, "units": weights.units,
            "arrays": {name: _encoded(getattr(weights, name)) for name in ARRAY_NAMES}}


def with_network(module_js: str) -> str:
    """A component's js: dom.js, network.js, then module_js (an ES module's code with its default export),
    which uses globalThis.RnnNetwork. One text, so the component needs no second copy of the network."""
    return with_dom(NETWORK_JS.read_text(encoding="utf-8") + "\n" + module_js)
