"""Tests for core.inspect.states: hand-computed cases, and the stored predictions of a real tiny run."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from core.inspect.states import PCA_CHUNK_ROWS, class_mean_states, decision_timestep, fit_pca, unit_order
from core.nn.weights import log_softmax, softmax
from tests.support.keras_reference import load_model, trace_hidden_states


def test_softmax_of_the_step_logits_matches_keras(tiny_run, mnist):
    """Check softmax of the traced step logits equals Keras's softmax of the model's logits at t = 28,
    and that every h_t read out by the Dense layer by hand gives the traced step logits."""
    import keras

    store, record = tiny_run
    model = load_model(store, record.run_id)
    images = mnist.test_images[:64]
    trajectory = trace_hidden_states(model, images)
    readout = model.get_layer("readout")
    logits = trajectory.hidden_states @ np.asarray(readout.kernel) + np.asarray(readout.bias)  # (64, 28, 10)
    assert_allclose(logits, trajectory.step_logits, atol=1e-5)
    reference = np.asarray(keras.ops.softmax(model(images), axis=-1))
    assert_allclose(softmax(trajectory.step_logits)[:, -1], reference, atol=1e-5)


def test_softmax_is_stable_for_large_logits():
    """Check huge logits give finite probabilities that sum to one, and log_softmax their logs."""
    logits = np.array([[1000.0, 999.0, -1000.0], [0.0, 0.0, 0.0]])
    probabilities = softmax(logits)
    assert np.isfinite(probabilities).all()
    assert_allclose(probabilities.sum(axis=-1), 1.0)
    assert_allclose(probabilities[0, :2], [np.e / (np.e + 1), 1 / (np.e + 1)])
    assert_allclose(probabilities[1], 1 / 3)
    assert_allclose(log_softmax(logits)[1], np.log(1 / 3))


@pytest.mark.parametrize("leaders, expected", [
    ([3] * 28, 1),  # never changes its mind
    ([1] * 10 + [3] * 18, 11),
    ([3] * 5 + [1] * 5 + [3] * 18, 11),  # a lead taken early and lost does not count
    ([1] * 27 + [3], 28),
])
def test_decision_timestep(leaders, expected):
    """Check the first row from which the leading class stays the final answer."""
    probabilities = np.full((28, 10), 0.05)
    probabilities[np.arange(28), leaders] = 0.55
    assert decision_timestep(probabilities) == expected


def test_unit_order_by_peak_time_hand_case():
    """Check units are ordered by the timestep of their largest |value|, a negative peak counting too."""
    states = np.zeros((28, 4))
    states[20, 0] = 0.9
    states[3, 1] = -0.8
    states[10, 2] = 0.5
    states[3, 3] = 0.7  # same peak time as unit 1: the positive one first
    assert_array_equal(unit_order(states, "peak"), [3, 1, 2, 0])
    assert_array_equal(unit_order(states, "trained"), [0, 1, 2, 3])


def test_unit_order_clustered_puts_alike_units_together():
    """Check units with the same time course end up side by side, and the order is a permutation."""
    rng = np.random.default_rng(0)
    time = np.linspace(0, 1, 28)
    shapes = [np.sin(6 * time), np.cos(6 * time), time]
    columns, groups = [], []
    for unit in range(12):
        group = [0, 1, 2][unit % 3]
        columns.append(shapes[group] * (0.5 + unit / 20) + 0.01 * rng.standard_normal(28))
        groups.append(group)
    columns.append(np.zeros(28))  # a dead unit must not break the clustering
    groups.append(3)
    order = unit_order(np.stack(columns, axis=1), "clustered")
    assert sorted(order.tolist()) == list(range(13))
    ordered_groups = [groups[unit] for unit in order]
    changes = sum(1 for left, right in zip(ordered_groups, ordered_groups[1:], strict=False) if left != right)
    assert changes == 3  # four contiguous blocks


def test_unit_order_refuses_unknown_method():
    """Check an unknown ordering names the allowed ones."""
    with pytest.raises(ValueError, match="trained, peak, clustered"):
        unit_order(np.zeros((28, 4)), "alphabetical")


def test_fit_pca_matches_the_covariance_eigenvectors():
    """Check PCA against numpy's eigen-decomposition of the covariance, up to sign."""
    rng = np.random.default_rng(1)
    states = rng.standard_normal((50, 28, 6)) @ np.diag([3.0, 2.0, 1.0, 0.5, 0.2, 0.1])
    projection = fit_pca(states, components=2)
    flat = states.reshape(-1, 6)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(flat, rowvar=False))
    top = eigenvectors[:, ::-1][:, :2].T
    assert_allclose(np.abs(np.sum(projection.components * top, axis=1)), [1.0, 1.0], atol=1e-8)
    assert_allclose(projection.explained_variance_ratio, eigenvalues[::-1][:2] / eigenvalues.sum(), rtol=1e-8)
    assert_allclose(projection.transform(flat.mean(axis=0)), [0.0, 0.0], atol=1e-12)
    assert projection.transform(states).shape == (50, 28, 2)
    with pytest.raises(ValueError, match="fitted on 6"):
        projection.transform(np.zeros((28, 5)))


def test_fit_pca_over_many_chunks_of_float32_states_matches_the_svd():
    """Check PCA of float32 states spanning several chunks equals the SVD of all of them in float64."""
    rng = np.random.default_rng(2)
    states = np.tanh(rng.standard_normal((700, 28, 16)) @ rng.standard_normal((16, 16)) * 0.3).astype(np.float32)
    assert states.shape[0] * states.shape[1] > 2 * PCA_CHUNK_ROWS
    projection = fit_pca(states, components=3)
    flat = states.reshape(-1, 16).astype(np.float64)
    _, singular_values, right_vectors = np.linalg.svd(flat - flat.mean(axis=0), full_matrices=False)
    assert_allclose(np.abs(np.sum(projection.components * right_vectors[:3], axis=1)), 1.0, atol=1e-10)
    assert_allclose(projection.explained_variance_ratio, singular_values[:3] ** 2 / np.sum(singular_values**2),
                    rtol=1e-10)
    assert_allclose(projection.mean, flat.mean(axis=0), atol=1e-12)


def test_class_means_hand_case():
    """Check per-class means, and NaN for a class with no images."""
    states = np.stack([np.full((28, 2), value) for value in (1.0, 3.0, 10.0)])
    labels = np.array([4, 4, 7])
    means = class_mean_states(states, labels)
    assert means.shape == (10, 28, 2)
    assert_allclose(means[4], 2.0)
    assert_allclose(means[7], 10.0)
    assert np.isnan(means[0]).all()
