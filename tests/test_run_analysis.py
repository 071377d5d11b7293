"""Tests for core.inspect.stored_analysis and its storage in the run folder (run_format, RunStore), on copies
of the tiny trained run: round trip, versions, hashes, damaged and missing files."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from core.config import RNNConfig
from core.events import Message
from core.inspect import stored_analysis as run_analysis
from core.inspect.fixed_points import MAX_STARTS, START_IMAGES, find_update_fixed_points, visited_states
from core.inspect.forward import trace_states
from core.inspect.memory_curve import MEMORY_SAMPLE, memory_curve
from core.inspect.stored_analysis import GROUPS, AnalysisOutdated, RunAnalysis
from core.inspect.traces import SAMPLE_SIZE, summarize_states
from core.runs.files import read_analysis, write_analysis
from core.runs.format import ANALYSIS_FILE, STATUS_FILE, WEIGHTS_FILE, RunError, RunStatus, check_status, sha256
from core.runs.train import _save_analysis
from tests.support.runs import load_analysis


def _synthetic_analysis(units: int, cell: str, seed: int = 0) -> RunAnalysis:
    """An analysis of random states (40, 28, units) and a random network of the cell, without any model."""
    rng = np.random.default_rng(seed)
    labels = np.arange(40) % 10
    summaries = [summarize_states(rng.standard_normal((40, 28, units)), labels, per_class=2)
                 for _ in range(2 if cell == "lstm" else 1)]
    points = None
    if cell == "rnn":
        points = find_update_fixed_points(rng.normal(0, 0.5, (units, units)), rng.normal(0, 0.1, units),
                                          rng.uniform(-1, 1, (20, units)))
    return RunAnalysis(h=summaries[0], c=summaries[1] if cell == "lstm" else None,
                       memory=rng.uniform(0.01, 1, 28), fixed_points=points)


def _assert_same(first: RunAnalysis, second: RunAnalysis) -> None:
    first_arrays, second_arrays = first.to_arrays(), second.to_arrays()
    assert sorted(first_arrays) == sorted(second_arrays)
    for name, array in first_arrays.items():
        assert_allclose(second_arrays[name], array, atol=1e-12, err_msg=name)


def _no_computing(store, monkeypatch) -> None:
    """Make computing an analysis fail from here on: a stored one must be read as it is."""
    def refuse(*args, **kwargs):
        raise AssertionError("the analysis was computed although a stored one was there")

    monkeypatch.setattr(type(store), "load_network_weights", refuse)
    monkeypatch.setattr(RunAnalysis, "compute", refuse)


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
def test_arrays_round_trip(cell):
    """Check to_arrays then from_arrays gives the same analysis, with c for an LSTM only."""
    config = RNNConfig(cell=cell, hidden_units=6)
    analysis = _synthetic_analysis(units=6, cell=cell)
    arrays = analysis.to_arrays()
    assert ("c.class_means" in arrays) == (cell == "lstm") and int(arrays["h.version"]) == GROUPS["h"].version
    assert ("fixed_points.states" in arrays) == (cell == "rnn") and "memory.curve" in arrays
    again = RunAnalysis.from_arrays(arrays, config)
    _assert_same(analysis, again)
    assert list(again.state_summaries) == (["h", "c"] if cell == "lstm" else ["h"])
    assert_array_equal(again.memory, analysis.memory)
    if cell == "rnn":
        assert len(again.fixed_points) == len(analysis.fixed_points) > 0
        assert_array_equal(again.fixed_points.time_constants, analysis.fixed_points.time_constants)
        assert_array_equal(again.fixed_points.is_stable, analysis.fixed_points.is_stable)
    else:
        assert again.fixed_points is None
    assert_array_equal(again.h.projection.transform(np.ones((28, 6))),
                       analysis.h.projection.transform(np.ones((28, 6))))


def test_arrays_that_do_not_fit_the_run_are_outdated():
    """Check arrays of another unit count, a missing array or another version are refused group by group."""
    arrays = _synthetic_analysis(units=6, cell="lstm").to_arrays()
    with pytest.raises(AnalysisOutdated, match=r"h: pca_mean is float64 \(6,\); expected floating \(8,\)"):
        RunAnalysis.from_arrays(arrays, RNNConfig(cell="lstm", hidden_units=8))
    with pytest.raises(AnalysisOutdated, match="c: arrays") as caught:
        RunAnalysis.from_arrays({name: value for name, value in arrays.items() if name != "c.background"},
                                RNNConfig(cell="lstm", hidden_units=6))
    assert list(caught.value.problems) == ["c"] and list(caught.value.usable) == ["h", "memory", "fixed_points"]
    with pytest.raises(AnalysisOutdated, match="c: missing or not version 1"):
        RunAnalysis.from_arrays({**arrays, "c.version": np.int64(0)}, RNNConfig(cell="lstm", hidden_units=6))
    with pytest.raises(AnalysisOutdated, match=f"file: sample_size is not {SAMPLE_SIZE}"):
        RunAnalysis.from_arrays({**arrays, "sample_size": np.int64(100)}, RNNConfig(cell="lstm", hidden_units=6))


@pytest.mark.parametrize("damage, message", [
    (lambda arrays: {**arrays, "memory.curve": -arrays["memory.curve"]}, "memory: curve holds negative"),
    (lambda arrays: {**arrays, "memory.curve": arrays["memory.curve"][:27]}, r"memory: curve is float64 \(27,\)"),
    (lambda arrays: {**arrays, "fixed_points.eigenvalues": arrays["fixed_points.eigenvalues"].real},
     "fixed_points: eigenvalues is float64"),
    (lambda arrays: {**arrays, "fixed_points.starts": np.int64(0)}, r"fixed_points: \d+ hits from 0 starts"),
    (lambda arrays: {**arrays, "fixed_points.hits": 0 * arrays["fixed_points.hits"]}, "fixed_points: 0 hits from"),
    # Stored before minima were merged by region and the search went on until no new point: recomputed.
    (lambda arrays: {**arrays, "fixed_points.version": np.int64(1)}, "fixed_points: missing or not version 2"),
    (lambda arrays: {name: value for name, value in arrays.items() if name != "fixed_points.speeds"},
     "fixed_points: arrays"),
], ids=["negative curve", "short curve", "real eigenvalues", "more hits than starts", "no hits", "version 1",
         "no speeds"])
def test_stored_memory_and_fixed_points_that_do_not_fit_are_outdated(damage, message):
    """Check a memory curve or fixed points that cannot be right are refused alone, the other groups kept."""
    arrays = _synthetic_analysis(units=6, cell="rnn").to_arrays()
    with pytest.raises(AnalysisOutdated, match=message) as caught:
        RunAnalysis.from_arrays(damage(arrays), RNNConfig(hidden_units=6))
    assert len(caught.value.problems) == 1 and set(caught.value.usable) == set(GROUPS) - set(caught.value.problems)


def test_compute_reuses_usable_groups_without_the_model():
    """Check groups given as reusable are taken as they are: with all of them, nothing is traced or loaded."""
    stored = _synthetic_analysis(units=6, cell="lstm")
    images, labels = np.zeros((SAMPLE_SIZE, 28, 28), np.float32), np.zeros(SAMPLE_SIZE, np.int64)
    analysis = RunAnalysis.compute(None, RNNConfig(cell="lstm", hidden_units=6), images, labels,
                                   reuse={"h": stored.h, "c": stored.c, "memory": stored.memory})
    assert analysis.h is stored.h and analysis.c is stored.c and analysis.memory is stored.memory
    assert analysis.fixed_points is None  # an LSTM has none


def test_lstm_analysis_has_cell_states_and_no_fixed_points(mnist):
    """Check an LSTM's h and c summaries come from the numpy trace of its weights, and it gets no fixed points."""
    from core.nn.weights import NetworkWeights

    rng = np.random.default_rng(3)
    weights = NetworkWeights("lstm", rng.normal(0, 0.3, (28, 24)).astype(np.float32),
                             rng.normal(0, 0.3, (6, 24)).astype(np.float32), np.zeros(24, np.float32),
                             rng.normal(0, 0.3, (6, 10)).astype(np.float32), np.zeros(10, np.float32))
    curve = np.linspace(0.1, 1, 28)
    analysis = RunAnalysis.compute(weights, RNNConfig(cell="lstm", hidden_units=6), mnist.test_images,
                                   mnist.test_labels, reuse={"memory": curve})
    hidden, cells, _ = trace_states(weights, mnist.test_images[:SAMPLE_SIZE])
    expected_h = summarize_states(hidden, mnist.test_labels[:SAMPLE_SIZE])
    expected_c = summarize_states(cells, mnist.test_labels[:SAMPLE_SIZE])
    assert_allclose(analysis.h.class_means, expected_h.class_means, atol=1e-12)
    assert_allclose(analysis.c.class_means, expected_c.class_means, atol=1e-12)
    assert not np.allclose(analysis.c.class_means, analysis.h.class_means)
    assert analysis.fixed_points is None and analysis.memory is curve


def test_trained_run_stores_its_analysis_with_its_hash(copied_run, mnist, monkeypatch):
    """Check a training saves analysis.npz, lists its sha256 and size, and it equals a recomputation."""
    store, record = copied_run
    path = record.run_dir / ANALYSIS_FILE
    assert record.status_info.files[ANALYSIS_FILE] == sha256(path)
    assert record.status_info.sizes[ANALYSIS_FILE] == path.stat().st_size
    assert record.status_info.timings["analysis_seconds"] > 0
    stored = load_analysis(store, record.run_id)
    weights = store.load_network_weights(record.run_id)
    recomputed = RunAnalysis.compute(weights, record.config, mnist.test_images, mnist.test_labels)
    _assert_same(stored, recomputed)
    assert stored.c is None and stored.h.class_means.shape == (10, 28, record.config.hidden_units)
    # The memory curve and the fixed points are those of the run's own functions on its own states.
    assert_allclose(stored.memory, memory_curve(weights, mnist.test_images[:MEMORY_SAMPLE]), rtol=1e-6)
    hidden, _, _ = trace_states(weights, mnist.test_images[:START_IMAGES])
    points = find_update_fixed_points(weights.recurrent_kernel, weights.bias, visited_states(hidden, MAX_STARTS))
    assert len(stored.fixed_points) == len(points) > 0 and stored.fixed_points.starts == points.starts <= MAX_STARTS
    assert_array_equal(stored.fixed_points.hits, points.hits)
    assert_allclose(stored.fixed_points.states, points.states, atol=1e-9)
    # Read back as stored: nothing is computed again.
    _no_computing(store, monkeypatch)
    _assert_same(store.ensure_analysis(record.run_id, mnist.test_images, mnist.test_labels), stored)


def test_run_without_analysis_gets_it_on_first_use(copied_run, mnist, monkeypatch):
    """Check a run made before analyses existed is valid, gets one on first use, and keeps it."""
    store, record = copied_run
    (record.run_dir / ANALYSIS_FILE).unlink()
    old_info = {**record.info, "files": {name: digest for name, digest in record.info["files"].items()
                                         if name != ANALYSIS_FILE},
                "sizes": {name: size for name, size in record.info["sizes"].items() if name != ANALYSIS_FILE}}
    (record.run_dir / STATUS_FILE).write_text(json.dumps(old_info))
    assert store.read_run(record.run_id).status == RunStatus.COMPLETE and not store.list_runs()[1]
    with pytest.raises(RunError, match=f"has no {ANALYSIS_FILE}"):
        load_analysis(store, record.run_id)
    analysis = store.ensure_analysis(record.run_id, mnist.test_images, mnist.test_labels)
    reread = store.read_run(record.run_id)
    assert reread.status_info.files[ANALYSIS_FILE] == sha256(record.run_dir / ANALYSIS_FILE)
    assert {name: reread.status_info.files[name] for name in old_info["files"]} == old_info["files"]
    _no_computing(store, monkeypatch)
    _assert_same(store.ensure_analysis(record.run_id, mnist.test_images, mnist.test_labels), analysis)


@pytest.mark.parametrize("damage, message", [
    ("flip a byte", f"{ANALYSIS_FILE} is truncated or changed"),
    ("delete it", f"{ANALYSIS_FILE} cannot be read"),
    ("other weights", f"{ANALYSIS_FILE} was computed from other weights"),
])
def test_damaged_analysis_is_recomputed_and_the_run_stays_complete(copied_run, mnist, damage, message):
    """Check a changed, missing or mismatching analysis.npz never damages the run and is recomputed."""
    store, record = copied_run
    path = record.run_dir / ANALYSIS_FILE
    good = load_analysis(store, record.run_id)
    if damage == "flip a byte":
        content = bytearray(path.read_bytes())
        content[len(content) // 2] ^= 0xFF
        path.write_bytes(bytes(content))
    elif damage == "delete it":
        path.unlink()
    else:  # a well-formed file, listed in status.json, but of other weights
        write_analysis(record.run_dir, good.to_arrays(), "0" * 64)
        info = {**record.info, "files": {**record.info["files"], ANALYSIS_FILE: sha256(path)},
                "sizes": {**record.info["sizes"], ANALYSIS_FILE: path.stat().st_size}}
        (record.run_dir / STATUS_FILE).write_text(json.dumps(info))
    assert store.read_run(record.run_id).status == RunStatus.COMPLETE
    assert [listed.run_id for listed in store.list_runs()[0]] == [record.run_id] and not store.list_runs()[1]
    with pytest.raises(RunError, match=message):
        load_analysis(store, record.run_id)
    _assert_same(store.ensure_analysis(record.run_id, mnist.test_images, mnist.test_labels), good)
    _assert_same(load_analysis(store, record.run_id), good)
    assert store.read_run(record.run_id).status_info.files[WEIGHTS_FILE] == record.status_info.files[WEIGHTS_FILE]


def test_group_of_another_version_is_recomputed_and_saved(copied_run, mnist, monkeypatch):
    """Check a stored group whose version the code has moved past is recomputed and saved with the new one."""
    store, record = copied_run
    monkeypatch.setitem(GROUPS, "h", dataclasses.replace(GROUPS["h"], version=GROUPS["h"].version + 1))
    with pytest.raises(AnalysisOutdated, match=f"h: missing or not version {GROUPS['h'].version}"):
        load_analysis(store, record.run_id)
    store.ensure_analysis(record.run_id, mnist.test_images, mnist.test_labels)
    assert int(read_analysis(store.read_run(record.run_id))["h.version"]) == GROUPS["h"].version
    _no_computing(store, monkeypatch)
    store.ensure_analysis(record.run_id, mnist.test_images, mnist.test_labels)


def test_save_analysis_waits_for_nobody_and_never_saves_over_other_weights(copied_run, monkeypatch):
    """Check save_analysis gives up while the run's lock is held, and refuses an analysis of other weights."""
    store, record = copied_run
    before = (record.run_dir / ANALYSIS_FILE).read_bytes()
    analysis = _synthetic_analysis(units=record.config.hidden_units, cell="rnn")
    monkeypatch.setattr("core.runs.store.ANALYSIS_LOCK_SECONDS", 0.05)
    with store.lock(record.run_id):
        assert store.save_analysis(record, analysis) is False
    other = dataclasses.replace(record, info={**record.info, "files": {**record.info["files"], WEIGHTS_FILE: "1" * 64}})
    assert store.save_analysis(other, analysis) is False
    assert (record.run_dir / ANALYSIS_FILE).read_bytes() == before
    assert store.save_analysis(record, analysis) is True
    _assert_same(load_analysis(store, record.run_id), analysis)


def test_status_lists_the_analysis_as_an_optional_file(tiny_run):
    """Check status.json may list analysis.npz or not, but no other extra file."""
    _, record = tiny_run
    check_status(record.info)
    without = {name: {file: value for file, value in record.info[name].items() if file != ANALYSIS_FILE}
               for name in ("files", "sizes")}
    check_status({**record.info, **without})
    with pytest.raises(ValueError, match="field 'files' is"):
        check_status({**record.info, "files": {**record.info["files"], "notes.txt": "0" * 64}})


def test_failed_analysis_at_save_time_is_reported_and_skipped(tmp_path, mnist):
    """Check an analysis that cannot be computed when a run is saved says so and leaves no file."""
    events = []
    assert _save_analysis(tmp_path, RNNConfig(), mnist, events.append) is None
    assert not (tmp_path / ANALYSIS_FILE).exists()
    assert len(events) == 1 and isinstance(events[0], Message) and "computed on the run's first view" in events[0].text


def test_analysis_module_has_a_group_for_every_field():
    """Check RunAnalysis's fields and GROUPS name the same groups, in order."""
    assert ([field.name for field in dataclasses.fields(RunAnalysis)] == list(run_analysis.GROUPS)
            == ["h", "c", "memory", "fixed_points"])


def test_analysis_travels_with_a_run_sent_back_by_a_sweep_worker(copied_run, tmp_path):
    """Check a run's files sent as bytes (a Ray trial's result) arrive with their analysis, verified."""
    from core.runs.store import RunStore
    from core.sweeps.trial import RUN_FILES, receive_run

    store, record = copied_run
    files = {name: (record.run_dir / name).read_bytes() for name in RUN_FILES}
    driver = RunStore(tmp_path / "driver")
    received = receive_run(driver, record.run_id, files)
    assert received.status_info.files[ANALYSIS_FILE] == record.status_info.files[ANALYSIS_FILE]
    _assert_same(load_analysis(driver, record.run_id), load_analysis(store, record.run_id))
