"""Every hyperparameter of a run in one frozen dataclass, validated, with a stable fingerprint."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, fields
from typing import Any

# Bump when the layout of a run folder changes: old runs then get new ids instead of being misread.
STORAGE_FORMAT_VERSION = 1

CELL_TYPES = ("rnn", "lstm", "gru")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
LEARNING_RATE_SCHEDULES = ("constant", "cosine")

# Inclusive ranges for numeric fields. They also bound one job's memory: the worst case
# (512 units, batch 1,000, LSTM) keeps activations for backprop at about 1000*28*4*512*4 B = 230 MB.
NUMERIC_RANGES: dict[str, tuple[float, float]] = {
    "train_subset": (100, 55_000),
    "seed": (0, 2**31 - 1),
    "hidden_units": (4, 512),
    "output_init_stddev": (1e-4, 1.0),
    "learning_rate": (1e-5, 1.0),
    "epochs": (1, 100),
    "batch_size": (1, 1_000),
    "display_freq": (1, 10_000),
    "gradient_clip_norm": (0.0, 100.0),
    "adam_beta_2": (0.9, 0.9999),
}

CHOICES: dict[str, tuple[str, ...]] = {
    "cell": CELL_TYPES,
    "optimizer": OPTIMIZERS,
    "learning_rate_schedule": LEARNING_RATE_SCHEDULES,
}


@dataclass(frozen=True)
class RNNConfig:
    """Hyperparameters of one training run; the defaults are the Easy-TensorFlow tutorial's."""

    # data
    train_subset: int = 55_000  # first N of the 55,000 training images; smaller for quick looks
    seed: int = 0  # seeds weights, shuffling and everything else random

    # model
    cell: str = "rnn"  # "rnn" is the tutorial's vanilla tanh cell; LSTM and GRU for comparison
    hidden_units: int = 128
    output_init_stddev: float = 0.01  # truncated-normal stddev of the 10-way readout; bias is zero

    # training
    optimizer: str = "adam"
    learning_rate: float = 0.001  # the peak rate when the schedule is cosine
    learning_rate_schedule: str = "constant"  # "cosine" decays to 0 over all iterations
    epochs: int = 10
    batch_size: int = 100
    display_freq: int = 100  # log batch loss and accuracy at iterations 0, 100, 200, ... of each epoch
    gradient_clip_norm: float = 0.0  # global-norm clipping; 0 means off
    keep_best_weights: bool = False  # end with the weights of the best validation epoch
    adam_beta_2: float = 0.999  # decay of Adam's squared-gradient average (TF1's default); only adam uses it

    def __post_init__(self) -> None:
        validate(self)

    @property
    def iterations_per_epoch(self) -> int:
        # The last partial batch is kept, so every training image is seen once per epoch.
        return -(-self.train_subset // self.batch_size)

    @property
    def total_iterations(self) -> int:
        return self.iterations_per_epoch * self.epochs

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RNNConfig:
        """Build a config from a plain dict, refusing unknown keys (a hand-edited file, say)."""
        if not isinstance(values, dict):
            raise ValueError(f"config must be a mapping of field names to values, got {type(values).__name__}")
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown config field(s) {unknown}; allowed fields are {sorted(known)}")
        return cls(**values)

    def replace(self, **changes: Any) -> RNNConfig:
        return dataclasses.replace(self, **changes)


def _bound(value: float) -> str:
    """A range's end as written: whole numbers in full (2147483647, not 2.14748e+09), rates short."""
    return str(value) if isinstance(value, int) else f"{value:g}"


def _field_types() -> dict[str, type]:
    return {field.name: type(field.default) for field in fields(RNNConfig)}


def validate(config: RNNConfig) -> None:
    """Raise ValueError naming the field, the value and what is allowed, for the first bad field."""
    for name, expected in _field_types().items():
        value = getattr(config, name)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            object.__setattr__(config, name, float(value))  # 1 is a fine learning rate too
            value = float(value)
        if expected is int and isinstance(value, float):
            raise ValueError(f"{name}={value!r} is not a whole number; allowed whole numbers from "
                             f"{_bound(NUMERIC_RANGES[name][0])} to {_bound(NUMERIC_RANGES[name][1])}")
        if type(value) is not expected:
            raise ValueError(f"{name}={value!r} has type {type(value).__name__}; expected {expected.__name__}")
        if name in NUMERIC_RANGES:
            low, high = NUMERIC_RANGES[name]
            if not (low <= value <= high):  # also false for NaN
                raise ValueError(f"{name}={value!r} is out of range; allowed {_bound(low)} to {_bound(high)}")
        if name in CHOICES and value not in CHOICES[name]:
            raise ValueError(f"{name}={value!r} is not allowed; choose one of {', '.join(CHOICES[name])}")
    if config.batch_size > config.train_subset:
        raise ValueError(
            f"batch_size={config.batch_size} is larger than train_subset={config.train_subset}; "
            "allowed batch sizes go up to the number of training images"
        )


# Fields added after runs were first stored, each with the value that trains exactly as before it
# existed. At that value a field is left out of the fingerprint, so earlier run ids stay valid.
FIELDS_ADDED_LATER: dict[str, Any] = {"adam_beta_2": 0.999}


def fingerprint(config: RNNConfig, data_identity: str) -> str:
    """The run id: 16 hex digits from (config, data identity, storage format version)."""
    values = {name: value for name, value in config.to_dict().items()
              if not (name in FIELDS_ADDED_LATER and value == FIELDS_ADDED_LATER[name])}
    payload = json.dumps({"config": values, "data": data_identity, "format": STORAGE_FORMAT_VERSION}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


RUN_ID_LENGTH = 16


def is_run_id(text: object) -> bool:
    """True when text has the form of a run id; checked before any path is built from it."""
    return (
        isinstance(text, str)
        and len(text) == RUN_ID_LENGTH
        and all(character in "0123456789abcdef" for character in text)
    )


# Named starting points offered by the CLI and the dashboard.
PRESETS: dict[str, RNNConfig] = {
    "tutorial": RNNConfig(),
    # Still a vanilla tanh RNN with 128 units and 10 epochs. Chosen on validation accuracy alone
    # (bench/tune_preset.py, seeds 10-17): smaller batches, i.e. more updates in the same 10 epochs,
    # helped most, then a readout initialised 10x wider than the tutorial's and a shorter memory for
    # Adam's squared gradients. Its test accuracy over seeds 0-2 is in the README (bench/accuracy_table.py).
    "tuned": RNNConfig(
        learning_rate=0.001,
        learning_rate_schedule="cosine",
        batch_size=32,
        gradient_clip_norm=1.0,
        keep_best_weights=True,
        output_init_stddev=0.1,
        adam_beta_2=0.99,
    ),
}
