"""Events a training reports through its callback: plain frozen data, no I/O, no UI."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Message:
    """Free-text progress from slow steps that are not training (fetching data, building)."""

    text: str


@dataclass(frozen=True)
class TrainingStarted:
    run_id: str
    total_iterations: int
    iterations_per_epoch: int
    epochs: int
    train_size: int
    validation_size: int  # images evaluated after each epoch
    test_size: int  # images evaluated once, after the last epoch


@dataclass(frozen=True)
class Progress:
    """Sent every few iterations so progress bars move between log lines."""

    epoch: int  # 1-based
    iteration: int  # 1-based, counted over all epochs
    total_iterations: int
    elapsed_seconds: float  # training time so far, evaluation excluded
    samples_per_second: float


@dataclass(frozen=True)
class BatchLogged:
    """The tutorial's line at iterations 0, display_freq, 2 display_freq, ... of each epoch: the
    loss and accuracy of the batch just trained on, measured after its update."""

    epoch: int  # 1-based
    iteration: int  # updates so far, counted over all epochs (the x axis of the curves)
    loss: float
    accuracy: float
    epoch_iteration: int  # 0-based within the epoch, as the tutorial prints it


@dataclass(frozen=True)
class Evaluated:
    """A pass of the network over held-out images (the validation set after each epoch, the test set
    at the end) and how long it took, so that the time left can count the passes still to come."""

    images: int
    seconds: float


@dataclass(frozen=True)
class EpochEnded:
    epoch: int
    iteration: int
    validation_loss: float
    validation_accuracy: float
    learning_rate: float
    epoch_seconds: float


@dataclass(frozen=True)
class TrainingFinished:
    run_id: str
    status: str  # a core.runs.format.RunStatus (a str): complete, stopped or failed; events sit below runs
    test_loss: float | None
    test_accuracy: float | None
    best_validation_accuracy: float | None
    train_seconds: float
    samples_per_second: float
    error: str | None = None


# A training's histories as tables (a run's batch_history.csv and epoch_history.csv, a live job's):
# one row per BatchLogged event, without its epoch_iteration (the tables count iterations over all
# epochs), and one row per EpochEnded event, its fields in order.
BATCH_COLUMNS = ["epoch", "iteration", "loss", "accuracy"]
EPOCH_COLUMNS = [field.name for field in fields(EpochEnded)]

Event = Message | TrainingStarted | Progress | BatchLogged | Evaluated | EpochEnded | TrainingFinished
EventCallback = Callable[[Event], None]


def ignore_event(event: Event) -> None:
    pass
