"""Tests for core.inspect.forward: the numpy forward pass against Keras's own cells, and the weights
read from a run's file without TensorFlow (run_files.read_weight_arrays)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from core.config import RNNConfig
from core.inspect.forward import trace_image_numpy, trace_states
from core.nn.weights import NetworkWeights
from core.runs.files import read_weight_arrays, write_weights
from core.runs.format import RunError, RunRecord, RunStatus
from tests.support.keras_reference import load_model, trace_hidden_states, trace_image
from tests.support.models import random_model, weights_of


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_numpy_trace_equals_the_keras_cells(cell, mnist):
    """Check hidden states, cell states and step logits equal core.nn.model's TensorFlow trace."""
    model = random_model(cell)
    images = mnist.test_images[:6]
    reference = trace_hidden_states(model, images)
    hidden, memory, logits = trace_states(weights_of(model, cell), images)
    assert_allclose(hidden, reference.hidden_states, atol=2e-5)
    assert_allclose(logits, reference.step_logits, atol=2e-5)
    if cell == "lstm":
        assert_allclose(memory, reference.cell_states, atol=2e-5)
    else:
        assert memory is None and reference.cell_states is None


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_weight_arrays_read_back_as_keras_wrote_them(cell, tmp_path):
    """Check the weights file read with h5py gives the arrays Keras saved, in Keras's order."""
    model = random_model(cell, seed=1)
    write_weights(tmp_path, model)
    record = RunRecord("0" * 16, tmp_path, RNNConfig(cell=cell, hidden_units=8), "", RunStatus.COMPLETE)
    arrays = read_weight_arrays(record)
    for name in ("recurrent", "readout"):
        layer = model.get_layer(name)
        expected = (layer.cell if name == "recurrent" else layer).get_weights()
        assert len(arrays[name]) == len(expected)
        for read, saved in zip(arrays[name], expected, strict=False):
            assert_allclose(read, saved)


def test_saved_run_traces_like_its_keras_model(tiny_run, mnist):
    """Check a run's weights, read without TensorFlow, trace an image as its loaded Keras model does."""
    store, record = tiny_run
    weights = store.load_network_weights(record.run_id)
    assert weights.cell == "rnn" and weights.units == record.config.hidden_units
    expected = trace_image(load_model(store, record.run_id), mnist.test_images[7])
    traced = trace_image_numpy(weights, mnist.test_images[7])
    assert_allclose(traced.hidden_states, expected.hidden_states, atol=2e-5)
    assert_allclose(traced.probabilities, expected.probabilities, atol=2e-5)


def test_weights_that_do_not_fit_are_refused(tmp_path):
    """Check mismatched shapes and a file without the two layers are refused with what is wrong."""
    with pytest.raises(ValueError, match=r"lstm weights: kernel has shape \(28, 8\); expected \(28, 32\)"):
        NetworkWeights("lstm", np.zeros((28, 8)), np.zeros((8, 32)), np.zeros(32), np.zeros((8, 10)), np.zeros(10))
    (tmp_path / "weights.weights.h5").write_bytes(b"not an HDF5 file")
    with pytest.raises(RunError, match="weights.weights.h5 cannot be read"):
        read_weight_arrays(RunRecord("0" * 16, tmp_path, RNNConfig(), "", RunStatus.COMPLETE))
