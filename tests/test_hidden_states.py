"""Tests for core.inspect.traces: one image's trace and the summaries of many, on the tiny trained run."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from core.inspect.states import fit_pca
from core.inspect.traces import background_indices, summarize_states
from tests.support.keras_reference import load_model, summarize_run, trace_hidden_states, trace_image


def test_trace_image_is_row_t_of_the_batch_trace(tiny_run, mnist):
    """Check one image's trace equals its row of a batch trace, probabilities summing to one."""
    store, record = tiny_run
    model = load_model(store, record.run_id)
    batch = trace_hidden_states(model, mnist.test_images[:4])
    trace = trace_image(model, mnist.test_images[2])
    assert trace.cell_states is None
    assert_allclose(trace.hidden_states, batch.hidden_states[2], atol=1e-6)
    assert_allclose(trace.probabilities.sum(axis=1), 1.0, atol=1e-9)
    assert_array_equal(trace.probabilities.argmax(axis=1), batch.step_logits[2].argmax(axis=1))
    assert trace.states("h") is trace.hidden_states
    with pytest.raises(ValueError, match="state kind 'c' is not available; this trace has h only"):
        trace.states("c")


def test_background_indices_are_the_first_of_each_digit():
    """Check the background takes the first few images of each digit, in test-set order."""
    labels = np.array([3, 1, 3, 3, 0, 1, 3])
    assert background_indices(labels, per_class=2).tolist() == [4, 1, 5, 0, 2]


def test_summarize_states_hand_case():
    """Check class means, their differences from the mean of all images, and the projected background."""
    rng = np.random.default_rng(0)
    states = rng.standard_normal((6, 28, 3))
    labels = np.array([4, 4, 7, 7, 7, 1])
    summary = summarize_states(states, labels, per_class=1)
    assert_allclose(summary.class_means[4], states[:2].mean(axis=0))
    assert_allclose(summary.class_means[7], states[2:5].mean(axis=0))
    assert np.isnan(summary.class_means[0]).all()
    assert_allclose(summary.class_differences[1], states[5] - states.mean(axis=0))
    assert summary.background_labels.tolist() == [1, 4, 7]
    assert_allclose(summary.background, fit_pca(states).transform(states[[5, 0, 2]]))


def test_summarize_run_of_a_vanilla_rnn_has_h_only(tiny_run, mnist):
    """Check a vanilla RNN's summary covers h_t over the given images."""
    store, record = tiny_run
    images, labels = mnist.test_images[:200], mnist.test_labels[:200]
    summaries = summarize_run(load_model(store, record.run_id), images, labels)
    assert list(summaries) == ["h"]
    assert summaries["h"].class_means.shape == (10, 28, record.config.hidden_units)
    assert summaries["h"].background.shape == (len(background_indices(labels)), 28, 2)
