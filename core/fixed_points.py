"""Where a vanilla RNN's dynamics settle on a blank row: its fixed and slow points, and their stability.

A blank row (all pixels 0) is what the network reads above and below the digit. The update is then

    F(h) = tanh(W_h h + b)          (Keras stores W_h transposed: F(h) = tanh(h @ recurrent_kernel + b))

and a fixed point is an h with F(h) = h. Following Sussillo & Barak (2013), "Opening the black box",
we minimise q(h) = ½‖F(h) − h‖² from states the network visits on test images: minima with q ≈ 0
are fixed points, other shallow minima are slow points (the state barely moves there). Around a
point h*, F(h* + δ) ≈ h* + J δ with the Jacobian J = diag(1 − F(h*)²) W_h (tanh's derivative at the
pre-activation is 1 − tanh², i.e. 1 − F(h*)²). A perturbation along an eigenvector of J is multiplied
by its eigenvalue λ every row: it fades when |λ| < 1, by a factor e in τ = −1 / ln|λ| rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FIXED_TOLERANCE = 1e-10  # q below this: a fixed point (‖F(h) − h‖ below about 1.4e-5)
SLOW_TOLERANCE = 1e-4  # q below this (and above FIXED_TOLERANCE): a slow point
MERGE_DISTANCE = 1e-3  # points closer than this (Euclidean, in state space) are one point
MAX_ITERATIONS = 50  # Levenberg-Marquardt steps per start at most
STALLED = 1e-4  # a step that lowers q by less than this fraction ends that start's search
START_IMAGES = 200  # test images whose visited states seed a run's search (core/run_analysis.py)
START_COUNT = 200  # starting states drawn from them


@dataclass(frozen=True)
class FixedPoints:
    """The fixed and slow points of one update map, most exact first (lowest q).

    Time constants τ = −1 / ln|λ| in rows: positive when a perturbation fades (by e every τ rows),
    negative when it grows (by e every |τ| rows), infinite when |λ| = 1.
    """

    states: np.ndarray  # (k, units): the points h*
    speeds: np.ndarray  # (k,): q(h*) = ½‖F(h*) − h*‖²
    is_fixed: np.ndarray  # (k,) bool: q below the fixed tolerance; the others are slow points
    eigenvalues: np.ndarray  # (k, units) complex: of J at each point, largest |λ| first
    time_constants: np.ndarray  # (k, units): τ of each eigenvalue, in rows (timesteps)
    starts: int  # how many starting states the search began from

    @property
    def is_stable(self) -> np.ndarray:
        """(k,) bool: every eigenvalue inside the unit circle, so nearby states are drawn in."""
        return np.abs(self.eigenvalues).max(axis=1) < 1.0

    def __len__(self) -> int:
        return len(self.states)


def update_jacobian(recurrent_kernel: np.ndarray, bias: np.ndarray, state: np.ndarray) -> np.ndarray:
    """J = ∂F/∂h (units, units) at state (units,): J[i, j] = (1 − F_i²) W_h[i, j], W_h = recurrent_kernelᵀ."""
    updated = np.tanh(state @ recurrent_kernel + bias)
    return (1.0 - updated**2)[:, None] * recurrent_kernel.T


def time_constants(eigenvalues: np.ndarray) -> np.ndarray:
    """τ = −1 / ln|λ| in rows, for eigenvalues of any shape (see FixedPoints)."""
    with np.errstate(divide="ignore"):
        return -1.0 / np.log(np.abs(eigenvalues))


def find_update_fixed_points(recurrent_kernel: np.ndarray, bias: np.ndarray, start_states: np.ndarray,
                             fixed_tolerance: float = FIXED_TOLERANCE, slow_tolerance: float = SLOW_TOLERANCE,
                             merge_distance: float = MERGE_DISTANCE) -> FixedPoints:
    """Fixed and slow points of F(h) = tanh(h @ recurrent_kernel + b), from start_states (n, units).

    recurrent_kernel (units, units) and bias (units,) as Keras's SimpleRNNCell stores them. Each start
    is minimised on its own (Levenberg-Marquardt, all starts at once; see _minimise_speeds); minima
    within merge_distance of a lower one are dropped, and those with q above slow_tolerance are not kept.
    """
    recurrent_kernel = np.asarray(recurrent_kernel, dtype=np.float64)
    bias = np.asarray(bias, dtype=np.float64)
    start_states = np.asarray(start_states, dtype=np.float64)
    units = recurrent_kernel.shape[0]
    if recurrent_kernel.shape != (units, units) or bias.shape != (units,):
        raise ValueError(f"recurrent_kernel must be (units, units) and bias (units,), got "
                         f"{recurrent_kernel.shape} and {bias.shape}")
    if start_states.ndim != 2 or start_states.shape[1] != units or len(start_states) == 0:
        raise ValueError(f"start_states must have shape (n, {units}) with n >= 1, got {start_states.shape}")
    if not 0 < fixed_tolerance <= slow_tolerance:
        raise ValueError(f"tolerances must satisfy 0 < fixed_tolerance <= slow_tolerance, got "
                         f"{fixed_tolerance} and {slow_tolerance}")

    found, speeds = _minimise_speeds(recurrent_kernel, bias, start_states)

    kept: list[int] = []
    for index in np.argsort(speeds, kind="stable"):  # lowest q first, so each cluster keeps its best point
        if speeds[index] > slow_tolerance:
            break
        if all(np.linalg.norm(found[index] - found[other]) > merge_distance for other in kept):
            kept.append(int(index))
    states = found[kept].reshape(len(kept), units)
    eigenvalues = np.zeros((len(kept), units), dtype=complex)
    for row, state in enumerate(states):
        values = np.linalg.eigvals(update_jacobian(recurrent_kernel, bias, state))
        eigenvalues[row] = values[np.argsort(-np.abs(values), kind="stable")]
    return FixedPoints(states=states, speeds=speeds[kept], is_fixed=speeds[kept] < fixed_tolerance,
                       eigenvalues=eigenvalues, time_constants=time_constants(eigenvalues),
                       starts=len(start_states))


def _speeds(recurrent_kernel: np.ndarray, bias: np.ndarray, states: np.ndarray) -> np.ndarray:
    """q(h) = ½‖F(h) − h‖² of each state (n, units) -> (n,)."""
    residual = np.tanh(states @ recurrent_kernel + bias) - states
    return 0.5 * np.einsum("ij,ij->i", residual, residual)


def _minimise_speeds(recurrent_kernel: np.ndarray, bias: np.ndarray, start_states: np.ndarray,
                     iterations: int = MAX_ITERATIONS) -> tuple[np.ndarray, np.ndarray]:
    """Minimise q from every start: (states (n, units), q (n,)) at the minima reached.

    Levenberg-Marquardt on the residual r(h) = F(h) − h, whose Jacobian is A = J − I: each step solves
    (AᵀA + μ I) δ = −Aᵀ r for every start at once (batched solves in numpy). Near a fixed point
    (μ → 0) this is Newton's method and converges in a few steps to machine precision; at a slow point
    (no root, a minimum of q above 0) it is Gauss-Newton, which converges more slowly, so a start whose
    q stops falling (STALLED) ends there. Starts that meet are merged. scipy's L-BFGS, one start at a
    time, did not finish 300 starts of a 128-unit network in 15 minutes on the busy test machine.
    """
    states = start_states.copy()
    count, units = states.shape
    damping = np.full(count, 1e-3)  # μ per start: raised after a step that fails, lowered after one that works
    speeds = _speeds(recurrent_kernel, bias, states)
    active = np.ones(count, dtype=bool)
    for _ in range(iterations):
        rows = np.flatnonzero(active)
        if len(rows) == 0:
            break
        current = states[rows]
        updated = np.tanh(current @ recurrent_kernel + bias)
        residual = updated - current  # (m, units)
        gradient, step = _damped_steps(recurrent_kernel, updated, residual, damping[rows])
        trial = current + step
        trial_speeds = _speeds(recurrent_kernel, bias, trial)
        before = speeds[rows]
        better = trial_speeds < before
        states[rows[better]] = trial[better]
        speeds[rows[better]] = trial_speeds[better]
        damping[rows] = np.where(better, damping[rows] / 3, damping[rows] * 4)
        # Done: exact to float64's precision, at a minimum (no gradient left), stalled (a slow point
        # creeping: it is good enough as a slow point), or no step helps any more.
        finished = ((speeds[rows] < 1e-26) | (np.linalg.norm(gradient, axis=1) < 1e-13)
                    | (better & (speeds[rows] > (1 - STALLED) * before)) | (damping[rows] > 1e8))
        active[rows[finished]] = False
        # Starts that have run into each other follow the same path from here: keep the lowest q.
        rows = np.flatnonzero(active)
        squared = np.einsum("ij,ij->i", states[rows], states[rows])
        distances = np.sqrt(np.maximum(squared[:, None] + squared[None] - 2 * states[rows] @ states[rows].T, 0))
        lower = speeds[rows][None, :] < speeds[rows][:, None]  # [i, j]: start j is lower than start i
        merged = ((distances < MERGE_DISTANCE / 10) & lower).any(axis=1)
        active[rows[merged]] = False
        speeds[rows[merged]] = np.inf  # a duplicate: not a point of its own
    return states, speeds


def _damped_steps(recurrent_kernel: np.ndarray, updated: np.ndarray, residual: np.ndarray,
                  damping: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(∇q (m, units), the Levenberg-Marquardt step δ (m, units)) at m states with F(h) = updated and
    r = residual, solving (AᵀA + μ I) δ = −Aᵀ r with A = diag(1 − F²) W_h − I for each state.

    Batched solves in numpy: the entry points run BLAS on one thread (core.process), without which
    OpenBLAS's threads made these solves 25 times slower on a busy 2-core machine.
    """
    units = recurrent_kernel.shape[0]
    identity = np.eye(units)
    # A[m] = diag(1 − F²) W_h − I with W_h = recurrent_kernelᵀ: (m, units, units)
    residual_jacobian = (1.0 - updated**2)[:, :, None] * recurrent_kernel.T[None] - identity
    transposed = residual_jacobian.transpose(0, 2, 1)
    gradient = np.matmul(transposed, residual[:, :, None])[:, :, 0]  # Aᵀ r
    system = np.matmul(transposed, residual_jacobian) + damping[:, None, None] * identity
    step = -np.linalg.solve(system, gradient[:, :, None])[:, :, 0]
    return gradient, step


def visited_states(hidden_states: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """count states (count, units) drawn without replacement from hidden_states (n, 28, units),
    every image and timestep equally likely, with a fixed seed (the same starts on every view)."""
    flat = np.asarray(hidden_states).reshape(-1, np.shape(hidden_states)[-1])
    if not 1 <= count <= len(flat):
        raise ValueError(f"count must be between 1 and the {len(flat)} states given, got {count}")
    return flat[np.random.default_rng(seed).choice(len(flat), size=count, replace=False)]
