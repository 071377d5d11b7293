"""network.js's forward pass in Chromium against core's numpy forward pass (itself checked against the
Keras cells in test_numpy_trace.py), on 100 real MNIST test images per cell, and its payload checks.

Each cell is checked with a tiny trained run (the session's vanilla run, an LSTM and a GRU trained
here the same way) and with random networks scaled like trained ones: 128 units, the real size, and
13 units (the recurrent product goes four rows at a time; 13 leaves a remainder).
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from core.inspect.forward import forward_pass, trace_states
from core.nn.weights import GATES, NetworkWeights, softmax
from core.runs.store import RunStore
from core.runs.train import train_run
from dashboard.components.network import NETWORK_JS, network_payload, with_network
from tests.conftest import TINY_CONFIG
from tests.support.network_js import blank_page, decode, encode

pytestmark = pytest.mark.browser

IMAGES = 100
# Issue 21 asks for 1e-5. Both sides compute in float64, so they agree far closer, and a slip to
# float32 anywhere in network.js (differences near 1e-7) must fail too.
TOLERANCE = 1e-12

# Runs every image through the network in the page; returns every output's bytes.
RUN_ALL_JS = """([payload, imagesBase64, count]) => {
  const network = RnnNetwork.loadNetwork(payload);
  const images = testBytes.decode(imagesBase64, Float32Array);
  const units = network.units, memory = network.cell === "lstm";
  const out = {hidden: new Float64Array(count * 28 * units),
               memory: memory ? new Float64Array(count * 28 * units) : null,
               logits: new Float64Array(count * 280), probabilities: new Float64Array(count * 280),
               predictions: []};
  for (let index = 0; index < count; index++) {
    const trace = network.run(images.subarray(index * 784, (index + 1) * 784));
    out.hidden.set(trace.hidden, index * 28 * units);
    if (memory) out.memory.set(trace.memory, index * 28 * units);
    out.logits.set(trace.logits, index * 280);
    out.probabilities.set(trace.probabilities, index * 280);
    out.predictions.push(trace.prediction);
  }
  return {cell: network.cell, units, predictions: out.predictions, hidden: testBytes.encode(out.hidden),
          memory: memory ? testBytes.encode(out.memory) : null, logits: testBytes.encode(out.logits),
          probabilities: testBytes.encode(out.probabilities)};
}"""

# The error loadNetwork throws for a payload, as {name, message}; null when it loads.
LOAD_ERROR_JS = """(payload) => {
  try { RnnNetwork.loadNetwork(payload); return null; }
  catch (error) { return {name: error.name, message: error.message}; }
}"""


@pytest.fixture(scope="module")
def browser(chromium):
    return chromium


@pytest.fixture(scope="module")
def page(browser):
    page = blank_page(browser)
    yield page
    page.close()


@pytest.fixture(scope="module")
def trained_weights(tiny_run, mnist, tmp_path_factory) -> dict[str, NetworkWeights]:
    """Every cell's weights from a tiny trained run: the session's vanilla run, and an LSTM and a GRU
    trained here with the same config (as test_app_inspect.py's lstm_run)."""
    store, record = tiny_run
    weights = {"rnn": store.load_network_weights(record.run_id)}
    other_store = RunStore(tmp_path_factory.mktemp("network-js-runs"))
    for cell in ("lstm", "gru"):
        other, _ = train_run(other_store, TINY_CONFIG.replace(cell=cell), mnist)
        weights[cell] = other_store.load_network_weights(other.run_id)
    return weights


def random_weights(cell: str, units: int = 128, seed: int = 0) -> NetworkWeights:
    """A network of the real size whose arrays have a trained one's scale: the input kernel and the
    readout with a standard deviation of 0.3, an orthogonal recurrent kernel (as Keras initialises it,
    and training keeps it near), biases of 0.2 (both of a GRU's): its states are neither saturated
    nor near 0 (the test checks)."""
    rng = np.random.default_rng(seed)
    width = GATES[cell] * units
    orthogonal, _ = np.linalg.qr(rng.normal(size=(width, units)))  # (width, units), orthonormal columns
    bias_shape = (2, width) if cell == "gru" else (width,)
    return NetworkWeights(cell, rng.normal(0.0, 0.3, (28, width)).astype(np.float32),
                          orthogonal.T.astype(np.float32), rng.normal(0.0, 0.2, bias_shape).astype(np.float32),
                          rng.normal(0.0, 0.3, (units, 10)).astype(np.float32),
                          rng.normal(0.0, 0.2, 10).astype(np.float32))


def run_in_page(page, weights: NetworkWeights, images: np.ndarray) -> dict:
    """network.js's outputs for images (n, 28, 28): hidden (n, 28, units), memory (LSTM), logits and
    probabilities (n, 28, 10), predictions (n,)."""
    count, units = len(images), weights.units
    result = page.evaluate(RUN_ALL_JS, [network_payload(weights), encode(images, "<f4"), count])
    assert (result["cell"], result["units"]) == (weights.cell, units)
    states = (count, 28, units)
    return {"hidden": decode(result["hidden"], "<f8", states),
            "memory": None if result["memory"] is None else decode(result["memory"], "<f8", states),
            "logits": decode(result["logits"], "<f8", (count, 28, 10)),
            "probabilities": decode(result["probabilities"], "<f8", (count, 28, 10)),
            "predictions": np.array(result["predictions"])}


def numpy_outputs(weights: NetworkWeights, images: np.ndarray, dtype) -> dict:
    """core's forward pass in dtype, with the readout after every row as trace_states applies it."""
    if dtype == np.float32:
        hidden, memory, logits = trace_states(weights, images)
    else:
        states = forward_pass(weights, images, dtype=np.float64, keep_gates=False)
        hidden = states.hidden.transpose(1, 0, 2)
        memory = None if states.memory is None else states.memory.transpose(1, 0, 2)
        logits = hidden @ weights.readout_kernel.astype(np.float64) + weights.readout_bias.astype(np.float64)
    return {"hidden": hidden, "memory": memory, "logits": logits, "probabilities": softmax(logits)}


def largest_differences(outputs: dict, reference: dict) -> dict[str, float]:
    return {name: float(np.abs(outputs[name] - reference[name]).max())
            for name in ("hidden", "memory", "logits", "probabilities") if reference[name] is not None}


@pytest.mark.parametrize("source", ["trained", "random-128", "random-13"])  # 13: not a multiple of 4 units
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_forward_pass_agrees_with_numpy(cell, source, page, trained_weights, mnist):
    """Check states, cell states, logits and probabilities after every row agree with core's float64
    forward pass within 1e-12 on 100 MNIST test images, and the prediction is the argmax after row 28."""
    weights = trained_weights[cell] if source == "trained" else random_weights(cell, int(source.split("-")[1]))
    images = mnist.test_images[:IMAGES]
    outputs = run_in_page(page, weights, images)
    reference = numpy_outputs(weights, images, np.float64)
    differences = largest_differences(outputs, reference)
    float32_differences = largest_differences(outputs, numpy_outputs(weights, images, np.float32))
    print(f"\n{cell} {source} ({weights.units} units): largest |JS - numpy float64| {differences}; "
          f"|JS - numpy float32| {float32_differences}")
    assert (outputs["memory"] is None) == (cell != "lstm")
    assert max(differences.values()) < TOLERANCE, differences
    assert_array_equal(outputs["predictions"], reference["probabilities"][:, -1].argmax(axis=1))
    # Agreement means something only on outputs that vary with the image: states neither saturated nor
    # near 0 and different between images. The tiny runs' readout has barely left its initialisation
    # (a standard deviation of 0.01), so their probabilities stay near 0.1: the network of the real
    # size is the one whose probabilities must differ between images.
    assert 0.05 < np.abs(outputs["hidden"]).mean() < 0.9
    assert outputs["hidden"][:, -1].std(axis=0).max() > 0.05
    if source == "random-128":
        assert outputs["probabilities"][:, -1].std(axis=0).max() > 0.01


def test_states_do_not_leak_between_images(page, trained_weights, mnist):
    """Check an image read after others gives the trace it gives when read first (h_0 = c_0 = 0)."""
    weights = trained_weights["lstm"]
    alone = run_in_page(page, weights, mnist.test_images[7:8])
    after = run_in_page(page, weights, mnist.test_images[:8])
    for name in ("hidden", "memory", "probabilities"):
        assert_array_equal(after[name][7], alone[name][0])


def _payload(weights: NetworkWeights, change) -> dict:
    payload = copy.deepcopy(network_payload(weights))
    change(payload)
    return payload


@pytest.mark.parametrize(("change", "message"), [
    (lambda payload: payload.update(cell="transformer"),
     'network payload: cell "transformer" is not known; allowed: rnn, lstm, gru'),
    (lambda payload: payload.update(cell="gru"),  # an LSTM's arrays under another cell's name
     "gru weights: kernel has shape (28, 64); expected (28, 48)"),
    (lambda payload: payload.update(units=32),
     "lstm weights: kernel has shape (28, 64); expected (28, 128)"),
    (lambda payload: payload["arrays"]["recurrent_kernel"].update(shape=[16, 60]),
     "lstm weights: recurrent_kernel has shape (16, 60); expected (16, 64)"),
    (lambda payload: payload["arrays"]["bias"].update(shape=[2, 64]),
     "lstm weights: bias has shape (2, 64); expected (64,)"),
    (lambda payload: payload["arrays"]["bias"].update(shape=["64"]),
     'lstm weights: bias has shape ("64",); expected (64,)'),
    (lambda payload: payload["arrays"].pop("readout_kernel"),
     "lstm weights: readout_kernel is missing (expected shape (16, 10))"),
    (lambda payload: payload["arrays"]["readout_bias"].update(data=payload["arrays"]["readout_bias"]["data"][:-8]),
     "lstm weights: readout_bias: data holds 36 bytes; expected 40 (10 float32 values)"),
    (lambda payload: payload["arrays"]["readout_bias"].update(data="not base64!"),
     "lstm weights: readout_bias: data is not valid base64"),
    (lambda payload: payload.update(units="16"), 'network payload: units "16" must be a whole number of at least 1'),
    (lambda payload: payload.update(version=2),
     'network payload: format "rnn-network" version 2 is not readable; expected "rnn-network" version 1'),
])
def test_bad_payloads_are_refused(change, message, page, trained_weights):
    """Check a payload that does not fit its cell, units or format is refused with a one-line NetworkError."""
    error = page.evaluate(LOAD_ERROR_JS, _payload(trained_weights["lstm"], change))
    assert error == {"name": "NetworkError", "message": message}


@pytest.mark.parametrize(("payload", "message"), [
    ("[1, 2]", "network payload: expected an object made by network_payload"),
    ("{", "network payload: not valid JSON"),
    (None, "network payload: expected an object made by network_payload"),
])
def test_payloads_that_are_not_objects_are_refused(payload, message, page):
    """Check JSON text that is no payload, and null, are refused with a NetworkError."""
    assert page.evaluate(LOAD_ERROR_JS, payload) == {"name": "NetworkError", "message": message}


def test_payload_loads_as_json_text(page, trained_weights, mnist):
    """Check the payload's JSON text loads as the object does (an HTML file can embed it as text)."""
    weights = trained_weights["gru"]
    prediction = page.evaluate("""([text, image]) => RnnNetwork.loadNetwork(text)
        .run(testBytes.decode(image, Float32Array)).prediction""",
                               [json.dumps(network_payload(weights)), encode(mnist.test_images[0], "<f4")])
    assert prediction == run_in_page(page, weights, mnist.test_images[:1])["predictions"][0]


def test_an_image_of_another_size_is_refused(page, trained_weights):
    """Check run() refuses an image that is not 28 x 28 values."""
    error = page.evaluate("""(payload) => {
        try { RnnNetwork.loadNetwork(payload).run(new Float32Array(27 * 28)); return null; }
        catch (error) { return error.message; } }""", network_payload(trained_weights["rnn"]))
    assert error == "the image must hold 784 values (28 x 28, row-major), got 756"


def test_network_payload_holds_the_weights_as_float32(trained_weights):
    """Check the payload names the cell and units and holds every array's float32 bytes and shape."""
    weights = trained_weights["gru"]
    payload = network_payload(weights)
    assert (payload["format"], payload["version"], payload["cell"], payload["units"]) == ("rnn-network", 1, "gru", 16)
    assert payload["arrays"]["bias"]["shape"] == [2, 48]
    for name, entry in payload["arrays"].items():
        assert_array_equal(decode(entry["data"], "<f4", tuple(entry["shape"])), getattr(weights, name))
    json.dumps(payload)  # plain JSON types only


# A component's module as Streamlit 1.67 loads it (BidiComponent: the js text in a Blob of type
# text/javascript, then import() of its URL and a call of its default export).
IMPORT_AS_STREAMLIT_JS = """async ([source, payload, image]) => {
  const url = URL.createObjectURL(new Blob([source], {type: "text/javascript"}));
  const module = await import(url);
  return module.default({data: {payload, image}});
}"""

COMPONENT_MODULE_JS = """
export default function (component) {
  const {payload, image} = component.data;
  const network = globalThis.RnnNetwork.loadNetwork(payload);
  return network.run(testBytes.decode(image, Float32Array)).prediction;
}
"""


def test_network_js_runs_in_a_component_module(browser, trained_weights, mnist):
    """Check with_network's text imports as an ES module, as Streamlit's v2 components load their js,
    and its default export finds RnnNetwork on a page that never loaded network.js otherwise."""
    page = blank_page(browser, with_network=False)
    try:
        assert page.evaluate("() => typeof globalThis.RnnNetwork") == "undefined"
        weights = trained_weights["lstm"]
        prediction = page.evaluate(IMPORT_AS_STREAMLIT_JS, [with_network(COMPONENT_MODULE_JS), network_payload(weights),
                                                            encode(mnist.test_images[3], "<f4")])
        expected = numpy_outputs(weights, mnist.test_images[3:4], np.float64)["probabilities"][0, -1].argmax()
        assert prediction == expected
    finally:
        page.close()


def test_network_js_has_no_module_syntax_or_closing_script_tag():
    """Check network.js stays loadable both ways: a classic script cannot hold import or export
    statements, and an HTML file that inlines it must not find its script closed early."""
    text = NETWORK_JS.read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines()]
    assert not [line for line in lines if line.startswith(("import ", "export "))]
    assert "</script" not in text.lower()
