"""What every browser test file shares: the Chromium check and saving a failure's screenshot and
server log. Starting the app and Chromium is dashboard/testing.py (the benchmarks use it too)."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
from pathlib import Path

import pytest

from dashboard.testing import CHROMIUM, launch_chromium

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = PROJECT_ROOT / "test-artifacts"  # CI keeps this folder when a browser test fails


def require_chromium() -> None:
    """Skip the test when Playwright or Debian's chromium is missing; under CI=true, fail instead."""
    missing = ("the playwright package" if importlib.util.find_spec("playwright") is None
               else CHROMIUM if not Path(CHROMIUM).exists() else None)
    if missing is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{missing} is missing; CI must install it (see requirements-test.txt and .ci/run)")
    pytest.skip(f"{missing} is not installed")


@contextlib.contextmanager
def artifacts_on_failure(name: str, page=None, log_path: Path | None = None):
    """On any failure inside, save test-artifacts/<name>.png of page and <name>-server.log, then re-raise."""
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        if page is not None:
            with contextlib.suppress(Exception):  # a dead page must not hide the real failure
                page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        if log_path is not None and log_path.is_file():
            shutil.copy(log_path, ARTIFACTS / f"{name}-server.log")
        raise


@contextlib.contextmanager
def chromium():
    """A headless Chromium (dashboard.testing.launch_chromium), closed afterwards: a module's browser."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()
