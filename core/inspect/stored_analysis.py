"""A run's analysis, computed once and stored with the run: what the Hidden states page draws behind
one image (a PCA of the state space, background paths, class averages, for h and an LSTM's c), how
long the run remembers (its memory curve) and, for a vanilla RNN, where its blank-row dynamics settle
(fixed and slow points).

The analysis is a set of named groups of arrays (GROUPS). Each group has its own version: a stored
group that is missing, of another version, or whose arrays do not fit the run is recomputed on its
own, and the others are kept. To add a group: give RunAnalysis a field, write its
compute/pack/unpack functions and list them in GROUPS under the field's name.

No I/O here: core/runs/files.py reads and writes analysis.npz and core/runs/store.py adds it to a
run. Everything is computed in numpy from the run's weights (core/inspect/forward.py,
core/inspect/backward.py): no TensorFlow, no Keras model.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from core.config import RNNConfig
from core.data.mnist import IMAGE_SIZE, NUM_CLASSES
from core.inspect.fixed_points import (
    MAX_STARTS,
    START_IMAGES,
    FixedPoints,
    find_update_fixed_points,
    time_constants,
    visited_states,
)
from core.inspect.forward import trace_states
from core.inspect.memory_curve import MEMORY_SAMPLE, memory_curve
from core.inspect.states import PCAProjection
from core.inspect.traces import SAMPLE_SIZE, StateSummary, summarize_states
from core.nn.weights import NetworkWeights

ANALYSIS_FORMAT_VERSION = 1  # the file's layout: "<group>.<array>" names, "<group>.version", "sample_size"


class AnalysisOutdated(ValueError):
    """Stored analysis arrays that cannot be used as they are: missing, of another version, or not
    fitting the run. The groups that can still be used are in .usable; the rest are recomputed."""

    def __init__(self, problems: Mapping[str, str], usable: Mapping[str, Any]):
        super().__init__("; ".join(f"{name}: {problem}" for name, problem in problems.items()))
        self.problems = dict(problems)
        self.usable = dict(usable)


class AnalysisSample:
    """What every group may use: the run's weights, the first SAMPLE_SIZE test images (n, 28, 28) and
    their labels (n,), and their states (traced once, when a group asks)."""

    def __init__(self, weights: NetworkWeights, test_images: np.ndarray, test_labels: np.ndarray):
        self.weights = weights
        self.images = np.asarray(test_images[:SAMPLE_SIZE], dtype=np.float32)
        self.labels = np.asarray(test_labels[:SAMPLE_SIZE], dtype=np.int64)

    @functools.cached_property
    def states(self) -> tuple[np.ndarray, np.ndarray | None]:
        """(hidden states (n, 28, units), cell states (n, 28, units) of an LSTM, else None)."""
        hidden, cells, _ = trace_states(self.weights, self.images)
        return hidden, cells


@dataclass(frozen=True)
class RunAnalysis:
    """Everything the analysis holds, one field per group of GROUPS (same names, same order)."""

    h: StateSummary  # hidden states h_t of the sample
    c: StateSummary | None = None  # cell states c_t: an LSTM's only
    memory: np.ndarray | None = None  # (28,): the memory curve (core/inspect/memory_curve.py) over MEMORY_SAMPLE images
    fixed_points: FixedPoints | None = None  # of the blank-row update: a vanilla RNN's only

    @property
    def state_summaries(self) -> dict[str, StateSummary]:
        """{"h": ..., and "c": ... for an LSTM}, as the Hidden states page takes them."""
        return {kind: summary for kind in ("h", "c") if (summary := getattr(self, kind)) is not None}

    @classmethod
    def compute(cls, weights: NetworkWeights, config: RNNConfig, test_images: np.ndarray, test_labels: np.ndarray,
                reuse: Mapping[str, Any] | None = None) -> RunAnalysis:
        """The analysis of a trained network, from its weights, over the first SAMPLE_SIZE test images;
        groups given in reuse (still valid ones from a stored analysis) are taken as they are, not
        recomputed."""
        reuse = reuse or {}
        sample = AnalysisSample(weights, test_images, test_labels)
        values = {name: reuse[name] if name in reuse else (group.compute(sample) if group.applies(config) else None)
                  for name, group in GROUPS.items()}
        return cls(**values)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """{"<group>.<array>": array} for np.savez, with each group's version and the sample size."""
        arrays = {"format_version": np.int64(ANALYSIS_FORMAT_VERSION), "sample_size": np.int64(SAMPLE_SIZE)}
        for name, group in GROUPS.items():
            arrays[f"{name}.version"] = np.int64(group.version)
            value = getattr(self, name)
            if value is not None:
                arrays.update({f"{name}.{key}": np.asarray(array) for key, array in group.pack(value).items()})
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], config: RNNConfig) -> RunAnalysis:
        """The analysis stored as arrays (to_arrays) for a run of config; AnalysisOutdated says
        which groups are missing, of another version or do not fit the run (and keeps the others)."""
        problems, usable = {}, {}
        if _scalar(arrays, "format_version") != ANALYSIS_FORMAT_VERSION:
            problems["file"] = f"format_version is not {ANALYSIS_FORMAT_VERSION}"
        elif _scalar(arrays, "sample_size") != SAMPLE_SIZE:
            problems["file"] = f"sample_size is not {SAMPLE_SIZE}"
        for name, group in GROUPS.items():
            if "file" in problems:
                break
            if not group.applies(config):
                usable[name] = None
            elif _scalar(arrays, f"{name}.version") != group.version:
                problems[name] = f"missing or not version {group.version}"
            else:
                prefix = f"{name}."
                stored = {key[len(prefix):]: value for key, value in arrays.items()
                          if key.startswith(prefix) and key != f"{name}.version"}
                try:
                    usable[name] = group.unpack(stored, config)
                except (ValueError, KeyError) as error:
                    problems[name] = str(error)
        if problems:
            raise AnalysisOutdated(problems, usable)
        return cls(**usable)


def _scalar(arrays: Mapping[str, np.ndarray], key: str) -> int | None:
    value = arrays.get(key)
    if value is None or np.shape(value) != () or not np.issubdtype(np.asarray(value).dtype, np.integer):
        return None
    return int(value)


# -- the groups ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnalysisGroup:
    """How one group is computed, applies, and travels as arrays."""

    version: int  # bump when the computation or the arrays change: stored groups of another version are recomputed
    compute: Callable[[AnalysisSample], Any]
    pack: Callable[[Any], dict[str, np.ndarray]]  # value -> {array name: array}
    unpack: Callable[[dict[str, np.ndarray], RNNConfig], Any]  # the reverse; ValueError if they do not fit the run
    applies: Callable[[RNNConfig], bool] = lambda config: True


def _pack_summary(summary: StateSummary) -> dict[str, np.ndarray]:
    return {"pca_mean": summary.projection.mean, "pca_components": summary.projection.components,
            "explained_variance_ratio": summary.projection.explained_variance_ratio,
            "background": summary.background, "background_labels": summary.background_labels,
            "class_means": summary.class_means, "class_differences": summary.class_differences}


def _unpack_summary(arrays: dict[str, np.ndarray], config: RNNConfig) -> StateSummary:
    units = config.hidden_units
    count = len(arrays["background_labels"]) if "background_labels" in arrays else 0
    shapes = {"pca_mean": (units,), "pca_components": (2, units), "explained_variance_ratio": (2,),
              "background": (count, IMAGE_SIZE, 2), "background_labels": (count,),
              "class_means": (NUM_CLASSES, IMAGE_SIZE, units), "class_differences": (NUM_CLASSES, IMAGE_SIZE, units)}
    _check_arrays(arrays, {key: (shape, np.integer if key == "background_labels" else np.floating)
                           for key, shape in shapes.items()})
    labels = arrays["background_labels"]
    if count and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise ValueError(f"background_labels lie outside 0..{NUM_CLASSES - 1}")
    projection = PCAProjection(mean=arrays["pca_mean"], components=arrays["pca_components"],
                               explained_variance_ratio=arrays["explained_variance_ratio"])
    return StateSummary(projection=projection, background=arrays["background"], background_labels=labels,
                        class_means=arrays["class_means"], class_differences=arrays["class_differences"])


def _summarize_cell_states(sample: AnalysisSample) -> StateSummary:
    cells = sample.states[1]
    if cells is None:
        raise ValueError("this model has no cell state c_t; only an LSTM has one")
    return summarize_states(cells, sample.labels)


def _check_arrays(arrays: dict[str, np.ndarray], expected: dict[str, tuple[tuple[int, ...], type]]) -> None:
    """ValueError unless arrays has exactly the expected names, each of its (shape, dtype kind)."""
    if set(arrays) != set(expected):
        raise ValueError(f"arrays {sorted(arrays)}; expected {sorted(expected)}")
    for key, (shape, kind) in expected.items():
        array = arrays[key]
        if array.shape != shape or not np.issubdtype(array.dtype, kind):
            raise ValueError(f"{key} is {array.dtype} {array.shape}; expected {kind.__name__} {shape}")


def _memory_curve(sample: AnalysisSample) -> np.ndarray:
    return memory_curve(sample.weights, sample.images[:MEMORY_SAMPLE])


def _unpack_memory(arrays: dict[str, np.ndarray], config: RNNConfig) -> np.ndarray:
    _check_arrays(arrays, {"curve": ((IMAGE_SIZE,), np.floating)})
    curve = arrays["curve"]
    if not np.all(np.isfinite(curve)) or curve.min() < 0:
        raise ValueError("curve holds negative or non-finite norms")
    return curve


def _fixed_points(sample: AnalysisSample) -> FixedPoints:
    """Fixed and slow points of the blank-row update, searched from up to MAX_STARTS states the network
    visits on the first START_IMAGES test images (the same starts every time: a fixed seed)."""
    starts = visited_states(sample.states[0][:START_IMAGES], MAX_STARTS)
    return find_update_fixed_points(sample.weights.recurrent_kernel, sample.weights.bias, starts)


def _pack_fixed_points(points: FixedPoints) -> dict[str, np.ndarray]:
    return {"states": points.states, "speeds": points.speeds, "is_fixed": points.is_fixed,
            "eigenvalues": points.eigenvalues, "hits": points.hits, "starts": np.int64(points.starts)}


def _unpack_fixed_points(arrays: dict[str, np.ndarray], config: RNNConfig) -> FixedPoints:
    units = config.hidden_units
    count = len(arrays["speeds"]) if "speeds" in arrays else 0
    _check_arrays(arrays, {"states": ((count, units), np.floating), "speeds": ((count,), np.floating),
                           "is_fixed": ((count,), np.bool_), "eigenvalues": ((count, units), np.complexfloating),
                           "hits": ((count,), np.integer), "starts": ((), np.integer)})
    if count and (arrays["hits"].min() < 1 or arrays["hits"].sum() > int(arrays["starts"])):
        raise ValueError(f"{int(arrays['hits'].sum())} hits from {int(arrays['starts'])} starts")
    # τ follows from the eigenvalues: not stored, so the two can never disagree.
    return FixedPoints(states=arrays["states"], speeds=arrays["speeds"], is_fixed=arrays["is_fixed"],
                       eigenvalues=arrays["eigenvalues"], time_constants=time_constants(arrays["eigenvalues"]),
                       hits=arrays["hits"], starts=int(arrays["starts"]))


GROUPS: dict[str, AnalysisGroup] = {
    "h": AnalysisGroup(version=1, compute=lambda sample: summarize_states(sample.states[0], sample.labels),
                       pack=_pack_summary, unpack=_unpack_summary),
    "c": AnalysisGroup(version=1, compute=_summarize_cell_states, pack=_pack_summary, unpack=_unpack_summary,
                       applies=lambda config: config.cell == "lstm"),
    "memory": AnalysisGroup(version=1, compute=_memory_curve, pack=lambda curve: {"curve": curve},
                            unpack=_unpack_memory),
    # Version 2: minima merged by _same_point, rounds of starts until no new point, hits stored.
    "fixed_points": AnalysisGroup(version=2, compute=_fixed_points, pack=_pack_fixed_points,
                                  unpack=_unpack_fixed_points, applies=lambda config: config.cell == "rnn"),
}
if [field.name for field in fields(RunAnalysis)] != list(GROUPS):  # a field without a group, or the reverse
    raise TypeError(f"RunAnalysis fields {[field.name for field in fields(RunAnalysis)]} "
                    f"must match GROUPS {list(GROUPS)}")
