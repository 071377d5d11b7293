"""Which runs a report can be made of, and why not: every refusal is a ReportError of one line."""

from __future__ import annotations

from core.config import STORAGE_FORMAT_VERSION
from core.inspect.forward import NetworkWeights
from core.runs.format import RunError, RunRecord, RunStatus
from core.runs.store import RunStore

MAX_IMAGES = 30  # played images; each adds about 60 KB to the file


class ReportError(ValueError):
    """Why a report cannot be made, in one line meant for the page or the command line."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))  # a quoted library error may hold line breaks


def check_images(images: object) -> int:
    """images, the number of test images to play, if it is a whole number from 1 to MAX_IMAGES."""
    if not isinstance(images, int) or isinstance(images, bool):
        raise ReportError(f"images={images!r:.20} is not a whole number; allowed 1 to {MAX_IMAGES}")
    if not 1 <= images <= MAX_IMAGES:
        raise ReportError(f"images={images} is out of range; allowed 1 to {MAX_IMAGES}")
    return images


def _unreadable(run_id: str, error: RunError) -> ReportError:
    # core.run_format.read_config names format_version when config.json is of another storage format
    # than this code's (tests/test_report.py pins that message): the run is then not damaged but older.
    if "format_version" in str(error):
        return ReportError(f"{error}: run {run_id} was saved by another version of this project, whose run "
                           f"folders this one cannot read (it reads storage format {STORAGE_FORMAT_VERSION}); "
                           "train the same settings again here to report them")
    return ReportError(str(error))


def reportable_run(store: RunStore, run_id: str) -> tuple[RunRecord, NetworkWeights]:
    """The run (every file's sha256 verified) and its weights, if it finished with results (complete,
    or stopped early by its user) and its weights are those of its config; else ReportError."""
    try:
        record = store.read_run(run_id)
    except RunError as error:
        raise _unreadable(str(run_id)[:40], error) from error
    if record.status == RunStatus.RUNNING:
        raise ReportError(f"run {run_id} is still training; make its report once it has finished")
    if record.status == RunStatus.INTERRUPTED:
        raise ReportError(f"run {run_id} was interrupted (its training process ended before it finished), so it "
                          "has no test results; train it again to report it")
    if record.status == RunStatus.FAILED or not record.has_artifacts:
        reason = f" ({record.status_info.error[:200]})" if record.status_info.error else ""
        raise ReportError(f"run {run_id} {record.status}{reason} and has no results to report")
    try:
        weights = store.load_network_weights(run_id)
    except RunError as error:
        raise ReportError(str(error)) from error
    config = record.config
    if (weights.cell, weights.units) != (config.cell, config.hidden_units):
        raise ReportError(f"run {run_id}: its weights are of a {weights.cell.upper()} with {weights.units} units, but "
                          f"its config says {config.cell.upper()} with {config.hidden_units}; the folder was changed "
                          "by hand")
    return record, weights
