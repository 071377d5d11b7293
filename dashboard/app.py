"""Entry point: `streamlit run dashboard/app.py`. A thin router and frame around the pages."""

import sys
from pathlib import Path

# Streamlit puts dashboard/ on sys.path; the project root is needed for `import core`.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

import streamlit as st  # noqa: E402

from dashboard.pages import ALL_PAGES  # noqa: E402

st.set_page_config(page_title="RNN digit explorer", page_icon="🔢", layout="wide")

pages = [st.Page(page.script, title=page.title, icon=page.icon, url_path=page.url_path, default=index == 0)
         for index, page in enumerate(ALL_PAGES)]
st.navigation(pages).run()
