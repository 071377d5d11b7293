"""The dashboard's pages, declared once: the router builds them and every page link points at them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

VIEWS = Path(__file__).resolve().parent / "views"


@dataclass(frozen=True)
class PageInfo:
    path: str  # the page's script, relative to dashboard/ (what st.page_link and AppTest take)
    title: str
    icon: str
    url_path: str  # the page's address: /<url_path>

    @property
    def script(self) -> Path:
        return VIEWS.parent / self.path


TRAIN = PageInfo("views/train.py", "Train", ":material/model_training:", "train")
RUNS = PageInfo("views/runs.py", "Runs", ":material/table_view:", "runs")
HIDDEN_STATES = PageInfo("views/hidden_states.py", "Hidden states", ":material/grid_on:", "hidden-states")
MISCLASSIFIED = PageInfo("views/misclassified.py", "Misclassified", ":material/error:", "misclassified")
SWEEPS = PageInfo("views/sweeps.py", "Sweeps", ":material/stacked_line_chart:", "sweeps")
ALL_PAGES = (TRAIN, RUNS, SWEEPS, HIDDEN_STATES, MISCLASSIFIED)  # in the sidebar's order; the first is the default
