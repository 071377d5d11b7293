"""Tests of the hyperparameter dataclass: defaults, validation, fingerprints."""

import dataclasses

import pytest

from core.config import PRESETS, RNNConfig, fingerprint, is_run_id


def test_defaults_are_the_tutorial():
    """Check the defaults are the tutorial's hyperparameters."""
    config = RNNConfig()
    assert (config.learning_rate, config.epochs, config.batch_size, config.display_freq) == (0.001, 10, 100, 100)
    assert (config.hidden_units, config.output_init_stddev, config.optimizer) == (128, 0.01, "adam")
    assert (config.cell, config.learning_rate_schedule, config.gradient_clip_norm) == ("rnn", "constant", 0.0)
    assert config.train_subset == 55_000
    assert config.iterations_per_epoch == 550 and config.total_iterations == 5_500


def test_config_is_frozen():
    """Check a config cannot be changed in place."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        RNNConfig().epochs = 3


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"learning_rate": 0.0}, r"learning_rate=0\.0 is out of range; allowed 1e-05 to 1"),
        ({"learning_rate": float("nan")}, "learning_rate=nan is out of range"),
        ({"epochs": 0}, "epochs=0 is out of range; allowed 1 to 100"),
        ({"hidden_units": 100_000}, "hidden_units=100000 is out of range"),
        ({"batch_size": 0}, "batch_size=0 is out of range"),
        ({"train_subset": 60_000}, "train_subset=60000 is out of range; allowed 100 to 55000"),
        ({"seed": -5}, "seed=-5 is out of range; allowed 0 to 2147483647"),
        ({"cell": "transformer"}, "cell='transformer' is not allowed; choose one of rnn, lstm, gru"),
        ({"optimizer": "adamw"}, "optimizer='adamw' is not allowed"),
        ({"learning_rate_schedule": "step"}, "learning_rate_schedule='step' is not allowed"),
        ({"epochs": 2.5}, "epochs=2.5 is not a whole number; allowed whole numbers from 1 to 100"),
        ({"keep_best_weights": "yes"}, "keep_best_weights='yes' has type str; expected bool"),
        ({"gradient_clip_norm": -1.0}, "gradient_clip_norm=-1.0 is out of range"),
        ({"train_subset": 500, "batch_size": 1000}, "batch_size=1000 is larger than train_subset=500"),
    ],
)
def test_invalid_values_raise_value_error_naming_the_field(changes, message):
    """Check bad values raise ValueError naming the field, the value and what is allowed."""
    with pytest.raises(ValueError, match=message):
        RNNConfig(**changes)


def test_integer_learning_rate_is_accepted_as_float():
    """Check an int where a float is expected is converted, so 1 and 1.0 give the same run id."""
    assert RNNConfig(learning_rate=1).learning_rate == 1.0
    assert fingerprint(RNNConfig(learning_rate=1), "d") == fingerprint(RNNConfig(learning_rate=1.0), "d")


def test_from_dict_refuses_unknown_fields():
    """Check a hand-edited config with an unknown key is refused."""
    with pytest.raises(ValueError, match=r"unknown config field\(s\) \['dropout'\]"):
        RNNConfig.from_dict({"dropout": 0.5})
    assert RNNConfig.from_dict(RNNConfig(epochs=3).to_dict()) == RNNConfig(epochs=3)


def test_fingerprint_is_stable_and_sensitive():
    """Check the run id depends on every field and the data, and nothing else."""
    base = fingerprint(RNNConfig(), "data-a")
    assert base == fingerprint(RNNConfig(), "data-a")
    assert is_run_id(base)
    assert fingerprint(RNNConfig(), "data-b") != base
    changed = {field.name: fingerprint(RNNConfig().replace(**{field.name: value}), "data-a")
               for field, value in zip(dataclasses.fields(RNNConfig),
                                       [1000, 1, "gru", 64, 0.02, "sgd", 0.01, "cosine", 2, 50, 10, 1.0, True, 0.99],
                                       strict=False)}
    assert len(changed) == len(dataclasses.fields(RNNConfig))
    assert base not in changed.values()
    assert len(set(changed.values())) == len(changed)


def test_fields_added_later_keep_earlier_run_ids():
    """Check run ids from before adam_beta_2 existed still match their folders: at its old implicit
    value the field is left out of the fingerprint, and a stored config without it still loads."""
    # Computed by the fingerprint of commit 42b9245, before the field existed.
    assert fingerprint(RNNConfig(), "mnist-test-identity") == "3d5cdc95766eebbc"
    stored_before = {key: value for key, value in RNNConfig().to_dict().items() if key != "adam_beta_2"}
    assert fingerprint(RNNConfig.from_dict(stored_before), "mnist-test-identity") == "3d5cdc95766eebbc"
    assert fingerprint(RNNConfig(adam_beta_2=0.99), "mnist-test-identity") != "3d5cdc95766eebbc"


@pytest.mark.parametrize("text", ["../../etc/passwd", "0123456789ABCDEF", "0123", "", None, "0123456789abcdeg"])
def test_is_run_id_rejects_malformed_ids(text):
    """Check anything that is not 16 lowercase hex digits is not a run id."""
    assert not is_run_id(text)


def test_presets_are_valid_and_tuned_stays_a_vanilla_rnn():
    """Check the tutorial preset holds the tutorial's values and the tuned preset keeps its
    architecture and epoch budget."""
    tuned = PRESETS["tuned"]
    assert (tuned.cell, tuned.hidden_units, tuned.epochs) == ("rnn", 128, 10)
    # The tutorial's hyperparameters, written out rather than taken from RNNConfig's defaults.
    assert PRESETS["tutorial"].to_dict() == {
        "train_subset": 55_000, "seed": 0, "cell": "rnn", "hidden_units": 128, "output_init_stddev": 0.01,
        "optimizer": "adam", "learning_rate": 0.001, "learning_rate_schedule": "constant", "epochs": 10,
        "batch_size": 100, "display_freq": 100, "gradient_clip_norm": 0.0, "keep_best_weights": False,
        "adam_beta_2": 0.999,
    }
