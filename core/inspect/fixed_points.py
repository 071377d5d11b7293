"""Where a vanilla RNN's dynamics settle on a blank row: its fixed and slow points, and their stability.

A blank row (all pixels 0) is what the network reads above and below the digit. The update is then

    F(h) = tanh(W_h h + b)          (Keras stores W_h transposed: F(h) = tanh(h @ recurrent_kernel + b))

and a fixed point is an h with F(h) = h. Following Sussillo & Barak (2013), "Opening the black box",
we minimise q(h) = ½‖F(h) − h‖² from states the network visits on test images: minima with q ≈ 0
are fixed points, other shallow minima are slow points (the state barely moves there). Minima with
no faster stretch of state space between them are one point, and the search goes on, a round of
starts at a time, until new starts stop finding new points (find_update_fixed_points). Around a
point h*, F(h* + δ) ≈ h* + J δ with the Jacobian J = diag(1 − F(h*)²) W_h (tanh's derivative at the
pre-activation is 1 − tanh², i.e. 1 − F(h*)²). A perturbation along an eigenvector of J is multiplied
by its eigenvalue λ every row: it fades when |λ| < 1, by a factor e in τ = −1 / ln|λ| rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FIXED_TOLERANCE = 1e-10  # q below this: a fixed point (‖F(h) − h‖ below about 1.4e-5)
SLOW_TOLERANCE = 1e-4  # q below this (and above FIXED_TOLERANCE): a slow point
SAME_POINT_RISE = 2.0  # two minima are one point when q between them stays below this many times theirs (_same_point)
SEGMENT_SAMPLES = 9  # states checked on the segment between two minima
MEET_DISTANCE = 1e-4  # two starts this close while searching follow the same path from there on
MAX_ITERATIONS = 200  # Levenberg-Marquardt steps per start at most
STALL_STEPS = 10  # a start still above SLOW_TOLERANCE whose q fell by less than STALL_FRACTION over
STALL_FRACTION = 1e-3  # its last STALL_STEPS steps sits in a minimum of q that is no point: it ends there
ROUND_STARTS = 100  # starts per round of the search (see find_update_fixed_points)
EMPTY_ROUNDS = 2  # rounds in a row that find no new point before the search may stop
START_IMAGES = 200  # test images whose visited states seed a run's search (core/inspect/stored_analysis.py)
MAX_STARTS = 1_000  # starting states drawn from them: the search stops earlier once rounds find nothing new


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
    hits: np.ndarray  # (k,) int: how many starts ended at each point
    starts: int  # how many starting states the search used

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
                             round_starts: int = ROUND_STARTS) -> FixedPoints:
    """Fixed and slow points of F(h) = tanh(h @ recurrent_kernel + b), searched from start_states (n, units).

    recurrent_kernel (units, units) and bias (units,) as Keras's SimpleRNNCell stores them. The starts
    are taken in order, round_starts at a time; each is minimised on its own (Levenberg-Marquardt, a
    round's starts at once; see _minimise_speeds), and the minima with q at most slow_tolerance are
    merged into the points found so far (_same_point). The search stops once EMPTY_ROUNDS rounds in a
    row have added no new point and every point found so far was reached from at least two starts, or
    when the starts run out. The share of starts whose point no other start reached is the Good-Turing
    estimate of the chance that one more start finds a point not seen yet: the rule waits until that
    estimate is 0 and EMPTY_ROUNDS * round_starts further starts agree. A point that fewer than about
    one start in EMPTY_ROUNDS * round_starts leads to can still be missed.
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
    if isinstance(round_starts, bool) or not isinstance(round_starts, (int, np.integer)) or round_starts < 1:
        raise ValueError(f"round_starts must be an integer of at least 1, got {round_starts!r}")

    states: list[np.ndarray] = []
    speeds: list[float] = []
    hits: list[int] = []
    used, empty_rounds = 0, 0
    while used < len(start_states):
        minima, minimum_speeds, minimum_hits = _minimise_speeds(recurrent_kernel, bias,
                                                                start_states[used:used + round_starts])
        used += round_starts
        new = 0
        for index in np.argsort(minimum_speeds, kind="stable"):  # lowest q first: a region keeps its best point
            speed = float(minimum_speeds[index])
            if speed > slow_tolerance:
                break
            same = next((point for point in range(len(states)) if _same_point(
                recurrent_kernel, bias, states[point], speeds[point], minima[index], speed, fixed_tolerance)), None)
            if same is None:
                states.append(minima[index])
                speeds.append(speed)
                hits.append(int(minimum_hits[index]))
                new += 1
                continue
            hits[same] += int(minimum_hits[index])
            if speed < speeds[same]:  # a lower point of the same region (found in a later round) represents it
                states[same], speeds[same] = minima[index], speed
        empty_rounds = 0 if new else empty_rounds + 1
        if empty_rounds >= EMPTY_ROUNDS and min(hits, default=2) >= 2:
            break

    order = np.argsort(speeds, kind="stable")
    points = np.asarray(states, dtype=np.float64).reshape(len(states), units)[order]
    point_speeds = np.asarray(speeds, dtype=np.float64)[order]
    eigenvalues = np.zeros((len(points), units), dtype=complex)
    for row, state in enumerate(points):
        values = np.linalg.eigvals(update_jacobian(recurrent_kernel, bias, state))
        eigenvalues[row] = values[np.argsort(-np.abs(values), kind="stable")]
    return FixedPoints(states=points, speeds=point_speeds, is_fixed=point_speeds < fixed_tolerance,
                       eigenvalues=eigenvalues, time_constants=time_constants(eigenvalues),
                       hits=np.asarray(hits, dtype=np.int64)[order], starts=min(used, len(start_states)))


def _same_point(recurrent_kernel: np.ndarray, bias: np.ndarray, first: np.ndarray, first_speed: float,
                second: np.ndarray, second_speed: float, fixed_tolerance: float) -> bool:
    """Whether two minima of q are what a user would call one point: the state moves about as slowly
    everywhere on the straight segment between them (q at most SAME_POINT_RISE times the higher of
    the two, or below fixed_tolerance), so no faster stretch of state space separates them.

    Two distinct roots of F(h) = h are always apart by this rule (q rises between them, since q is 0
    only at roots), unless the whole segment is within fixed_tolerance, a line of states that do not
    move. Minima along one slow valley (a search stops anywhere in it when q is flat along the valley)
    are one point; so is a start that stopped short on its way to a fixed point. A distance alone
    cannot tell these apart: slow valleys are wider than the gaps between distinct points.
    """
    fractions = np.linspace(0.0, 1.0, SEGMENT_SAMPLES + 2)[1:-1, None]
    segment = first + fractions * (second - first)  # (SEGMENT_SAMPLES, units)
    highest = _speeds(recurrent_kernel, bias, segment).max()
    return bool(highest <= max(SAME_POINT_RISE * max(first_speed, second_speed), fixed_tolerance))


def _speeds(recurrent_kernel: np.ndarray, bias: np.ndarray, states: np.ndarray) -> np.ndarray:
    """q(h) = ½‖F(h) − h‖² of each state (n, units) -> (n,)."""
    residual = np.tanh(states @ recurrent_kernel + bias) - states
    return 0.5 * np.einsum("ij,ij->i", residual, residual)


def _minimise_speeds(recurrent_kernel: np.ndarray, bias: np.ndarray, start_states: np.ndarray,
                     iterations: int = MAX_ITERATIONS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimise q from every start: (minima (n, units), their q (n,), how many starts ended at each (n,)).

    Levenberg-Marquardt on the residual r(h) = F(h) − h, whose Jacobian is A = J − I: each step solves
    (AᵀA + μ I) δ = −Aᵀ r for every start at once (batched solves in numpy). Near a fixed point
    (μ → 0) this is Newton's method and converges in a few steps to machine precision; at a slow point
    (no root, a minimum of q above 0) it is Gauss-Newton, which converges more slowly and runs until
    no step helps. Most visited states lead to neither but to a minimum of q far above SLOW_TOLERANCE,
    where q stops falling: a start there ends after STALL_STEPS steps that lowered q by less than
    STALL_FRACTION in all. A start that runs into another (MEET_DISTANCE) follows it: its count goes
    to the other, and its own q is set to inf. scipy's L-BFGS, one start at a time, did not finish
    300 starts of a 128-unit network in 15 minutes on the busy test machine.
    """
    states = start_states.copy()
    count = len(states)
    damping = np.full(count, 1e-3)  # μ per start: raised after a step that fails, lowered after one that works
    speeds = _speeds(recurrent_kernel, bias, states)
    history = np.full((count, STALL_STEPS), np.inf)  # each start's q over its last STALL_STEPS steps
    followed = np.arange(count)  # the start each start's path joined (itself until it meets another)
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
        better = trial_speeds < speeds[rows]
        states[rows[better]] = trial[better]
        speeds[rows[better]] = trial_speeds[better]
        damping[rows] = np.where(better, damping[rows] / 3, damping[rows] * 4)
        stalled = (speeds[rows] > SLOW_TOLERANCE) & (speeds[rows] > (1 - STALL_FRACTION) * history[rows, 0])
        history[rows] = np.column_stack([history[rows, 1:], speeds[rows]])
        # Done: exact to float64's precision, at a minimum (no gradient left), no step helps any more,
        # or stuck in a minimum of q that is neither a fixed nor a slow point.
        finished = ((speeds[rows] < 1e-26) | (np.linalg.norm(gradient, axis=1) < 1e-13) | (damping[rows] > 1e8)
                    | stalled)
        active[rows[finished]] = False
        # Starts that have run into each other follow the same path from here: the lower one goes on.
        rows = np.flatnonzero(active)
        squared = np.einsum("ij,ij->i", states[rows], states[rows])
        distances = np.sqrt(np.maximum(squared[:, None] + squared[None] - 2 * states[rows] @ states[rows].T, 0))
        lower = speeds[rows][None, :] < speeds[rows][:, None]  # [i, j]: start j is lower than start i
        meets = (distances < MEET_DISTANCE) & lower
        merged = meets.any(axis=1)
        if merged.any():
            followed[rows[merged]] = rows[np.argmax(meets[merged], axis=1)]
            active[rows[merged]] = False
    while np.any(followed[followed] != followed):  # a start followed one that later followed another
        followed = followed[followed]
    hits = np.bincount(followed, minlength=count)
    speeds[followed != np.arange(count)] = np.inf  # a start that joined another is not a minimum of its own
    return states, speeds, hits


def _damped_steps(recurrent_kernel: np.ndarray, updated: np.ndarray, residual: np.ndarray,
                  damping: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(∇q (m, units), the Levenberg-Marquardt step δ (m, units)) at m states with F(h) = updated and
    r = residual, solving (AᵀA + μ I) δ = −Aᵀ r with A = diag(1 − F²) W_h − I for each state.

    Batched solves in numpy: the entry points run BLAS on one thread (core.process_settings), as
    OpenBLAS's threads spend longer waiting on each other than these small solves take.
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
