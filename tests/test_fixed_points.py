"""Tests for core.inspect.fixed_points: a hand-built RNN with known fixed points, the Jacobian, the tiny run."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.optimize import brentq

from core.inspect.fixed_points import (
    EMPTY_ROUNDS,
    SLOW_TOLERANCE,
    find_update_fixed_points,
    time_constants,
    update_jacobian,
    visited_states,
)
from tests.support.keras_reference import load_model, trace_hidden_states

GAINS = np.array([2.0, 0.5])  # W_h = diag(2, 0.5), b = 0: unit 1 has gain above 1, unit 2 below


def grid_starts() -> np.ndarray:
    """Starting states on a 7 × 7 grid over (−1, 1)², shifted off the axes so no start is a fixed point."""
    values = np.linspace(-0.9, 0.9, 7) + 0.013
    return np.array([[first, second] for first in values for second in values])


def test_fixed_points_of_a_diagonal_rnn_are_found_and_classified():
    """Check W_h = diag(2, 0.5), b = 0 gives exactly 0 (unstable: eigenvalues 2 and 0.5) and (±h*, 0)
    with tanh(2 h*) = h* (stable: eigenvalues 2 (1 − h*²) and 0.5), every one a fixed point."""
    root = brentq(lambda h: np.tanh(2 * h) - h, 0.5, 1.0)  # 0.9575...
    points = find_update_fixed_points(np.diag(GAINS), np.zeros(2), grid_starts())
    assert points.starts == 49
    order = np.argsort(points.states[:, 0])
    assert_allclose(points.states[order], [[-root, 0], [0, 0], [root, 0]], atol=1e-6)
    assert points.is_fixed.all()
    assert points.is_stable[order].tolist() == [True, False, True]
    stable_gain = 2 * (1 - root**2)  # 0.166: the slope of tanh(2h) at h*
    # Largest |λ| first: (0.5, 0.166) at ±h*, (2, 0.5) at 0.
    assert_allclose(points.eigenvalues[order].real, [[0.5, stable_gain], [2.0, 0.5], [0.5, stable_gain]], atol=1e-6)
    assert_allclose(points.eigenvalues.imag, 0, atol=1e-12)
    # τ = −1 / ln|λ|: 0.5 fades by e in 1.44 rows; 2 grows by e every 1.44 rows (negative τ).
    assert_allclose(points.time_constants[order][1], [-1 / np.log(2), 1 / np.log(2)])


def test_a_gain_below_one_everywhere_has_the_origin_as_its_only_fixed_point():
    """Check W_h = diag(0.9, 0.5), b = 0 has the single stable fixed point 0, found from every start."""
    points = find_update_fixed_points(np.diag([0.9, 0.5]), np.zeros(2), grid_starts())
    assert len(points) == 1
    assert_allclose(points.states[0], [0, 0], atol=1e-6)
    assert points.is_stable.tolist() == [True]
    assert_allclose(points.eigenvalues[0].real, [0.9, 0.5], atol=1e-9)


# A network of four independent units (W_h diagonal), so its fixed points are every combination of
# each unit's own: tanh(w h + b) = h has three roots for units 1 and 2, one root and a slow point (a
# "ghost", where two roots merged and vanished) for unit 3, and for unit 4 (w = 1, b = 0) the single
# root 0 where the map is tangent to the identity, so q is flat along it (a slow valley the search
# can stop anywhere in, as in a trained network's slow regions with |λ| ≈ 1).
KNOWN_GAINS = np.array([2.0, 1.5, 2.0, 1.0])
KNOWN_BIASES = np.array([0.0, 0.1, 0.55, 0.0])


def unit_roots(gain: float, bias: float) -> list[float]:
    """Every root of tanh(gain h + bias) = h, bracketed on a fine grid over [-1, 1] (0 exactly when bias is 0)."""
    residual = lambda h: np.tanh(gain * h + bias) - h  # noqa: E731
    grid = np.linspace(-1.0, 1.0, 2_001) + 1e-4  # off 0, so a root at 0 is bracketed, not hit
    values = residual(grid)
    return [brentq(residual, low, high)
            for low, high, first, second in zip(grid, grid[1:], values, values[1:], strict=False)
            if first * second < 0]


def test_a_known_network_has_every_fixed_and_slow_point_once():
    """Check the four-unit diagonal network gives its 3 × 3 × 1 × 1 = 9 fixed points and 9 slow points
    (the ghost of unit 3 with every root of units 1 and 2), each exactly once, nothing else: the
    minima spread along unit 4's flat valley are one point each, and no combination is missed."""
    roots = [unit_roots(gain, bias) for gain, bias in zip(KNOWN_GAINS, KNOWN_BIASES, strict=False)]
    assert [len(unit) for unit in roots] == [3, 3, 1, 1]
    ghost = (-np.arctanh(1 / np.sqrt(2)) - 0.55) / 2  # unit 3's slowest state (see the 1-d test below)
    ghost_speed = 0.5 * (-1 / np.sqrt(2) - ghost) ** 2
    fixed = np.array([[first, second, roots[2][0], 0.0] for first in roots[0] for second in roots[1]])
    slow = np.array([[first, second, ghost, 0.0] for first in roots[0] for second in roots[1]])
    starts = np.random.default_rng(0).uniform(-1, 1, (600, 4))
    points = find_update_fixed_points(np.diag(KNOWN_GAINS), KNOWN_BIASES, starts, round_starts=50)

    assert (int(points.is_fixed.sum()), int((~points.is_fixed).sum())) == (9, 9)
    for expected, found, tolerance in ((fixed, points.states[points.is_fixed], [1e-8, 1e-8, 1e-8, 0.01]),
                                       (slow, points.states[~points.is_fixed], [1e-6, 1e-6, 1e-3, 0.1])):
        # Each expected point matched by exactly one found point (the order is by q).
        matches = np.all(np.abs(found[:, None, :] - expected[None, :, :]) <= tolerance, axis=2)  # (found, expected)
        assert matches.sum(axis=0).tolist() == [1] * 9 and matches.sum(axis=1).tolist() == [1] * 9
    assert_allclose(points.speeds[~points.is_fixed], ghost_speed, rtol=1e-3)
    assert points.hits.min() >= 2 and points.hits.sum() <= points.starts <= 600


def test_the_search_stops_after_two_rounds_without_a_new_point_none_resting_on_one_start():
    """Check the rounds of tanh(2h) (roots -h*, 0, h*), two starts a round: h* (round 1), nothing new
    (round 2), 0 from one start (round 3), nothing new (round 4: but 0 rests on one start), nothing
    new and 0 reached again (round 5): the search ends there, before the starts that would find -h*."""
    starts = np.array([[0.9], [0.8], [0.85], [0.7], [0.1], [0.75], [0.65], [0.6], [0.05], [0.95], [-0.9], [-0.8]])
    assert EMPTY_ROUNDS == 2
    points = find_update_fixed_points(np.array([[2.0]]), np.zeros(1), starts, round_starts=2)
    assert points.starts == 10
    root = brentq(lambda h: np.tanh(2 * h) - h, 0.5, 1.0)
    order = np.argsort(points.states[:, 0])
    assert_allclose(points.states[order, 0], [0.0, root], atol=1e-9)
    assert points.hits[order].tolist() == [2, 8]
    everything = find_update_fixed_points(np.array([[2.0]]), np.zeros(1), starts, round_starts=12)
    assert everything.starts == 12 and len(everything) == 3
    with pytest.raises(ValueError, match="round_starts must be an integer of at least 1, got 0"):
        find_update_fixed_points(np.array([[2.0]]), np.zeros(1), starts, round_starts=0)


def test_update_jacobian_matches_finite_differences():
    """Check J = diag(1 − F²) W_h with Keras's transposed kernel, against central differences of F."""
    rng = np.random.default_rng(3)
    kernel, bias, state = rng.normal(0, 0.8, (5, 5)), rng.normal(0, 0.3, 5), rng.uniform(-0.9, 0.9, 5)
    step = 1e-6
    update = lambda h: np.tanh(h @ kernel + bias)  # noqa: E731 - Keras's SimpleRNN on a blank row
    numeric = np.stack([(update(state + step * unit) - update(state - step * unit)) / (2 * step)
                        for unit in np.eye(5)], axis=1)  # column j: ∂F/∂h_j
    assert_allclose(update_jacobian(kernel, bias, state), numeric, atol=1e-8)


def test_time_constants_hand_values():
    """Check τ = −1 / ln|λ| for decaying, growing, complex and unit eigenvalues."""
    values = time_constants(np.array([np.exp(-1 / 4), np.exp(0.5), 0.6j * np.exp(-1 / 10) / 0.6, 1.0]))
    assert_allclose(values[:3], [4.0, -2.0, 10.0])
    assert np.isinf(values[3])


def test_slow_points_are_labelled_and_kept_apart_from_fixed_points():
    """Check the 1-d map tanh(2h + 0.55), just past the bias (0.533) where its two negative fixed
    points merge and vanish, has one fixed point h* > 0 and a slow point where they were: the minimum
    of |F(h) − h|, at 2h + 0.55 = −artanh(1/√2) (where F' = 1), with q = ½ (F(h) − h)² = 3.7e-5."""
    slow_state = (-np.arctanh(1 / np.sqrt(2)) - 0.55) / 2
    slow_speed = 0.5 * (-1 / np.sqrt(2) - slow_state) ** 2
    root = brentq(lambda h: np.tanh(2 * h + 0.55) - h, 0.5, 1.0)
    starts = np.array([[-0.9], [-0.6], [0.9]])
    points = find_update_fixed_points(np.array([[2.0]]), np.array([0.55]), starts)
    assert points.is_fixed.tolist() == [True, False]
    # A slow point's search ends once q stops falling by 0.01% a step: q is then exact to 1e-4, its
    # position (where q is flat) to about 1e-4.
    assert_allclose(points.states[:, 0], [root, slow_state], atol=2e-4)
    assert abs(points.states[0, 0] - root) < 1e-8
    assert_allclose(points.speeds[1], slow_speed, rtol=1e-4)
    strict = find_update_fixed_points(np.array([[2.0]]), np.array([0.55]), starts, slow_tolerance=1e-6)
    assert_allclose(strict.states[:, 0], [root], atol=1e-5)


def test_fixed_points_of_the_tiny_run_from_visited_states(tiny_run, mnist):
    """Check the tiny vanilla run has at least one point found from its own states, each with q below
    the slow tolerance and the eigenvalues of the Jacobian at it; the weights as Keras holds them."""
    store, record = tiny_run
    model = load_model(store, record.run_id)
    kernel = model.get_layer("recurrent").cell.recurrent_kernel.numpy()
    bias = model.get_layer("recurrent").cell.bias.numpy()
    starts = visited_states(trace_hidden_states(model, mnist.test_images[:50]).hidden_states, 40)
    points = find_update_fixed_points(kernel, bias, starts)
    assert points.starts == 40 and len(points) >= 1
    assert np.all(points.speeds < SLOW_TOLERANCE)
    first = np.sort_complex(np.linalg.eigvals(update_jacobian(kernel, bias, points.states[0])))
    assert_allclose(np.sort_complex(points.eigenvalues[0]), first, atol=1e-9)


@pytest.mark.parametrize("kernel, bias, starts, message", [
    (np.eye(2), np.zeros(3), np.zeros((1, 2)), r"bias \(units,\), got \(2, 2\) and \(3,\)"),
    (np.eye(2), np.zeros(2), np.zeros((4, 3)), r"start_states must have shape \(n, 2\) with n >= 1, got \(4, 3\)"),
    (np.eye(2), np.zeros(2), np.zeros((0, 2)), r"got \(0, 2\)"),
])
def test_bad_shapes_are_refused(kernel, bias, starts, message):
    """Check shapes that do not fit are refused with the shapes named."""
    with pytest.raises(ValueError, match=message):
        find_update_fixed_points(kernel, bias, starts)


def test_visited_states_draws_distinct_states_with_a_seed():
    """Check the starts are rows of the given states, distinct, and the same for the same seed."""
    states = np.arange(3 * 28 * 2, dtype=float).reshape(3, 28, 2)
    drawn = visited_states(states, 10, seed=4)
    assert drawn.shape == (10, 2)
    assert len({tuple(row) for row in drawn}) == 10
    assert set(map(tuple, drawn)) <= set(map(tuple, states.reshape(-1, 2)))
    assert_allclose(drawn, visited_states(states, 10, seed=4))
    with pytest.raises(ValueError, match="count must be between 1 and the 84 states given, got 85"):
        visited_states(states, 85)
