"""Entry point: `streamlit run dashboard/app.py` (placeholder until the dashboard lands)."""

import streamlit as st

st.set_page_config(page_title="RNN digit explorer", layout="wide")
st.title("RNN digit explorer")
st.info("The dashboard is being built. Meanwhile, train from the command line: `python -m core train`.")
