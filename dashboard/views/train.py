"""Train page (placeholder until its issue lands)."""

import streamlit as st

from dashboard.common import require_run

st.title("Train")
require_run()
st.info("This view is being built.")
