"""Process-wide settings of the dashboard's server, applied once by its entry script (dashboard/app.py)."""

from __future__ import annotations

import contextlib
import sys

# Streamlit's function, run after every script run, that clears the state of "problem modules".
STREAMLIT_CLEANUP_HOOK = "_clean_problem_modules"


def keep_keras_state_between_runs() -> None:
    """Stop Streamlit calling keras.backend.clear_session() after every script run.

    Streamlit (1.67 still) does that whenever keras is imported. With a training running in a worker
    thread, each refresh of the live chart then cleared TensorFlow's kernel cache under the
    training and ran a full garbage collection, which made training from the page ten times slower
    than from the command line (measured). Models here live in st.cache_resource and are meant to
    survive reruns. matplotlib figures are still closed, as Streamlit would.

    Raises RuntimeError when Streamlit no longer has the hook: the workaround must then be looked
    at again, not silently skipped. Calling it again does nothing.
    """
    from streamlit.runtime.scriptrunner import script_runner

    hook = getattr(script_runner, STREAMLIT_CLEANUP_HOOK, None)
    if hook is None:
        raise RuntimeError(
            f"streamlit.runtime.scriptrunner.script_runner.{STREAMLIT_CLEANUP_HOOK} is missing from this "
            "Streamlit; dashboard/streamlit_patches.py replaces it so that Keras state survives script runs. Check "
            "whether this Streamlit still clears the Keras session after each run, and update or drop "
            "keep_keras_state_between_runs.")
    if hook is _clean_problem_modules_except_keras:
        return
    setattr(script_runner, STREAMLIT_CLEANUP_HOOK, _clean_problem_modules_except_keras)


def _clean_problem_modules_except_keras() -> None:
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        with contextlib.suppress(Exception):
            pyplot.close("all")
