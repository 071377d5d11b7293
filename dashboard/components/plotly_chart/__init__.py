"""plotly.js in the page: where it is served, for every component that draws with it.

plotly.js is the "cartesian" partial bundle of the plotly.js version the plotly package ships (npm
plotly.js-cartesian-dist-min, MIT, licence beside it), in dashboard/static/ and served once by
Streamlit's static serving (.streamlit/config.toml: server.enableStaticServing). Its traces (scatter,
bar, heatmap, image, ...) are all these charts use, and at 1.5 MB instead of the full 4.8 MB the
browser parses it in about a third of the time on every page load.
"""

from __future__ import annotations

import streamlit as st

PLOTLY_JS = "plotly-cartesian.min.js"  # in dashboard/static/


def plotly_js_url() -> str:
    """The address of plotly.js on this server (under the app's static files, /app/static/)."""
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    return f"{'/' + base if base else ''}/app/static/{PLOTLY_JS}"
