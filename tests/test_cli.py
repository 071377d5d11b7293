"""Tests of the command line: the JSON summary, the cache answer, and one-line errors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.runs.format import PREDICTIONS_FILE, RunStatus
from tests.support.runs import copy_as_other_run, flip_byte

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def run_cli(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", *arguments], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)


def test_train_prints_tutorial_lines_and_a_json_summary_then_answers_from_cache(tmp_path):
    """Check train logs like the tutorial, ends with JSON, and a second call is cached."""
    flags = ["train", "--runs-dir", str(tmp_path), "--train-subset", "1000", "--epochs", "1",
             "--hidden-units", "16", "--display-freq", "2", "--json"]
    first = run_cli(*flags)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.strip().splitlines()
    # The tutorial's lines: 10 iterations per epoch, logged at 0, 2, 4, 6, 8 within the epoch.
    log = [line for line in lines if line.startswith(("Training epoch", "iter", "Epoch:"))]
    assert [line.split(":")[0] for line in log] == ["Training epoch", "iter   0", "iter   2", "iter   4",
                                                    "iter   6", "iter   8", "Epoch"]
    assert log[0] == "Training epoch: 1" and "\t Loss=" in log[1] and ",\tTraining Accuracy=" in log[1]
    assert log[-1].startswith("Epoch: 1, validation loss:")
    summary = json.loads(lines[-1])
    expected_keys = {"run_id", "status", "cached", "test_accuracy", "test_loss", "best_val_accuracy",
                     "train_seconds", "samples_per_second", "run_dir"}
    assert expected_keys <= set(summary)
    assert summary["status"] == RunStatus.COMPLETE and summary["cached"] is False
    assert 0.1 < summary["test_accuracy"] <= 1 and Path(summary["run_dir"]).is_dir()

    second = run_cli(*flags)
    again = json.loads(second.stdout.strip().splitlines()[-1])
    assert again["cached"] is True and again["run_id"] == summary["run_id"]
    assert again["test_accuracy"] == summary["test_accuracy"]
    assert "Training Accuracy" not in second.stdout

    listing = run_cli("runs", "--runs-dir", str(tmp_path), "--json")
    rows = json.loads(listing.stdout)
    assert [(row["run_id"], row["status"]) for row in rows] == [(summary["run_id"], RunStatus.COMPLETE)]


@pytest.mark.parametrize("flags, message", [
    (["--epochs", "0"], "epochs=0 is out of range; allowed 1 to 100"),
    (["--epochs", "two"], "argument --epochs: invalid int value: 'two'"),
    (["--learning-rate", "-1"], "learning_rate=-1.0 is out of range"),
    (["--cell", "transformer"], "argument --cell: invalid choice: 'transformer'"),
    (["--keep-best-weights", "maybe"], "expected true or false, got 'maybe'"),
    (["--batch-size", "1000", "--train-subset", "500"], "batch_size=1000 is larger than train_subset=500"),
    (["--preset", "fastest"], "argument --preset: invalid choice: 'fastest'"),
    (["--data", "/nonexistent/mnist.npz"], "/nonexistent/mnist.npz: no such file or folder"),
    (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
])
def test_invalid_values_exit_2_with_one_line_and_no_traceback(tmp_path, flags, message):
    """Check every bad flag exits with status 2 and a single-line message."""
    result = run_cli("train", "--runs-dir", str(tmp_path), *flags)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1


def test_runs_lists_a_run_with_a_flipped_byte_as_damaged_and_keeps_whole_numbers(copied_run):
    """Check `runs` and `runs --json` call a run damaged when one byte of its predictions changed (size
    unchanged), and whole-number fields stay whole numbers (16, not 16.0) beside the damaged row."""
    store, record = copied_run
    damaged = copy_as_other_run(store, record, seed=1, started_at="2099-01-01T00:00:00+00:00")
    flip_byte(damaged.run_dir / PREDICTIONS_FILE)
    rows = {row["run_id"]: row for row in json.loads(run_cli("runs", "--runs-dir", str(store.root), "--json").stdout)}
    assert {run_id: row["status"] for run_id, row in rows.items()} == {record.run_id: RunStatus.COMPLETE,
                                                                      damaged.run_id: RunStatus.DAMAGED}
    assert rows[damaged.run_id]["problem"].endswith("test_predictions.npz is truncated or changed")
    assert [(rows[run_id]["hidden_units"], rows[run_id]["epochs"]) for run_id in rows] == [(16, 1), (16, 1)]
    store.set_run_name(record.run_id, "first")
    lines = run_cli("runs", "--runs-dir", str(store.root)).stdout.splitlines()
    assert lines[0].split()[:8] == ["run_id", "name", "status", "cell", "hidden_units", "learning_rate", "epochs",
                                    "train_subset"]
    by_id = {line.split()[0]: line.split() for line in lines[1:]}
    assert by_id[record.run_id][:8] == [record.run_id, "first", RunStatus.COMPLETE, "rnn", "16", "0.001", "1", "2000"]
    assert by_id[damaged.run_id][:8] == [damaged.run_id, "-", RunStatus.DAMAGED, "rnn", "16", "0.001", "1", "2000"]
    assert "16.0" not in "\n".join(lines)


def test_report_writes_one_html_file_and_says_where(tiny_run, tmp_path):
    """Check `python -m core report RUN_ID --out FILE --images N --json` writes the report there (the
    page's markers and the run id inside, no path of this machine) and ends with a JSON summary."""
    store, record = tiny_run
    out = tmp_path / "shared" / "tiny.html"
    out.parent.mkdir()
    completed = run_cli("report", record.run_id, "--runs-dir", str(store.root), "--out", str(out), "--images", "3",
                        "--json")
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.strip().splitlines()
    assert lines[0].startswith(f"Wrote the report of run {record.run_id} to {out} (") and "3 images played" in lines[0]
    assert json.loads(lines[-1]) == {"run_id": record.run_id, "path": str(out), "bytes": out.stat().st_size,
                                     "images": 3}
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>") and record.run_id in text
    assert str(store.root) not in text and str(tmp_path) not in text
    assert "No runtime found" not in completed.stderr  # the pages' caches stay quiet outside a server


@pytest.mark.parametrize("make_bad, message", [
    (lambda store, run_id: "0123456789abcdef", "run 0123456789abcdef does not exist (deleted, or never trained here)"),
    (lambda store, run_id: "not-a-run", "run id 'not-a-run' is not valid; a run id is 16 hex digits"),
    (lambda store, run_id: flip_byte(store.root / run_id / PREDICTIONS_FILE) or run_id, "is damaged"),
])
def test_report_refuses_in_one_line_with_exit_2(copied_run, tmp_path, make_bad, message):
    """Check an unknown id, a malformed id and a damaged run are refused in one line, exit 2, no file."""
    store, record = copied_run
    run_id = make_bad(store, record.run_id)
    out = tmp_path / "report.html"
    completed = run_cli("report", run_id, "--runs-dir", str(store.root), "--out", str(out))
    assert completed.returncode == 2, completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m core report: error: ") and message in lines[0], lines
    assert not out.exists()


def test_report_refuses_a_bad_images_count_and_a_folder_as_out(tiny_run, tmp_path):
    """Check --images outside 1-30 and an --out that is a folder are refused in one line, exit 2."""
    store, record = tiny_run
    too_many = run_cli("report", record.run_id, "--runs-dir", str(store.root), "--images", "31",
                       "--out", str(tmp_path / "r.html"))
    assert (too_many.returncode, too_many.stderr.strip()) == (
        2, "python -m core report: error: images=31 is out of range; allowed 1 to 30")
    folder = run_cli("report", record.run_id, "--runs-dir", str(store.root), "--out", str(tmp_path))
    assert (folder.returncode, folder.stderr.strip()) == (
        2, f"python -m core report: error: --out {tmp_path} is a folder; give a file name")
