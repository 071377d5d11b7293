"""Sweeps on a real Ray cluster as a user starts one: `ray start --head` (token authentication on, Ray
2.60's default) and a second node by `ray start --address`, both on this machine with their own
temporary folders and a token of their own (the user's ~/.ray/auth_token is never read or written).

`python -m core sweep --address` lands trials from both nodes in the driver's store without the user
setting RAY_AUTH_MODE; a wrong token, no token, a closed port and a server that is not Ray each fail
in one line with exit code 2, and so does the Sweeps page's Start; once the cluster is killed, its
record left behind, a sweep without an address still starts Ray of its own. The cluster is started
once for the module and stopped through its own process groups, never by `ray stop` (which stops
every Ray process on the machine)."""

from __future__ import annotations

import http.server
import json
import os
import secrets
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("ray")
# One Ray test module at a time: with pytest-xdist, every Ray test runs in the same worker.
pytestmark = pytest.mark.xdist_group("ray")

from core.runs.format import RunStatus  # noqa: E402
from core.runs.store import RunStore  # noqa: E402
from core.sweeps.cluster_check import TOKEN_LOOKUP  # noqa: E402
from core.sweeps.record import SweepStatus, read_sweep  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RAY = str(Path(sys.executable).parent / "ray")  # the `ray` command of this interpreter's Ray
# A small sweep: two trials of one CPU each, one per node (each node has one CPU).
SWEEP_FLAGS = ["--train-subset", "500", "--epochs", "1", "--hidden-units", "8", "--cpus-per-trial", "1"]
REFUSED = "InvalidAuthToken: Authentication token is missing or incorrect"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without any Ray address or token setting the user may have, plus extra."""
    ours = {key: value for key, value in os.environ.items()
            if key not in ("RAY_ADDRESS", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_TMPDIR")}
    return {**ours, "RAY_USAGE_STATS_ENABLED": "0", **extra}


def _group_members(group: int) -> list[int]:
    """The live (not zombie) processes of a process group."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] not in ("Z", "X"):
            members.append(int(stat.parent.name))
    return members


def _stop_group(group: int) -> None:
    """Stop every process `ray start` left in its process group: SIGTERM, then SIGKILL for the rest."""
    for sent, wait_seconds in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(group, sent)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait_seconds
        while _group_members(group) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not _group_members(group):
            return


def _ray_start(arguments: list[str], environment: dict[str, str]) -> int:
    """Run `ray start ...` in a process group of its own; return the group, which the node's
    daemons (GCS, raylet, agents) and workers stay in after `ray start` itself returns."""
    process = subprocess.Popen([RAY, "start", *arguments, "--disable-usage-stats"], env=environment,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    output, _ = process.communicate(timeout=300)
    if process.returncode != 0:
        _stop_group(process.pid)
        raise RuntimeError(f"ray start {' '.join(arguments)} failed:\n{output[-3000:]}")
    return process.pid


@dataclass
class RayCluster:
    address: str  # 127.0.0.1:PORT of the head's GCS
    token: str
    token_file: Path
    head_temp: Path  # each node's --temp-dir: its sessions, logs and the head's ray_current_cluster record
    worker_temp: Path
    groups: list[int]

    def stop(self) -> None:
        for group in self.groups:
            _stop_group(group)
        self.groups = []

    def node_of(self, pid: int) -> str:
        """Which node ran the Ray worker process pid ("head" or "worker"), from the nodes' worker logs."""
        nodes = [name for name, temp in (("head", self.head_temp), ("worker", self.worker_temp))
                 if list(temp.glob(f"session_*/logs/python-core-worker-*_{pid}.log"))]
        assert len(nodes) == 1, f"worker pid {pid} found on nodes {nodes}"
        return nodes[0]


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    """A head node and a worker node, one CPU each, token authentication on, started as a user would."""
    token_folder = tmp_path_factory.mktemp("token")
    token = secrets.token_hex(32)
    token_file = token_folder / "auth_token"
    token_file.write_text(token + "\n")
    # Ray's socket paths must stay under ~107 characters: the nodes' folders are short ones in /tmp.
    base = Path(tempfile.mkdtemp(prefix="rnn-ray-", dir="/tmp"))
    port = _free_port()
    cluster = RayCluster(f"127.0.0.1:{port}", token, token_file, base / "ray", base / "worker", [])
    try:
        cluster.groups.append(_ray_start(
            ["--head", f"--port={port}", "--num-cpus=1", "--include-dashboard=false", "--node-ip-address=127.0.0.1",
             f"--ray-client-server-port={_free_port()}", f"--temp-dir={cluster.head_temp}"],
            _clean_environment(RAY_AUTH_TOKEN=token)))
        cluster.groups.append(_ray_start(
            [f"--address={cluster.address}", "--num-cpus=1", "--node-ip-address=127.0.0.1",
             f"--temp-dir={cluster.worker_temp}"],
            _clean_environment(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token)))
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


def _sweep(arguments: list[str], environment: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """`python -m core sweep ...` as a user runs it (from a folder of their own, not the project's)."""
    return subprocess.run([sys.executable, "-m", "core", "sweep", *arguments], cwd=cwd, capture_output=True, text=True,
                          timeout=900, env={**environment, "PYTHONPATH": str(PROJECT_ROOT)})


def test_a_sweep_through_the_address_runs_trials_on_both_nodes(ray_cluster, tmp_path):
    """Check `python -m core sweep --address` with only the cluster's token file (no RAY_AUTH_MODE)
    runs one trial on each node and lands both runs complete and verified in the driver's store."""
    runs = tmp_path / "runs"
    completed = _sweep(["--vary", "learning_rate=0.001,0.003", "--seeds", "0", *SWEEP_FLAGS,
                        "--address", ray_cluster.address, "--runs-dir", str(runs), "--json"],
                       _clean_environment(RAY_AUTH_TOKEN_PATH=str(ray_cluster.token_file)), tmp_path)
    assert completed.returncode == 0, completed.stderr[-3000:]
    summary = json.loads(completed.stdout.strip().splitlines()[-1])
    assert summary["status"] == "complete" and summary["counts"] == {"complete": 2}, summary
    store = RunStore(runs)
    records = [store.read_run(trial["run_id"]) for trial in summary["trials"]]  # verifies every file's sha256
    assert [record.status for record in records] == [RunStatus.COMPLETE, RunStatus.COMPLETE]
    # Each run's status says which worker process trained it; each node's logs say whose worker that was.
    assert sorted(ray_cluster.node_of(record.status_info.pid) for record in records) == ["head", "worker"]
    sweep = read_sweep(runs, summary["sweep_id"])
    assert sweep.status == SweepStatus.COMPLETE and sweep.address == ray_cluster.address


def _one_line_failure(completed: subprocess.CompletedProcess) -> str:
    assert completed.returncode == 2, (completed.returncode, completed.stderr[-3000:])
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    return lines[0]


def test_a_wrong_token_is_reported_as_refused(ray_cluster, tmp_path):
    """Check a wrong token fails at once, in one line saying the cluster refused it, where it came
    from and where the token is looked for; nothing is trained."""
    completed = _sweep(["--vary", "learning_rate=0.001", *SWEEP_FLAGS, "--address", ray_cluster.address,
                        "--runs-dir", str(tmp_path / "runs")], _clean_environment(RAY_AUTH_TOKEN="0" * 64), tmp_path)
    assert _one_line_failure(completed) == (
        f"python -m core sweep: error: the cluster at {ray_cluster.address} refused the token: {REFUSED} "
        f"(the token came from RAY_AUTH_TOKEN; the driver reads {TOKEN_LOOKUP})")
    assert not (tmp_path / "runs").exists()


def test_no_token_is_reported_with_where_it_was_looked_for(ray_cluster, tmp_path):
    """Check a driver that finds no token is told the cluster requires one, and where it looked."""
    missing = tmp_path / "no-such-token"
    completed = _sweep(["--vary", "learning_rate=0.001", *SWEEP_FLAGS, "--address", ray_cluster.address,
                        "--runs-dir", str(tmp_path / "runs")], _clean_environment(RAY_AUTH_TOKEN_PATH=str(missing)),
                       tmp_path)
    assert _one_line_failure(completed) == (
        f"python -m core sweep: error: the cluster at {ray_cluster.address} refused the connection: it requires a "
        f"token and none was found (looked in RAY_AUTH_TOKEN (unset), {missing} (RAY_AUTH_TOKEN_PATH))")


class _Silent(socketserver.BaseRequestHandler):
    """Accepts a connection and says nothing until the client gives up."""

    def handle(self):
        self.request.settimeout(30)
        try:
            while self.request.recv(4096):
                pass
        except OSError:
            pass


@pytest.fixture(params=["http", "silent"])
def not_ray(request):
    """A local TCP server that is not Ray: a web server, or one that accepts and never answers."""
    if request.param == "http":
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    else:
        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Silent)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_server_that_is_not_ray_is_reported_as_such(not_ray, tmp_path):
    """Check an address where something answers that is not a Ray GCS fails in one line saying so."""
    completed = _sweep(["--vary", "learning_rate=0.001", *SWEEP_FLAGS, "--address", not_ray,
                        "--runs-dir", str(tmp_path / "runs")], _clean_environment(), tmp_path)
    line = _one_line_failure(completed)
    assert line.startswith(f"python -m core sweep: error: something answers at {not_ray} but it is not a Ray "
                           "cluster's GCS ("), line
    assert line.endswith("); give the head node's address, HOST:PORT with the port of `ray start --head --port` "
                         "(6379 by default)"), line


def test_a_closed_port_is_reported_as_unreachable(tmp_path):
    """Check an address where nothing listens fails in one line saying Ray cannot be reached there."""
    address = f"127.0.0.1:{_free_port()}"
    completed = _sweep(["--vary", "learning_rate=0.001", *SWEEP_FLAGS, "--address", address,
                        "--runs-dir", str(tmp_path / "runs")], _clean_environment(), tmp_path)
    assert _one_line_failure(completed) == (f"python -m core sweep: error: cannot reach Ray at {address}: "
                                            "Connection refused")


def test_the_sweeps_page_reports_a_refused_token(ray_cluster, tmp_path, monkeypatch, fresh_caches):
    """Check Start on the Sweeps page, with the cluster's address and a wrong token, shows the same
    one-line message as plain text and starts no driver."""
    from streamlit.testing.v1 import AppTest

    runs = tmp_path / "runs"
    runs.mkdir()
    monkeypatch.setenv("RNN_RUNS_DIR", str(runs))
    for name in ("RAY_AUTH_TOKEN_PATH", "RAY_AUTH_MODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RAY_AUTH_TOKEN", "0" * 64)
    app = AppTest.from_file(str(PROJECT_ROOT / "dashboard" / "app.py"), default_timeout=120)
    app.run()
    app.switch_page("views/sweeps.py")
    app.session_state["sweeps_address"] = ray_cluster.address
    app.run()
    app.sidebar.button(key="sweeps_start_sweep").click().run()
    assert not app.exception, app.exception
    assert app.error[0].value.replace("\\", "") == (
        f"The sweep did not start: the cluster at {ray_cluster.address} refused the token: {REFUSED} (the token "
        f"came from RAY_AUTH_TOKEN; the driver reads {TOKEN_LOOKUP})")
    assert not list(runs.iterdir())


# The module's last test: it kills the cluster.
def test_a_local_sweep_starts_its_own_ray_after_the_cluster_is_killed(ray_cluster, tmp_path):
    """Check that once the cluster is killed (no `ray stop`: its record of the cluster stays in Ray's
    temporary folder), `--address auto` says it cannot reach the recorded cluster, and a sweep
    without an address starts a Ray instance of its own and completes."""
    ray_cluster.stop()
    # What a plain ray.init() would try to join: the head's GCS, named by this machine's address.
    recorded = (ray_cluster.head_temp / "ray_current_cluster").read_text().strip()
    assert recorded.rpartition(":")[2] == ray_cluster.address.rpartition(":")[2]
    # RAY_TMPDIR makes the head's folder Ray's default one, as /tmp/ray is after a plain `ray start --head`.
    environment = _clean_environment(RAY_TMPDIR=str(ray_cluster.head_temp.parent), RAY_AUTH_TOKEN=ray_cluster.token)
    auto = _sweep(["--vary", "learning_rate=0.001", *SWEEP_FLAGS, "--address", "auto",
                   "--runs-dir", str(tmp_path / "runs")], environment, tmp_path)
    assert _one_line_failure(auto) == (f"python -m core sweep: error: cannot reach Ray at auto ({recorded}, "
                                       "the cluster recorded on this machine): Connection refused")
    completed = _sweep(["--vary", "learning_rate=0.001", *SWEEP_FLAGS, "--runs-dir", str(tmp_path / "runs"), "--json"],
                       environment, tmp_path)
    assert completed.returncode == 0, completed.stderr[-3000:]
    summary = json.loads(completed.stdout.strip().splitlines()[-1])
    assert summary["status"] == "complete" and summary["counts"] == {"complete": 1}
    assert RunStore(tmp_path / "runs").read_run(summary["trials"][0]["run_id"]).status == RunStatus.COMPLETE
