"""Sweep specs, the sweep record and the sweeps listing: fast, no Ray, no training."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from filelock import FileLock

from core.atomic_files import atomic_write_json
from core.cli import main as cli
from core.config import RNNConfig
from core.sweeps.record import (
    LOCK_FILE,
    SWEEP_STATUS_FILE,
    SweepError,
    SweepStatus,
    list_sweeps,
    read_sweep,
    sweep_dir,
    write_spec,
    write_sweep_status,
)
from core.sweeps.spec import CURVE_POINTS, Axis, SweepSpec, log_for_curves, parse_vary

BASE = RNNConfig(train_subset=1_000, epochs=1, hidden_units=16)
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def test_expand_grid_times_seeds():
    """Check a 3 x 2 grid with 2 seeds gives 12 distinct configs, first axis slowest, seeds innermost."""
    spec = SweepSpec(BASE, (Axis("learning_rate", values=(0.0003, 0.001, 0.003)),
                            Axis("hidden_units", values=(64, 128))),
                     seeds=(0, 1))
    configs = spec.expand()
    assert len(configs) == 12 and len(set(configs)) == 12
    assert [(c.learning_rate, c.hidden_units, c.seed) for c in configs[:3]] == [(0.0003, 64, 0), (0.0003, 64, 1),
                                                                                 (0.0003, 128, 0)]
    assert all(c.epochs == 1 and c.train_subset == 1_000 for c in configs)
    assert spec.varied == ("learning_rate", "hidden_units", "seed")


def test_log_range_is_seeded_and_inside_bounds():
    """Check a log range samples the same values for the same seed, inside [low, high], spread over decades."""
    axis = Axis("learning_rate", low=1e-4, high=1e-1, scale="log", count=8, sample_seed=3)
    values = axis.expand()
    assert values == Axis("learning_rate", low=1e-4, high=1e-1, scale="log", count=8, sample_seed=3).expand()
    assert values != Axis("learning_rate", low=1e-4, high=1e-1, scale="log", count=8, sample_seed=4).expand()
    assert all(1e-4 <= value <= 1e-1 for value in values) and list(values) == sorted(values)
    assert math.log10(max(values)) - math.log10(min(values)) > 1  # log scale: more than one decade apart


def test_integer_range_rounds_to_whole_numbers():
    """Check a range over an int field gives ints (duplicates after rounding dropped)."""
    values = Axis("hidden_units", low=16, high=20, count=30).expand()
    assert values == (16, 17, 18, 19, 20) and all(type(value) is int for value in values)
    assert Axis("hidden_units", low=16, high=20, count=3).expand() == (16, 17, 19)


@pytest.mark.parametrize("make, match", [
    (lambda: SweepSpec(BASE, (Axis("learning_rate", values=(5.0,)),)),
     r"learning_rate=5.0 is out of range; allowed 1e-05 to 1"),
    (lambda: Axis("gradient_clip_norm", low=0.0, high=5.0, scale="log", count=3),
     r"low=0.0 is not allowed on a log scale"),
    (lambda: Axis("learning_rate", low=0.1, high=0.01, count=3), r"low=0.1 is above high=0.01"),
    (lambda: Axis("hidden_units", low=1, high=64, count=3), r"low=1 is out of range; allowed 4 to 512"),
    (lambda: Axis("colour", values=(1,)), r"axis 'colour' is not allowed; vary one of"),
    (lambda: Axis("seed", values=(1,)), r"seeds go in 'seeds'"),
    (lambda: Axis("cell", low=1, high=2, count=2), r"a range needs a numeric field"),
    (lambda: SweepSpec(BASE, (Axis("cell", values=("rnn", "transformer")),)), r"cell='transformer' is not allowed"),
    (lambda: SweepSpec(BASE, seeds=(-1,)), r"seed=-1 is out of range"),
    (lambda: SweepSpec(BASE, seeds=()), r"seeds=\(\) is empty"),
    (lambda: SweepSpec(BASE, cpus_per_trial=0), r"cpus_per_trial=0 is out of range; allowed 1 to"),
])
def test_bad_spec_names_field_value_and_range(make, match):
    """Check a bad axis, seed or CPU count raises ValueError naming the field, the value and what is allowed."""
    with pytest.raises(ValueError, match=match):
        make()


def test_more_than_max_trials_is_refused_unless_raised():
    """Check 15 x 15 = 225 trials is refused at the default cap of 200 and allowed with a higher cap."""
    spec = SweepSpec(BASE, (Axis("hidden_units", values=tuple(range(16, 31))),
                            Axis("batch_size", values=tuple(range(10, 25)))))
    with pytest.raises(ValueError, match=r"expands to 225 trials; allowed up to 200"):
        spec.expand()
    assert len(spec.expand(max_trials=225)) == 225


def test_spec_round_trips_and_fingerprint_is_content():
    """Check to_dict/from_dict round-trips, and the sweep id changes with the content only."""
    spec = SweepSpec(BASE, (Axis("learning_rate", low=1e-4, high=1e-2, scale="log", count=4),), seeds=(0, 1, 2),
                     cpus_per_trial=2)
    again = SweepSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec and again.fingerprint() == spec.fingerprint()
    assert SweepSpec(BASE, spec.axes, seeds=(0, 1), cpus_per_trial=2).fingerprint() != spec.fingerprint()
    with pytest.raises(ValueError, match=r"keys among"):
        SweepSpec.from_dict({**spec.to_dict(), "extra": 1})


@pytest.mark.parametrize("text, expected", [
    ("learning_rate=0.0003,0.001", Axis("learning_rate", values=(0.0003, 0.001))),
    ("hidden-units=64,128", Axis("hidden_units", values=(64, 128))),
    ("cell=rnn,gru", Axis("cell", values=("rnn", "gru"))),
    ("keep_best_weights=true,false", Axis("keep_best_weights", values=(True, False))),
    ("learning_rate=1e-4:1e-2:5:log:7",
     Axis("learning_rate", low=1e-4, high=1e-2, count=5, scale="log", sample_seed=7)),
])
def test_parse_vary(text, expected):
    """Check the CLI's --vary syntax for lists and ranges."""
    assert parse_vary(text, BASE) == expected


@pytest.mark.parametrize("text, match", [
    ("learning_rate", r"use NAME=V1,V2"), ("hidden_units=64,lots", r"'lots' is not a whole number"),
    ("learning_rate=1:2", r"a range is LOW:HIGH:COUNT"),
])
def test_parse_vary_refuses_bad_text(text, match):
    """Check malformed --vary text is refused with a message saying the expected form."""
    with pytest.raises(ValueError, match=match):
        parse_vary(text, BASE)


def _status(spec: SweepSpec, status: str = SweepStatus.RUNNING) -> dict:
    return {"sweep_id": spec.fingerprint(), "status": status, "started_at": "2026-01-01T00:00:00+00:00",
            "finished_at": None, "data_identity": "0" * 16, "address": None, "pid": 1, "host": "here",
            "trials": [{"run_id": "0123456789abcdef", "values": {"seed": 0}, "state": "running", "epoch": 2,
                        "validation_accuracy": 0.5, "validation_loss": 1.5, "error": None}]}


def test_record_round_trips_and_running_without_driver_is_interrupted(tmp_path):
    """Check a written sweep reads back; 'running' lists as running while a driver holds the lock,
    interrupted once nobody does."""
    spec = SweepSpec(BASE, (Axis("learning_rate", values=(0.001, 0.003)),))
    write_spec(tmp_path, spec)
    write_sweep_status(tmp_path, _status(spec))
    lock = FileLock(sweep_dir(tmp_path, spec.fingerprint()) / LOCK_FILE)
    with lock:
        record = read_sweep(tmp_path, spec.fingerprint())
        assert record.status == SweepStatus.RUNNING and record.spec == spec and record.trials[0].epoch == 2
    assert read_sweep(tmp_path, spec.fingerprint()).status == SweepStatus.INTERRUPTED


def test_record_holds_the_drivers_error_and_older_records_without_it_still_read(tmp_path):
    """Check a status with the driver's error reads it back, one written before that field existed
    reads as no error, and an error that is not text is refused by the writer."""
    spec = SweepSpec(BASE, (Axis("learning_rate", values=(0.001, 0.003)),))
    write_spec(tmp_path, spec)
    atomic_write_json(sweep_dir(tmp_path, spec.fingerprint()) / SWEEP_STATUS_FILE, _status(spec, "failed"))
    assert read_sweep(tmp_path, spec.fingerprint()).error is None  # no "error" field at all
    error = "cannot reach Ray at **bold** <script>x</script>:1: Name or service not known"
    write_sweep_status(tmp_path, {**_status(spec, "failed"), "error": error})
    assert read_sweep(tmp_path, spec.fingerprint()).error == error
    with pytest.raises(ValueError, match="field 'error' must be a string or null"):
        write_sweep_status(tmp_path, {**_status(spec, "failed"), "error": 3})


@pytest.mark.parametrize("base, axes, display_freq", [
    (RNNConfig(train_subset=10_000, epochs=1), (), 100 // CURVE_POINTS),  # 100 batches: every 5th logged
    (RNNConfig(train_subset=1_000, epochs=1), (), 1),  # 10 batches: every one
    (RNNConfig(train_subset=55_000, epochs=1, display_freq=7), (), 7),  # logs often enough already
    (RNNConfig(train_subset=10_000, epochs=2), (), 100),  # two epochs: validation curves
    (RNNConfig(train_subset=10_000, epochs=1), (Axis("epochs", values=(1, 2)),), 100),
    (RNNConfig(train_subset=55_000, epochs=2), (Axis("epochs", values=(1,)),
                                                Axis("train_subset", values=(4_000, 55_000))), 40 // CURVE_POINTS),
])
def test_one_epoch_sweeps_log_enough_batches_for_curves(base, axes, display_freq):
    """Check display_freq drops to log CURVE_POINTS batches of the smallest epoch when every trial
    trains one epoch, and stays as it is otherwise."""
    assert log_for_curves(base, axes) == base.replace(display_freq=display_freq)


def test_damaged_sweep_is_listed_with_its_problem(tmp_path):
    """Check a hand-edited status file makes its sweep damaged, and does not hide a good sweep."""
    good = SweepSpec(BASE, (Axis("learning_rate", values=(0.001,)),))
    bad = SweepSpec(BASE, (Axis("learning_rate", values=(0.003,)),))
    for spec in (good, bad):
        write_spec(tmp_path, spec)
        write_sweep_status(tmp_path, _status(spec, "complete"))
    broken = _status(bad, "complete")
    broken["trials"][0]["state"] = "exploded"
    atomic_write_json(sweep_dir(tmp_path, bad.fingerprint()) / SWEEP_STATUS_FILE, broken)
    records, damaged = list_sweeps(tmp_path)
    assert [record.sweep_id for record in records] == [good.fingerprint()]
    assert "'state' is 'exploded'" in damaged[bad.fingerprint()]
    with pytest.raises(ValueError, match="'state' is 'exploded'"):
        write_sweep_status(tmp_path, broken)  # the writer refuses what the reader would refuse
    with pytest.raises(SweepError, match="not valid"):
        read_sweep(tmp_path, "../etc")


def test_cli_sweeps_json_lists_interrupted_sweep(tmp_path):
    """Check `python -m core sweeps --json` shows a running sweep without a driver as interrupted."""
    spec = SweepSpec(BASE, (Axis("learning_rate", values=(0.001, 0.003)),), seeds=(0, 1))
    write_spec(tmp_path, spec)
    write_sweep_status(tmp_path, _status(spec))
    completed = subprocess.run([sys.executable, "-m", "core", "sweeps", "--json", "--runs-dir", str(tmp_path)],
                               cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    rows = json.loads(completed.stdout.strip().splitlines()[-1])
    assert rows == [{"sweep_id": spec.fingerprint(), "status": SweepStatus.INTERRUPTED, "trials": 1, "complete": 0,
                     "failed": 0, "varied": "learning_rate,seed", "started_at": "2026-01-01T00:00:00+00:00",
                     "problem": ""}]


def test_cli_sweep_refuses_too_many_trials_and_bad_values(tmp_path, capsys):
    """Check the sweep command answers a too-big sweep or a bad value in one line with exit 2, before Ray."""
    code = cli.main(["sweep", "--vary", "hidden_units=" + ",".join(map(str, range(16, 37))),
                     "--vary", "batch_size=" + ",".join(map(str, range(10, 20))), "--runs-dir", str(tmp_path)])
    assert code == 2 and "expands to 210 trials; allowed up to 200" in capsys.readouterr().err
    code = cli.main(["sweep", "--vary", "learning_rate=0.001,7", "--runs-dir", str(tmp_path)])
    assert code == 2 and "learning_rate=7.0 is out of range" in capsys.readouterr().err
    assert not (tmp_path / ".sweeps").exists()


def test_cli_sweep_without_ray_says_so_in_one_line(tmp_path):
    """Check that with Ray not importable the sweep command prints one clear line and exits 2."""
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "ray.py").write_text("raise ImportError('No module named ray (blocked by the test)')\n")
    environment = {**os.environ, "PYTHONPATH": f"{blocker}{os.pathsep}{PROJECT_ROOT}"}
    completed = subprocess.run([sys.executable, "-m", "core", "sweep", "--vary", "learning_rate=0.001,0.003",
                                "--train-subset", "1000", "--epochs", "1", "--runs-dir", str(tmp_path / "runs")],
                               cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, env=environment)
    assert completed.returncode == 2
    errors = completed.stderr.strip().splitlines()
    assert errors == ["python -m core sweep: error: Ray is not installed; install it with `pip install ray==2.60.0`"]


def test_cli_sweep_unreachable_address_says_so_in_one_line(tmp_path):
    """Check an address nobody listens on is answered in one line with exit 2 (ray.init alone retries for
    minutes), before anything is written: the address is checked before the sweep is recorded."""
    import socket

    with socket.socket() as probe:  # a port that was free a moment ago, now closed: connections are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    completed = subprocess.run([sys.executable, "-m", "core", "sweep", "--vary", "learning_rate=0.001,0.003",
                                "--train-subset", "1000", "--epochs", "1", "--address", f"127.0.0.1:{port}",
                                "--runs-dir", str(tmp_path / "runs")],
                               cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines() == [
        f"python -m core sweep: error: cannot reach Ray at 127.0.0.1:{port}: Connection refused"]
    assert not (tmp_path / "runs").exists()  # no sweep recorded, no trial started


def test_cli_spec_reserves_as_many_cpus_per_trial_as_a_training_step_uses(monkeypatch):
    """Check `sweep` without --cpus-per-trial asks TRAINING_SHARDS CPUs per trial, at most the machine's,
    and an explicit value wins."""
    from core.cli.main import build_parser
    from core.cli.sweeps import spec_from
    from core.process_settings import TRAINING_SHARDS

    def spec_for(*flags: str) -> SweepSpec:
        return spec_from(build_parser().parse_args(["sweep", "--vary", "learning_rate=0.001,0.003", *flags]))

    monkeypatch.setattr("os.cpu_count", lambda: 64)
    assert spec_for().cpus_per_trial == TRAINING_SHARDS
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert spec_for().cpus_per_trial == 1
    assert spec_for("--cpus-per-trial", "3").cpus_per_trial == 3


def test_the_driver_writes_its_own_error_into_the_sweeps_record(mnist, tmp_path, monkeypatch):
    """Check a driver that cannot reach Ray (after the CLI's and the page's own checks passed: the
    cluster went away in between) records the sweep failed with its one-line reason, which the Sweeps
    page shows, its trials still pending, and raises the same error."""
    from core.runs.store import RunStore
    from core.sweeps import driver
    from core.sweeps.cluster_check import RayUnavailable
    from core.sweeps.record import TrialState

    reason = "cannot reach Ray at 10.0.0.1:6379: Connection refused"

    def unreachable(*arguments, **keywords):
        raise RayUnavailable(reason)

    monkeypatch.setattr(driver, "connect", unreachable)
    spec = SweepSpec(BASE, (Axis("learning_rate", values=(0.001, 0.003)),))
    with pytest.raises(RayUnavailable, match=reason):
        driver.run_sweep(RunStore(tmp_path), spec, mnist, address="10.0.0.1:6379")
    record = read_sweep(tmp_path, spec.fingerprint())
    assert (record.status, record.error, record.address) == (SweepStatus.FAILED, reason, "10.0.0.1:6379")
    assert [trial.state for trial in record.trials] == [TrialState.PENDING, TrialState.PENDING]
