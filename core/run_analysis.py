"""A run's analysis, computed once and stored with the run: what the Hidden states page draws behind
one image (a PCA of the state space, background paths, class averages), for h and an LSTM's c.

The analysis is a set of named groups of arrays (GROUPS). Each group has its own version: a stored
group that is missing, of another version, or whose arrays do not fit the run is recomputed on its
own, and the others are kept. To add a group (a memory curve, fixed points): give RunAnalysis a
field, write its compute/pack/unpack functions and list them in GROUPS under the field's name.

No I/O here: core/run_format.py reads and writes analysis.npz and core/run_store.py adds it to a
run. TensorFlow is imported only when something has to be computed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from typing import Any, Callable, Mapping

import numpy as np

from core.analysis import NUM_CLASSES, PCAProjection
from core.config import RNNConfig
from core.hidden_states import SAMPLE_SIZE, StateSummary, summarize_states

TIMESTEPS = 28
ANALYSIS_FORMAT_VERSION = 1  # the file's layout: "<group>.<array>" names, "<group>.version", "sample_size"


class AnalysisOutdated(ValueError):
    """Stored analysis arrays that cannot be used as they are: missing, of another version, or not
    fitting the run. The groups that can still be used are in .usable; the rest are recomputed."""

    def __init__(self, problems: Mapping[str, str], usable: Mapping[str, Any]):
        super().__init__("; ".join(f"{name}: {problem}" for name, problem in problems.items()))
        self.problems = dict(problems)
        self.usable = dict(usable)


class AnalysisSample:
    """What every group may use: the model, the first SAMPLE_SIZE test images (n, 28, 28) and their
    labels (n,), and their trace through the model, computed at most once, when a group asks."""

    def __init__(self, model, test_images: np.ndarray, test_labels: np.ndarray):
        self.model = model
        self.images = np.asarray(test_images[:SAMPLE_SIZE], dtype=np.float32)
        self.labels = np.asarray(test_labels[:SAMPLE_SIZE], dtype=np.int64)

    @functools.cached_property
    def trajectory(self):
        from core.model import trace_hidden_states  # imports TensorFlow

        return trace_hidden_states(self.model, self.images)


@dataclass(frozen=True)
class RunAnalysis:
    """Everything the analysis holds, one field per group of GROUPS (same names, same order)."""

    h: StateSummary  # hidden states h_t of the sample
    c: StateSummary | None = None  # cell states c_t: an LSTM's only

    @property
    def state_summaries(self) -> dict[str, StateSummary]:
        """{"h": ..., and "c": ... for an LSTM}, as the Hidden states page takes them."""
        return {kind: summary for kind in ("h", "c") if (summary := getattr(self, kind)) is not None}

    @classmethod
    def compute(cls, model, config: RNNConfig, test_images: np.ndarray, test_labels: np.ndarray,
                reuse: Mapping[str, Any] | None = None) -> RunAnalysis:
        """The analysis of a trained model over the first SAMPLE_SIZE test images; groups given in
        reuse (still valid ones from a stored analysis) are taken as they are, not recomputed."""
        reuse = reuse or {}
        sample = AnalysisSample(model, test_images, test_labels)
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
    expected = {"pca_mean": (units,), "pca_components": (2, units), "explained_variance_ratio": (2,),
                "background": (count, TIMESTEPS, 2), "background_labels": (count,),
                "class_means": (NUM_CLASSES, TIMESTEPS, units), "class_differences": (NUM_CLASSES, TIMESTEPS, units)}
    if set(arrays) != set(expected):
        raise ValueError(f"arrays {sorted(arrays)}; expected {sorted(expected)}")
    for key, shape in expected.items():
        array = arrays[key]
        kind = np.integer if key == "background_labels" else np.floating
        if array.shape != shape or not np.issubdtype(array.dtype, kind):
            raise ValueError(f"{key} is {array.dtype} {array.shape}; expected {kind.__name__} {shape}")
    labels = arrays["background_labels"]
    if count and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise ValueError(f"background_labels lie outside 0..{NUM_CLASSES - 1}")
    projection = PCAProjection(mean=arrays["pca_mean"], components=arrays["pca_components"],
                               explained_variance_ratio=arrays["explained_variance_ratio"])
    return StateSummary(projection=projection, background=arrays["background"], background_labels=labels,
                        class_means=arrays["class_means"], class_differences=arrays["class_differences"])


def _summarize_cell_states(sample: AnalysisSample) -> StateSummary:
    if sample.trajectory.cell_states is None:
        raise ValueError("this model has no cell state c_t; only an LSTM has one")
    return summarize_states(sample.trajectory.cell_states, sample.labels)


GROUPS: dict[str, AnalysisGroup] = {
    "h": AnalysisGroup(version=1, compute=lambda sample: summarize_states(sample.trajectory.hidden_states,
                                                                          sample.labels),
                       pack=_pack_summary, unpack=_unpack_summary),
    "c": AnalysisGroup(version=1, compute=_summarize_cell_states, pack=_pack_summary, unpack=_unpack_summary,
                       applies=lambda config: config.cell == "lstm"),
}
if [field.name for field in fields(RunAnalysis)] != list(GROUPS):  # a field without a group, or the reverse
    raise TypeError(f"RunAnalysis fields {[field.name for field in fields(RunAnalysis)]} must match GROUPS {list(GROUPS)}")
