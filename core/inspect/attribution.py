"""Which rows of one image decided the answer: integrated gradients of the predicted logit and row
occlusion, for a run's weights of any cell (vanilla RNN, LSTM, GRU), in NumPy
(core/inspect/backward.py). No UI."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from core.data.mnist import IMAGE_SIZE, NUM_CLASSES
from core.inspect.backward import PREDICTED, logits_and_input_gradients
from core.nn.weights import NetworkWeights, softmax

IMAGE_SHAPE = (IMAGE_SIZE, IMAGE_SIZE)
# (images (n, 28, 28) float32, target class or PREDICTED) ->
#   (logits (n, 10), explained class, d logit[explained] / d image (n, 28, 28)), all float64
LogitsAndGradients = Callable[[np.ndarray, int], tuple[np.ndarray, int, np.ndarray]]

MIN_STEPS = 32  # integrated gradients needs enough steps along the path for completeness to hold
MAX_STEPS = 1_024  # one batch of steps + 1 images goes through the model at once
# Measured on the tutorial's 128-unit RNN over 200 test images (bench/bench_attribution.py): with 64
# trapezoid steps 5 images missed completeness by more than 1% (at most 2.7%); with 128 none did (at
# most 0.22%).
DEFAULT_STEPS = 128
COMPLETENESS_TOLERANCE = 0.01  # the row sums must equal the logit difference within 1%
ROWS = IMAGE_SHAPE[0]  # one timestep each


@dataclass(frozen=True)
class Attribution:
    """Why a model gave its answer for one image (28, 28) in [0, 1].

    Integrated gradients (Sundararajan et al. 2017) of the explained class's logit from a black image
    (all zeros) to the image, by the trapezoid rule; and row occlusion: the image with row t blanked.
    """

    explained_class: int  # the class whose logit is explained: the prediction, unless asked otherwise
    pixel_attributions: np.ndarray  # (28, 28): (image - black) * mean gradient along the path
    row_attributions: np.ndarray  # (28,): pixel_attributions summed over each row's 28 pixels
    image_logit: float  # logit of explained_class for the image
    baseline_logit: float  # logit of explained_class for the black image
    steps: int  # trapezoid intervals along the path (steps + 1 gradient evaluations)
    probability: float  # P(explained_class) for the image
    occluded_probabilities: np.ndarray  # (28,): P(explained_class) with row t set to 0 (black)

    @property
    def logit_difference(self) -> float:
        """logit(image) - logit(black): what the attributions must add up to (completeness)."""
        return self.image_logit - self.baseline_logit

    @property
    def completeness_error(self) -> float:
        """|sum of row attributions - logit difference| / |logit difference| (0.01 is 1%)."""
        gap = abs(float(self.row_attributions.sum()) - self.logit_difference)
        return gap / max(abs(self.logit_difference), 1e-12)

    @property
    def occlusion_drops(self) -> np.ndarray:
        """(28,): how much P(explained_class) falls when row t is blanked (negative: it rises)."""
        return self.probability - self.occluded_probabilities


def check_image(image: np.ndarray) -> np.ndarray:
    """image as float32 (28, 28); ValueError naming what is wrong when it is not a 28 x 28 image in [0, 1]."""
    array = np.asarray(image, dtype=np.float32)
    if array.shape != IMAGE_SHAPE:
        raise ValueError(f"image must have shape (28, 28), got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError("image must hold finite values; it has NaN or infinity")
    if array.min() < 0 or array.max() > 1:
        raise ValueError(f"image values must lie in [0, 1], got [{array.min():.3g}, {array.max():.3g}]")
    return array


def _check_steps(steps: int) -> int:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not MIN_STEPS <= steps <= MAX_STEPS:
        raise ValueError(f"steps must be an integer from {MIN_STEPS} to {MAX_STEPS}, got {steps!r}")
    return int(steps)


def _check_class(target_class: int) -> int:
    if isinstance(target_class, bool) or not isinstance(target_class, (int, np.integer)) \
            or not 0 <= target_class < NUM_CLASSES:
        raise ValueError(f"target_class must be a digit from 0 to 9, got {target_class!r}")
    return int(target_class)


def attribute_image(weights: NetworkWeights, image: np.ndarray, target_class: int | None = None,
                    steps: int = DEFAULT_STEPS, refine: bool = True) -> Attribution:
    """Integrated gradients and row occlusion of target_class's logit (default: the predicted class)
    for one image (28, 28) in [0, 1] through the network of weights (core/nn/weights.py).

    One forward and backward pass (core/inspect/backward.py) over one batch: the image, its 28 occluded
    copies, and the steps + 1 images of the path from the black image to the image. With refine, a
    result whose rows miss the logit difference by more than COMPLETENESS_TOLERANCE is recomputed with
    4 times the steps, up to MAX_STEPS.
    """
    if not isinstance(weights, NetworkWeights):
        raise ValueError(f"weights must be a NetworkWeights (core/nn/weights.py), got {type(weights).__name__}")
    return attribute_with(partial(logits_and_input_gradients, weights), image, target_class, steps, refine)


def attribute_with(logits_and_gradients: LogitsAndGradients, image: np.ndarray, target_class: int | None = None,
                   steps: int = DEFAULT_STEPS, refine: bool = True) -> Attribution:
    """attribute_image for any function images -> (logits, explained class, input gradients); the
    integration and the checks, apart from the network (tests give it a model with a closed form)."""
    image = check_image(image)
    steps = _check_steps(steps)
    target = PREDICTED if target_class is None else _check_class(target_class)
    occluded = np.repeat(image[None], ROWS + 1, axis=0)  # (29, 28, 28): the image, then copy t + 1
    occluded[1 + np.arange(ROWS), np.arange(ROWS)] = 0.0  # has row t black
    batch = np.concatenate([occluded, _path(image, steps)])  # (29 + steps + 1, 28, 28)
    logits, target, gradients = logits_and_gradients(batch, target)
    probabilities = softmax(logits[: ROWS + 1])[:, target]  # (29,)
    path_logits, path_gradients = logits[ROWS + 1 :, target], gradients[ROWS + 1 :]
    while True:
        attribution = Attribution(
            explained_class=target,
            pixel_attributions=(pixels := _integrate(image, path_gradients)),
            row_attributions=pixels.sum(axis=1),
            image_logit=float(path_logits[-1]),
            baseline_logit=float(path_logits[0]),
            steps=steps,
            probability=float(probabilities[0]),
            occluded_probabilities=probabilities[1:],
        )
        if not refine or steps == MAX_STEPS or attribution.completeness_error <= COMPLETENESS_TOLERANCE:
            return attribution
        steps = min(4 * steps, MAX_STEPS)
        path_logits, _, path_gradients = logits_and_gradients(_path(image, steps), target)
        path_logits = path_logits[:, target]


def _path(image: np.ndarray, steps: int) -> np.ndarray:
    """(steps + 1, 28, 28): the straight line from the black image (first) to image (last)."""
    alphas = np.linspace(0.0, 1.0, steps + 1, dtype=np.float32)
    return alphas[:, None, None] * image[None]


def _integrate(image: np.ndarray, path_gradients: np.ndarray) -> np.ndarray:
    """(28, 28): (image - black) times the mean gradient along the path (steps + 1, 28, 28), by the
    trapezoid rule."""
    steps = len(path_gradients) - 1
    weights = np.full(steps + 1, 1.0 / steps)
    weights[[0, -1]] /= 2
    # The baseline is black (all zeros), so image - baseline is the image itself.
    return image.astype(np.float64) * np.tensordot(weights, path_gradients, axes=1)


def class_mean_images(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(10, 28, 28) float32: the mean of images (n, 28, 28) of each label (n,); a digit without
    images is all zeros."""
    images = np.asarray(images, dtype=np.float32)
    labels = np.asarray(labels)
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE or labels.shape != images.shape[:1]:
        raise ValueError(f"images must have shape (n, 28, 28) and labels (n,), got {images.shape} and {labels.shape}")
    means = np.zeros((NUM_CLASSES, *IMAGE_SHAPE), dtype=np.float32)
    for digit in range(NUM_CLASSES):
        members = images[labels == digit]
        if len(members):
            means[digit] = members.mean(axis=0, dtype=np.float64)
    return means
