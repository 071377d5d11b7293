"""A sweep as data: a base config, the axes to vary, the seeds, and the CPUs each trial gets.

Every trial is an ordinary RNNConfig, so it is an ordinary run: same run id, same run store, and
a trial trained before is a cache hit. The spec's fingerprint is the sweep id. Nothing here
imports Ray or TensorFlow.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from core.config import NUMERIC_RANGES, RNNConfig
from core.process_settings import TRAINING_SHARDS

MAX_TRIALS = 200  # a spec that expands to more is refused unless the caller raises the cap
MAX_CPUS_PER_TRIAL = 256


def default_cpus_per_trial() -> int:
    """CPUs per trial when the user names none: as many as a training step uses (its TRAINING_SHARDS
    run side by side), at most this machine's. Fewer makes each trial slower by about as much as
    running more trials side by side gains (bench/bench_sweep.py measures it)."""
    return max(1, min(TRAINING_SHARDS, os.cpu_count() or 1))


SCALES = ("linear", "log")
CURVE_POINTS = 20  # batches logged per epoch when a sweep's trials train one epoch (log_for_curves)
SWEEP_ID_LENGTH = 16
CONFIG_FIELDS = tuple(item.name for item in fields(RNNConfig))


@dataclass(frozen=True)
class Axis:
    """One varied config field: an explicit list of values, or `count` samples of [low, high]."""

    name: str  # a field of RNNConfig, but not "seed" (seeds are SweepSpec.seeds)
    values: tuple[Any, ...] = ()  # explicit values, in order; empty when sampled from a range
    low: float | None = None
    high: float | None = None
    scale: str = "linear"  # "log" samples uniformly in log space (learning rates)
    count: int = 0  # how many values to sample from [low, high]
    sample_seed: int = 0  # seeds the sampling, so a range expands to the same values every time

    def __post_init__(self) -> None:
        if self.name not in CONFIG_FIELDS or self.name == "seed":
            allowed = ", ".join(name for name in CONFIG_FIELDS if name != "seed")
            raise ValueError(f"axis {self.name!r} is not allowed; vary one of {allowed} (seeds go in 'seeds')")
        object.__setattr__(self, "values", tuple(self.values))
        if self.values:
            if self.low is not None or self.high is not None or self.count:
                raise ValueError(f"axis {self.name}: give either values or a range (low, high, count), not both")
            return
        if self.name not in NUMERIC_RANGES:
            raise ValueError(f"axis {self.name}: a range needs a numeric field; give explicit values instead")
        if self.scale not in SCALES:
            raise ValueError(f"axis {self.name}: scale={self.scale!r} is not allowed; "
                             f"choose one of {', '.join(SCALES)}")
        if not (isinstance(self.count, int) and 1 <= self.count <= MAX_TRIALS):
            raise ValueError(f"axis {self.name}: count={self.count!r} is out of range; allowed 1 to {MAX_TRIALS}")
        bounds_low, bounds_high = NUMERIC_RANGES[self.name]
        for label, bound in (("low", self.low), ("high", self.high)):
            if not isinstance(bound, (int, float)) or isinstance(bound, bool) or not bounds_low <= bound <= bounds_high:
                raise ValueError(f"axis {self.name}: {label}={bound!r} is out of range; "
                                 f"allowed {bounds_low:g} to {bounds_high:g}")
        if self.low > self.high:
            raise ValueError(f"axis {self.name}: low={self.low!r} is above high={self.high!r}; allowed low <= high")
        if self.scale == "log" and self.low <= 0:
            raise ValueError(f"axis {self.name}: low={self.low!r} is not allowed on a log scale; allowed low > 0")

    def expand(self) -> tuple[Any, ...]:
        """The values of this axis, in order (sampled values sorted ascending, duplicates dropped)."""
        if self.values:
            return self.values
        generator = np.random.default_rng(self.sample_seed)
        if self.scale == "log":
            samples = np.exp(generator.uniform(math.log(self.low), math.log(self.high), self.count))
        else:
            samples = generator.uniform(self.low, self.high, self.count)
        if isinstance(getattr(RNNConfig(), self.name), int):
            values = [int(round(value)) for value in samples]
        else:
            values = [float(f"{value:.6g}") for value in samples]  # readable in tables and run ids
        return tuple(sorted(set(values)))

    def to_dict(self) -> dict[str, Any]:
        if self.values:
            return {"values": list(self.values)}
        return {"low": self.low, "high": self.high, "scale": self.scale, "count": self.count,
                "sample_seed": self.sample_seed}

    @classmethod
    def from_dict(cls, name: str, value: Any) -> Axis:
        if isinstance(value, list):
            return cls(name, values=tuple(value))
        known = {"values", "low", "high", "scale", "count", "sample_seed"}
        if not isinstance(value, dict) or set(value) - known:
            raise ValueError(f"axis {name}: expected a list of values or a mapping with keys {sorted(known)}")
        return cls(name, **{key: tuple(item) if key == "values" else item for key, item in value.items()})


@dataclass(frozen=True)
class SweepSpec:
    """What a sweep trains: every combination of the axes' values, once per seed."""

    base: RNNConfig = field(default_factory=RNNConfig)
    axes: tuple[Axis, ...] = ()
    seeds: tuple[int, ...] = (0,)
    cpus_per_trial: int = 1  # Ray reserves this many CPUs per trial and sizes TensorFlow's thread pools to it

    def __post_init__(self) -> None:
        object.__setattr__(self, "axes", tuple(self.axes))
        object.__setattr__(self, "seeds", tuple(self.seeds))
        names = [axis.name for axis in self.axes]
        if len(set(names)) != len(names):
            raise ValueError(f"axes={names} names a field twice; allowed each field once")
        if not self.seeds:
            raise ValueError("seeds=() is empty; allowed one or more seeds")
        for seed in self.seeds:
            self.base.replace(seed=seed)  # RNNConfig's own check: names the field, value and range
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds={list(self.seeds)} repeats a seed; allowed each seed once")
        if not (isinstance(self.cpus_per_trial, int) and not isinstance(self.cpus_per_trial, bool)
                and 1 <= self.cpus_per_trial <= MAX_CPUS_PER_TRIAL):
            raise ValueError(f"cpus_per_trial={self.cpus_per_trial!r} is out of range; "
                             f"allowed 1 to {MAX_CPUS_PER_TRIAL}")
        for axis in self.axes:
            for value in axis.expand():
                try:
                    self.base.replace(**{axis.name: value})
                except (ValueError, TypeError) as error:
                    raise ValueError(f"axis {axis.name}: {error}") from None

    @property
    def varied(self) -> tuple[str, ...]:
        """The varied fields, axes first and then seed when more than one seed is swept."""
        return tuple(axis.name for axis in self.axes) + (("seed",) if len(self.seeds) > 1 else ())

    def expand(self, max_trials: int = MAX_TRIALS) -> list[RNNConfig]:
        """Every trial's config: the axes' product (first axis slowest), seeds innermost, duplicates
        dropped. Raises ValueError when that is more than max_trials."""
        value_lists = [axis.expand() for axis in self.axes]
        count = math.prod(len(values) for values in value_lists) * len(self.seeds)
        if count > max_trials:
            raise ValueError(f"the sweep expands to {count} trials; allowed up to {max_trials} "
                             "(raise the cap with --max-trials)")
        configs: list[RNNConfig] = []
        for combination in itertools.product(*value_lists, self.seeds):
            changes = {axis.name: value for axis, value in zip(self.axes, combination, strict=False)}
            config = self.base.replace(**changes, seed=combination[-1])
            if config not in configs:
                configs.append(config)
        return configs

    def trial_values(self, config: RNNConfig) -> dict[str, Any]:
        """{varied field: value} of one trial, for tables and progress lines."""
        return {name: getattr(config, name) for name in self.varied}

    def to_dict(self) -> dict[str, Any]:
        return {"base": self.base.to_dict(), "axes": {axis.name: axis.to_dict() for axis in self.axes},
                "seeds": list(self.seeds), "cpus_per_trial": self.cpus_per_trial}

    @classmethod
    def from_dict(cls, values: Any) -> SweepSpec:
        """Build a spec from spec.json's content; refuses unknown keys and bad values (ValueError)."""
        known = {"base", "axes", "seeds", "cpus_per_trial"}
        if not isinstance(values, dict) or set(values) - known:
            raise ValueError(f"a sweep spec must be a mapping with keys among {sorted(known)}")
        axes = values.get("axes", {})
        if not isinstance(axes, dict):
            raise ValueError("axes must map config fields to a list of values or a range")
        seeds = values.get("seeds", [0])
        if not isinstance(seeds, list):
            raise ValueError(f"seeds={seeds!r} must be a list of whole numbers")
        return cls(base=RNNConfig.from_dict(values.get("base", {})),
                   axes=tuple(Axis.from_dict(name, item) for name, item in axes.items()),
                   seeds=tuple(seeds), cpus_per_trial=values.get("cpus_per_trial", 1))

    def fingerprint(self) -> str:
        """The sweep id: 16 hex digits of the spec's content (the run store's data is not part of it)."""
        payload = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:SWEEP_ID_LENGTH]


def log_for_curves(base: RNNConfig, axes: tuple[Axis, ...]) -> RNNConfig:
    """base, logging at least CURVE_POINTS batches per epoch when every trial trains one epoch.

    A one-epoch trial has a single validation point, so its curve is the batches it logged; at the
    tutorial's display_freq (every 100th batch) an epoch of 10,000 images logs one. A lower
    display_freq only adds a forward pass of one batch per logged batch. Unchanged otherwise, or
    when base logs that often already (a different display_freq is a different run id).
    """
    values = {axis.name: axis.expand() for axis in axes}
    if set(values.get("epochs", (base.epochs,))) != {1}:
        return base
    iterations = min(-(-subset // batch) for subset in values.get("train_subset", (base.train_subset,))
                     for batch in values.get("batch_size", (base.batch_size,)))
    return base.replace(display_freq=min(base.display_freq, max(1, iterations // CURVE_POINTS)))


def is_sweep_id(text: object) -> bool:
    return isinstance(text, str) and len(text) == SWEEP_ID_LENGTH and all(c in "0123456789abcdef" for c in text)


def parse_vary(text: str, base: RNNConfig) -> Axis:
    """An axis from the CLI's `--vary NAME=V1,V2,...` or `--vary NAME=LOW:HIGH:COUNT[:log][:SEED]`."""
    name, separator, rest = text.partition("=")
    name = name.strip().replace("-", "_")
    if not separator or not rest:
        raise ValueError(f"--vary {text!r} is not allowed; use NAME=V1,V2,... or NAME=LOW:HIGH:COUNT[:log]")
    if name not in CONFIG_FIELDS:
        Axis(name, values=(0,))  # raises the message naming the allowed fields
    kind = type(getattr(base, name))
    if ":" in rest:
        parts = rest.split(":")
        if not 3 <= len(parts) <= 5:
            raise ValueError(f"--vary {text!r}: a range is LOW:HIGH:COUNT, then optionally :log or :linear and :SEED")
        scale = parts[3] if len(parts) > 3 else "linear"
        return Axis(name, low=_number(parts[0], name), high=_number(parts[1], name), count=_whole(parts[2], name),
                    scale=scale, sample_seed=_whole(parts[4], name) if len(parts) > 4 else 0)
    return Axis(name, values=tuple(_convert(item.strip(), kind, name) for item in rest.split(",")))


def _number(text: str, name: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"--vary {name}: {text!r} is not a number") from None


def _whole(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"--vary {name}: {text!r} is not a whole number") from None


def _convert(text: str, kind: type, name: str) -> Any:
    if kind is bool:
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return lowered in ("1", "true", "yes", "on")
        raise ValueError(f"--vary {name}: {text!r} is not true or false")
    if kind is int:
        return _whole(text, name)
    if kind is float:
        return _number(text, name)
    return text
