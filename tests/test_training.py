"""Tests of the training loop: the tutorial's schedule, reproducibility, stopping, accuracy."""

import gc

import numpy as np
import pytest
import tensorflow as tf

from core.config import RNNConfig
from core.data.mnist import to_float_images
from core.events import BatchLogged, EpochEnded, Evaluated, Progress, TrainingStarted
from core.nn import training_loop
from core.nn.training_loop import evaluate_logits, make_optimizer, scale_pixels, train

SMALL = RNNConfig(train_subset=1_000, epochs=2, hidden_units=16, batch_size=50, display_freq=7, seed=3)


@pytest.fixture(scope="module")
def small_trained(mnist):
    """SMALL trained once for this module, with the events it sent: (outcome, events)."""
    events = []
    return train(SMALL, mnist, on_event=events.append), events


def test_events_follow_the_tutorials_schedule(small_trained, mnist):
    """Check batch lines at iterations 0, display_freq, ... of each epoch and a validation line
    after each epoch."""
    outcome, events = small_trained
    assert isinstance(events[0], TrainingStarted) and events[0].total_iterations == 40
    batch_events = [event for event in events if isinstance(event, BatchLogged)]
    # 20 iterations per epoch, display_freq 7: within-epoch iterations 0, 7, 14, after 1, 8, 15 updates.
    assert [(event.epoch, event.epoch_iteration) for event in batch_events] == [(1, 0), (1, 7), (1, 14),
                                                                               (2, 0), (2, 7), (2, 14)]
    logged = [event.iteration for event in batch_events]
    assert logged == [1, 8, 15, 21, 28, 35]
    epochs = [event for event in events if isinstance(event, EpochEnded)]
    assert [event.epoch for event in epochs] == [1, 2] and [event.iteration for event in epochs] == [20, 40]
    assert [event.iteration for event in events if isinstance(event, Progress)][-1] == 40
    # Every held-out pass is timed, for the time left: validation after each epoch, then the test set.
    assert (events[0].validation_size, events[0].test_size) == (5_000, 10_000)
    passes = [event for event in events if isinstance(event, Evaluated)]
    assert [event.images for event in passes] == [5_000, 5_000, 10_000] and all(event.seconds > 0 for event in passes)
    assert events.index(passes[0]) < events.index(epochs[0]) and events[-1] is passes[-1]
    assert list(outcome.batch_history["iteration"]) == logged
    np.testing.assert_allclose(outcome.epoch_history["validation_accuracy"],
                               [event.validation_accuracy for event in epochs])
    assert outcome.samples_seen == 2_000 and not outcome.stopped
    assert outcome.test_probabilities.shape == (10_000, 10)
    np.testing.assert_allclose(outcome.test_probabilities.sum(axis=1), 1.0, atol=1e-5)
    predicted = outcome.test_probabilities.argmax(axis=1)
    assert outcome.test_accuracy == pytest.approx((predicted == mnist.test_labels).mean())


def test_tutorial_schedule_logs_six_lines_per_epoch(mnist):
    """Check 550 iterations per epoch and display_freq 100 log iterations 0, 100, ..., 500 in every
    epoch (6 lines each), as the tutorial does, not at global multiples of 100."""
    config = RNNConfig(train_subset=1_100, batch_size=2, epochs=2, hidden_units=4, display_freq=100)
    assert config.iterations_per_epoch == 550
    events = []
    train(config, mnist, on_event=events.append)
    logged = [(event.epoch, event.epoch_iteration) for event in events if isinstance(event, BatchLogged)]
    assert logged == [(epoch, iteration) for epoch in (1, 2) for iteration in (0, 100, 200, 300, 400, 500)]


def test_logged_batch_loss_is_measured_after_the_update(mnist):
    """Check the logged loss and accuracy are the batch's under the weights after its update:
    recomputed by hand from the trained model on the same batch, and unlike the weights before it."""
    config = RNNConfig(train_subset=150, batch_size=50, epochs=2, hidden_units=8, display_freq=2, seed=11)
    events = []
    outcome = train(config, mnist, on_event=events.append)
    last = [event for event in events if isinstance(event, BatchLogged)][-1]
    assert (last.epoch, last.epoch_iteration, last.iteration) == (2, 2, 6)  # the last batch of all
    # The batch of that line: the same shuffles as training (one permutation per epoch, seed 11).
    shuffler = np.random.default_rng(config.seed)
    shuffler.permutation(150)
    batch = shuffler.permutation(150)[100:150]
    images, labels = mnist.train_images[:150][batch], mnist.train_labels[:150][batch]

    after_loss, after_accuracy, _ = evaluate_logits(np.asarray(outcome.model(images)), labels)
    assert last.loss == pytest.approx(after_loss, rel=1e-5)
    assert last.accuracy == pytest.approx(after_accuracy)
    calls = {"count": 0}

    def stop_before_the_last_batch():
        calls["count"] += 1
        return calls["count"] > 5

    before = train(config, mnist, should_stop=stop_before_the_last_batch).model  # 5 of the 6 updates
    before_loss, _, _ = evaluate_logits(np.asarray(before(images)), labels)
    assert abs(before_loss - last.loss) > 100 * abs(after_loss - last.loss) + 1e-4


def test_keep_best_weights_ends_with_the_best_epochs_weights(mnist):
    """Check keep_best_weights ends with exactly the weights checkpointed after the best validation
    epoch, on a config (learning rate 0.1) whose last epoch is worse than its third."""
    config = RNNConfig(train_subset=300, epochs=4, hidden_units=8, batch_size=30, learning_rate=0.1, seed=0,
                       keep_best_weights=True)
    checkpoints = {}

    def checkpoint(model, batch_history, epoch_history):
        checkpoints[int(epoch_history["epoch"].iloc[-1])] = model.get_weights()

    outcome = train(config, mnist, on_epoch_end=checkpoint)
    accuracies = outcome.epoch_history["validation_accuracy"].tolist()
    best_epoch = accuracies.index(max(accuracies)) + 1
    assert best_epoch == 3 and outcome.best_validation_accuracy == max(accuracies)
    final = outcome.model.get_weights()
    for weights, best in zip(final, checkpoints[best_epoch], strict=True):
        np.testing.assert_array_equal(weights, best)
    assert not all(np.array_equal(weights, last)
                   for weights, last in zip(final, checkpoints[config.epochs], strict=False))
    # The test metrics are those of the restored weights.
    _, test_accuracy, _ = evaluate_logits(np.asarray(outcome.model(mnist.test_images)), mnist.test_labels)
    assert outcome.test_accuracy == pytest.approx(test_accuracy)


def test_same_config_and_seed_give_same_metrics(small_trained, mnist):
    """Check training is reproducible on CPU: same config and seed, same numbers (the first of the
    two trainings is the module's, which also sent events: listening changes no number)."""
    first, _ = small_trained
    second = train(SMALL, mnist)
    np.testing.assert_array_equal(first.batch_history["loss"], second.batch_history["loss"])
    assert first.test_accuracy == second.test_accuracy
    other_seed = train(SMALL.replace(seed=4), mnist)
    assert other_seed.test_loss != first.test_loss


def test_stop_request_ends_training_early(mnist):
    """Check should_stop ends training within a batch and the outcome says stopped."""
    calls = {"count": 0}

    def stop_after_five_batches():
        calls["count"] += 1
        return calls["count"] > 5

    outcome = train(SMALL, mnist, should_stop=stop_after_five_batches)
    assert outcome.stopped and outcome.samples_seen == 5 * 50
    assert outcome.epoch_history.empty


# Each option, and what train() must then build: the optimizer's class and settings, the recurrent cell.
OPTIONS = [
    ({"optimizer": "sgd", "learning_rate": 0.05}, "SGD", {"learning_rate": 0.05, "global_clipnorm": None},
     "SimpleRNNCell"),
    ({"optimizer": "rmsprop"}, "RMSprop", {"learning_rate": 0.005, "global_clipnorm": None}, "SimpleRNNCell"),
    ({"learning_rate_schedule": "cosine", "gradient_clip_norm": 1.0}, "Adam",
     {"learning_rate": "CosineDecay", "global_clipnorm": 1.0, "beta_2": 0.999}, "SimpleRNNCell"),
    ({"adam_beta_2": 0.99}, "Adam", {"learning_rate": 0.005, "beta_2": 0.99, "global_clipnorm": None}, "SimpleRNNCell"),
    ({"cell": "lstm"}, "Adam", {"learning_rate": 0.005, "beta_2": 0.999}, "LSTMCell"),
    ({"cell": "gru"}, "Adam", {"learning_rate": 0.005, "beta_2": 0.999}, "GRUCell"),
]


@pytest.mark.parametrize("changes, optimizer_class, optimizer_settings, cell_class", OPTIONS)
def test_every_option_trains_and_learns(mnist, monkeypatch, changes, optimizer_class, optimizer_settings, cell_class):
    """Check each optimizer, schedule, clipping and cell is the one train() steps with, and trains to
    better than chance: the optimizer it made applied every batch's gradients, with the option's settings."""
    made = []
    monkeypatch.setattr(training_loop, "make_optimizer", lambda config: made.append(make_optimizer(config)) or made[-1])
    config = SMALL.replace(**{"epochs": 1, "train_subset": 3_000, "learning_rate": 0.005, **changes})
    outcome = train(config, mnist)
    assert outcome.epoch_history["validation_accuracy"].iloc[-1] > 0.2
    (optimizer,) = made
    assert type(optimizer).__name__ == optimizer_class
    assert int(optimizer.iterations.numpy()) == config.total_iterations == 60
    settings = optimizer.get_config()
    if isinstance(settings["learning_rate"], dict):  # a schedule: its class, and decaying over the whole training
        assert settings["learning_rate"]["config"]["decay_steps"] == config.total_iterations
        settings["learning_rate"] = settings["learning_rate"]["class_name"]
    else:
        settings["learning_rate"] = pytest.approx(settings["learning_rate"])
    assert {name: settings[name] for name in optimizer_settings} == optimizer_settings
    assert type(outcome.model.get_layer("recurrent").cell).__name__ == cell_class


def test_training_keeps_no_copy_of_the_training_set(mnist):
    """Check no tensor of the training images outlives train(): the dashboard's server trains many times.

    The fused step's tf.custom_gradient keeps every traced graph alive for the whole process, so a
    graph that captured the training set kept it too (once per training).
    """
    config = SMALL.replace(train_subset=1_234, epochs=1)
    outcome = train(config, mnist)
    assert outcome.samples_seen == 1_234
    del outcome
    gc.collect()
    kept = [item for item in gc.get_objects()
            if isinstance(item, tf.Tensor) and item.shape.rank == 3 and item.shape[0] == 1_234]
    assert kept == []


def test_scale_pixels_in_a_graph_equals_the_float_images():
    """Check the step's in-graph scaling gives exactly the float32 values of core.data.mnist, for all 256 pixels."""
    pixels = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    scaled = tf.function(scale_pixels)(tf.constant(pixels)).numpy()
    assert scaled.dtype == np.float32
    np.testing.assert_array_equal(scaled, to_float_images(pixels))


def test_adam_gets_the_configured_beta_2_and_tf1_epsilon():
    """Check adam_beta_2 reaches Adam (0.999 is TF1's default, as in the tutorial)."""
    tutorial = make_optimizer(RNNConfig())
    assert (tutorial.beta_1, tutorial.beta_2, tutorial.epsilon) == (0.9, 0.999, 1e-8)
    assert make_optimizer(RNNConfig(adam_beta_2=0.99)).beta_2 == 0.99


def test_cosine_schedule_decays_to_zero(mnist):
    """Check the learning rate recorded per epoch follows the cosine decay."""
    config = SMALL.replace(learning_rate_schedule="cosine", learning_rate=0.01, epochs=4, train_subset=200)
    rates = train(config, mnist).epoch_history["learning_rate"].to_numpy()
    expected = 0.01 * 0.5 * (1 + np.cos(np.pi * np.arange(1, 5) / 4))
    np.testing.assert_allclose(rates, expected, atol=1e-6)


@pytest.mark.slow
def test_one_epoch_of_the_tutorial_reaches_92_percent(mnist):
    """Check one epoch of the default config on all 55,000 images reaches >= 92% validation accuracy."""
    outcome = train(RNNConfig(epochs=1), mnist)
    assert outcome.samples_seen == 55_000
    assert outcome.epoch_history["validation_accuracy"].iloc[0] >= 0.92
