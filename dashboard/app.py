"""Entry point: `streamlit run dashboard/app.py`. A thin router and frame around the pages."""

import sys
from pathlib import Path

# Streamlit puts dashboard/ on sys.path; the project root is needed for `import core`.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

import streamlit as st  # noqa: E402

st.set_page_config(page_title="RNN digit explorer", page_icon="🔢", layout="wide")

VIEWS = Path(__file__).resolve().parent / "views"
pages = [
    st.Page(VIEWS / "train.py", title="Train", icon=":material/model_training:", default=True, url_path="train"),
    st.Page(VIEWS / "runs.py", title="Runs", icon=":material/table_view:", url_path="runs"),
    st.Page(VIEWS / "hidden_states.py", title="Hidden states", icon=":material/grid_on:", url_path="hidden-states"),
    st.Page(VIEWS / "misclassified.py", title="Misclassified", icon=":material/error:", url_path="misclassified"),
]
st.navigation(pages).run()
