"""Reading a run as only the tests need to: its stored analysis exactly as it is on disk."""

from __future__ import annotations

from core.inspect.stored_analysis import RunAnalysis
from core.runs.files import read_analysis
from core.runs.store import RunStore


def load_analysis(store: RunStore, run_id: str) -> RunAnalysis:
    """The run's stored analysis, never recomputed (the product's RunStore.ensure_analysis recomputes
    what is missing); RunError if it has none or it is damaged, AnalysisOutdated (with the groups
    still usable) if it is of another version or does not fit the run."""
    record = store.read_run(run_id)
    return RunAnalysis.from_arrays(read_analysis(record), record.config)
