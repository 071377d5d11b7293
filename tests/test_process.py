"""Tests of the process-wide settings: applied by configure_process(), never by an import."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.process_settings import (
    BLAS_THREAD_VARIABLES,
    MAX_TRAINING_SHARDS,
    TENSORFLOW_ENVIRONMENT,
    TRAINING_SHARDS,
    training_shards,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Prints how many threads of each name the process has once TensorFlow has run a matmul: the
# inter-op pool's threads are named tf_Compute, the intra-op pool's keep the name python.
THREAD_PROBE = """
import collections, json, os
import tensorflow as tf
tf.matmul(tf.ones((256, 256)), tf.ones((256, 256)))
names = collections.Counter(open(f"/proc/self/task/{task}/comm").read().strip()
                            for task in os.listdir("/proc/self/task"))
print(json.dumps(names))
"""


OUR_VARIABLES = {*TENSORFLOW_ENVIRONMENT, *BLAS_THREAD_VARIABLES}


def run_python(code: str, **environment: str) -> subprocess.CompletedProcess:
    """Run code in a fresh interpreter whose environment has none of our settings but these."""
    clean = {name: value for name, value in os.environ.items() if name not in OUR_VARIABLES}
    return subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=300, env={**clean, **environment})


def outputs_of(*probes: tuple[str, dict[str, str]], last_lines: tuple[int, ...] = ()) -> list:
    """The JSON printed last by each (code, environment) probe in a fresh interpreter; the probes run
    side by side, since each spends seconds importing TensorFlow or SciPy. A probe given a count n > 1
    in last_lines gives the list of its last n lines' JSON instead."""
    clean = {name: value for name, value in os.environ.items() if name not in OUR_VARIABLES}
    processes = [subprocess.Popen([sys.executable, "-c", code], cwd=PROJECT_ROOT, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**clean, **environment})
                 for code, environment in probes]
    results = []
    for index, process in enumerate(processes):
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        count = last_lines[index] if index < len(last_lines) else 1
        lines = [json.loads(line) for line in stdout.strip().splitlines()[-count:]]
        assert len(lines) == count, stdout
        results.append(lines if count > 1 else lines[0])
    return results


def api_settings(intra: int, inter: int) -> str:
    return ("import tensorflow as tf\n"
            f"tf.config.threading.set_intra_op_parallelism_threads({intra})\n"
            f"tf.config.threading.set_inter_op_parallelism_threads({inter})\n")


# Calls configure_process() again once TensorFlow has run its ops (as app.py does on every rerun),
# then prints {"repeated": "ok"}: a process that raised there exits non-zero and prints nothing.
REPEATED_CALL = "configure_process()\nprint(json.dumps({'repeated': 'ok'}))\n"


def test_configure_process_gives_tensorflow_one_thread_per_op():
    """Check the thread pools after configure_process() are those TensorFlow's own API sets for one
    thread per op and TRAINING_SHARDS ops at once, and a user's own TF_NUM_INTRAOP_THREADS wins.
    The configured probe then calls configure_process() again, after TensorFlow ran its ops: that
    repeated call (app.py reruns) must not raise."""
    configure = "from core.process_settings import configure_process\nconfigure_process()\n"
    one_blas_thread = {"OPENBLAS_NUM_THREADS": "1"}  # as configure_process sets it: no OpenBLAS worker thread
    probes = [(configure + THREAD_PROBE + REPEATED_CALL, {}),
              (api_settings(1, TRAINING_SHARDS) + THREAD_PROBE, one_blas_thread),
              (configure + THREAD_PROBE, {"TF_NUM_INTRAOP_THREADS": "3"}),
              (api_settings(3, TRAINING_SHARDS) + THREAD_PROBE, one_blas_thread)]
    (configured, repeated), by_api, user_choice, user_by_api = outputs_of(*probes, last_lines=(2, 1, 1, 1))
    assert repeated == {"repeated": "ok"}  # the repeated call returned, and the probe exited 0
    assert configured == by_api
    assert configured["tf_Compute"] == TRAINING_SHARDS
    assert user_choice == user_by_api != configured


def test_configure_process_after_tensorflow_started_fails_loudly():
    """Check a first call after TensorFlow ran an op raises (the repeated call, which must not, is
    checked by the configured probe of test_configure_process_gives_tensorflow_one_thread_per_op)."""
    late = run_python("import tensorflow as tf\ntf.constant(1.0) + 1.0\n"
                      "from core.process_settings import configure_process\nconfigure_process()\n")
    assert late.returncode != 0
    assert "configure_process() was called after TensorFlow ran its first op" in late.stderr


# Prints the thread count of every BLAS library once NumPy is loaded before configure_process() and
# SciPy (its own OpenBLAS) after it.
BLAS_PROBE = """
import json, numpy, threadpoolctl
from core.process_settings import configure_process
configure_process()
import scipy.linalg
print(json.dumps([[pool["filepath"], pool["num_threads"]] for pool in threadpoolctl.threadpool_info()
                  if pool["user_api"] == "blas"]))
"""


def test_configure_process_gives_blas_one_thread_and_a_user_choice_wins():
    """Check NumPy's and SciPy's OpenBLAS run one thread after configure_process(), on this 2-core
    machine where they start two, and a user's OPENBLAS_NUM_THREADS or OMP_NUM_THREADS is kept."""
    default_probe = "import json, numpy, threadpoolctl\nprint(json.dumps([[pool['filepath'], pool['num_threads']] " \
                    "for pool in threadpoolctl.threadpool_info()]))\n"
    default, configured, openblas, omp = outputs_of(
        (default_probe, {}), (BLAS_PROBE, {}), (BLAS_PROBE, {"OPENBLAS_NUM_THREADS": "2"}),
        (BLAS_PROBE, {"OMP_NUM_THREADS": "2"}))
    pools = {"configured": configured, "openblas": openblas, "omp": omp}
    assert [threads for _, threads in default] == [len(os.sched_getaffinity(0))]  # what the limit changes
    assert len(pools["configured"]) == 2  # NumPy's and SciPy's libraries
    assert {path.split("/")[-2] for path, _ in pools["configured"]} == {"numpy.libs", "scipy.libs"}
    assert [threads for _, threads in pools["configured"]] == [1, 1]
    assert [threads for _, threads in pools["openblas"]] == [2, 2]
    assert [threads for _, threads in pools["omp"]] == [2, 2]


CORE_MODULES = ["core", "core.config", "core.data.mnist", "core.data.mnist_files", "core.events", "core.atomic_files",
                "core.runs.format", "core.runs.files", "core.runs.store", "core.runs.train", "core.runs.job_queue",
                "core.cli.main", "core.process_settings"]


def test_importing_core_changes_no_process_setting():
    """Check importing core's modules sets no environment variable, keeps the umask, and does not
    import TensorFlow (the dashboard's first page must start without it)."""
    code = ("import importlib, json, os, sys\nbefore = dict(os.environ)\numask = os.umask(0o022)\nchanged = {}\n"
            f"for module in {CORE_MODULES!r}:\n"
            "    importlib.import_module(module)\n"
            "    changed[module] = [name for name, differs in [('environment', dict(os.environ) != before),\n"
            "        ('umask', os.umask(0o022) != 0o022), ('tensorflow', 'tensorflow' in sys.modules)] if differs]\n"
            "print(json.dumps(changed))\n")
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {module: [] for module in CORE_MODULES}


@pytest.mark.parametrize("cpus, expected", [({0}, 1), ({0, 1}, 2), (set(range(6)), 6),
                                            (set(range(64)), MAX_TRAINING_SHARDS)])
def test_training_shards_are_the_cpus_this_process_may_use(monkeypatch, cpus, expected):
    """Check a training step is cut in one part per CPU of the process's affinity mask (not the
    machine's count: a container may allow fewer), at most MAX_TRAINING_SHARDS."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: cpus)
    monkeypatch.setattr(os, "cpu_count", lambda: 128)
    assert training_shards() == expected


def test_training_shards_without_affinity_masks_are_the_machines_cpus(monkeypatch):
    """Check an OS without affinity masks (macOS) gets one part per CPU of the machine."""
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    assert training_shards() == 3
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert training_shards() == 1
