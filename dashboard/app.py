"""Entry point: `streamlit run dashboard/app.py`. A thin router and frame around the pages.

Streamlit runs this script on every rerun of every page; process-wide settings are applied here,
once per server process (see apply_process_settings).
"""

import sys
from pathlib import Path

import streamlit as st

# Streamlit puts dashboard/ on sys.path; the project root is needed for `import core`.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from core.process_settings import configure_process  # noqa: E402
from dashboard.pages import ALL_PAGES  # noqa: E402
from dashboard.streamlit_patches import keep_keras_state_between_runs  # noqa: E402


@st.cache_resource(show_spinner=False)
def apply_process_settings() -> None:
    """Once per server process: the settings every entry point applies (thread pools, see
    core/process_settings.py) and the dashboard's own workaround for Streamlit clearing Keras state."""
    configure_process()
    keep_keras_state_between_runs()


apply_process_settings()
st.set_page_config(page_title="RNN digit explorer", page_icon="🔢", layout="wide")
# Streamlit's wide layout keeps 5rem of empty space on each side of the main column whatever the
# window's width: on a projector (1024 px, a 300 px sidebar) that is a fifth of what is left, and
# figures and controls were cut. Below 1400 px the margin is 1.5rem (layout.css; a style sheet
# without comments, which st.html would drop). Streamlit's padding is not a setting (1.67 says
# "horizontal padding is not configurable yet"); tests/test_browser_layout.py checks the column's width.
st.html(Path(__file__).resolve().parent / "layout.css")

pages = [st.Page(page.script, title=page.title, icon=page.icon, url_path=page.url_path, default=index == 0)
         for index, page in enumerate(ALL_PAGES)]
st.navigation(pages).run()
