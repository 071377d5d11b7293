"""Which rows of one image decided the answer: integrated gradients of the predicted logit and row
occlusion, for any model built by core.model (vanilla RNN, LSTM, GRU). No UI."""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import numpy as np

from core.analysis import NUM_CLASSES, softmax

IMAGE_SHAPE = (28, 28)  # rows are timesteps, columns the 28 pixels of a row
MIN_STEPS = 32  # integrated gradients needs enough steps along the path for completeness to hold
MAX_STEPS = 1_024  # one batch of steps + 1 images goes through the model at once
# Measured on the tutorial's 128-unit RNN over 200 test images (bench/bench_attribution.py): with 64
# trapezoid steps 5 images missed completeness by more than 1% (at most 2.7%); with 128 none did (at
# most 0.22%), at a median of 86 ms per image on the busy 2-core machine.
DEFAULT_STEPS = 128
COMPLETENESS_TOLERANCE = 0.01  # the row sums must equal the logit difference within 1%


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


def attribute_image(model, image: np.ndarray, target_class: int | None = None, steps: int = DEFAULT_STEPS,
                    refine: bool = True) -> Attribution:
    """Integrated gradients and row occlusion of target_class's logit (default: the predicted class)
    for one image (28, 28) in [0, 1] through model (images (n, 28, 28) -> logits (n, 10)).

    Two calls into the model, each one compiled graph: a forward pass over the image and its 28
    occluded copies, then one forward and backward pass over all steps + 1 images of the path from
    the black image (first) to the image (last). With refine, a result whose rows miss the logit
    difference by more than COMPLETENESS_TOLERANCE is recomputed with 4 times the steps, up to MAX_STEPS.
    """
    import tensorflow as tf  # imported only when a model is used

    image = check_image(image)
    steps = _check_steps(steps)
    forward, path_gradients = _compiled(model)
    occluded = np.repeat(image[None], IMAGE_SHAPE[0] + 1, axis=0)  # (29, 28, 28): the image, then
    occluded[1 + np.arange(IMAGE_SHAPE[0]), np.arange(IMAGE_SHAPE[0])] = 0.0  # copy t + 1 has row t black
    logits = forward(tf.constant(occluded)).numpy().astype(np.float64)  # (29, 10)
    target_class = int(logits[0].argmax()) if target_class is None else _check_class(target_class)
    probabilities = softmax(logits)[:, target_class]  # (29,)
    while True:
        pixels, image_logit, baseline_logit = _integrated_gradients(path_gradients, image, target_class, steps)
        attribution = Attribution(
            explained_class=target_class,
            pixel_attributions=pixels,
            row_attributions=pixels.sum(axis=1),
            image_logit=image_logit,
            baseline_logit=baseline_logit,
            steps=steps,
            probability=float(probabilities[0]),
            occluded_probabilities=probabilities[1:],
        )
        if not refine or steps == MAX_STEPS or attribution.completeness_error <= COMPLETENESS_TOLERANCE:
            return attribution
        steps = min(4 * steps, MAX_STEPS)


def _integrated_gradients(path_gradients, image: np.ndarray, target_class: int,
                          steps: int) -> tuple[np.ndarray, float, float]:
    """(pixel attributions (28, 28), logit(image), logit(black)) by the trapezoid rule with steps intervals."""
    import tensorflow as tf

    alphas = np.linspace(0.0, 1.0, steps + 1, dtype=np.float32)  # (steps + 1,)
    path = alphas[:, None, None] * image[None]  # (steps + 1, 28, 28): black ... image
    path_logits, gradients = path_gradients(tf.constant(path), tf.constant(target_class, dtype=tf.int32))
    weights = np.full(steps + 1, 1.0 / steps)  # the trapezoid rule on [0, 1]
    weights[[0, -1]] /= 2
    mean_gradient = np.tensordot(weights, gradients.numpy().astype(np.float64), axes=1)  # (28, 28)
    path_logits = path_logits.numpy().astype(np.float64)  # (steps + 1,)
    # The baseline is black (all zeros), so image - baseline is the image itself.
    return image.astype(np.float64) * mean_gradient, float(path_logits[-1]), float(path_logits[0])


# model -> its two compiled functions. Eager calls of the unrolled 28-step model cost ~250 ms each
# on 2 cores, a traced graph ~15 ms. The functions reach the model through a weak reference, so an
# entry goes away with its model.
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_COMPILED_LOCK = threading.Lock()


def _compiled(model):
    """(forward, path_gradients) for model, traced once per model."""
    import tensorflow as tf

    with _COMPILED_LOCK:
        if model not in _COMPILED:
            reference = weakref.ref(model)
            images_spec = tf.TensorSpec((None, *IMAGE_SHAPE), tf.float32)

            @tf.function(input_signature=[images_spec])
            def forward(images):
                return reference()(images, training=False)  # (n, 10)

            @tf.function(input_signature=[images_spec, tf.TensorSpec((), tf.int32)])
            def path_gradients(images, target_class):
                with tf.GradientTape() as tape:
                    tape.watch(images)
                    target_logits = tf.gather(reference()(images, training=False), target_class, axis=1)  # (n,)
                # Each image's logit depends on that image only, so the gradient of the batch's
                # logits (summed by the tape) holds every image's own gradient.
                return target_logits, tape.gradient(target_logits, images)  # (n,), (n, 28, 28)

            _COMPILED[model] = (forward, path_gradients)
        return _COMPILED[model]


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
