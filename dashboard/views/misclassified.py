"""Misclassified page (placeholder until its issue lands)."""

import streamlit as st

from dashboard.common import require_run

st.title("Misclassified")
require_run()
st.info("This view is being built.")
