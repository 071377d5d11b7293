"""Connecting a sweep's driver to Ray: start a local instance (object store capped, no dashboard) or
join a cluster at an address (checked reachable first, the project sent as the job's working_dir),
with the environment the trial workers need. Used by core/sweeps/driver.py."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from typing import Any

import numpy as np

from core.sweeps.spec import SweepSpec

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the folder that holds core/: what the workers import
# What the project's working directory sent to a cluster leaves out: runs, data, caches, VCS.
WORKING_DIR_EXCLUDES = [".git", "runs", "runs*", ".sweeps", "*.npz", "*.h5", "__pycache__", ".pytest_cache",
                        "node_modules", ".venv", "bench/output*"]
STARTED, JOINED, EXISTING = "started", "joined", "existing"  # how the driver came to be connected to Ray
CONNECT_TIMEOUT_SECONDS = 5.0  # how long an address may take to accept a connection


# A cluster address as the Sweeps page takes it: HOST:PORT or ray://HOST:PORT, the host a name, an
# IPv4 address or a bracketed IPv6 address.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDRESS = re.compile(rf"(?:ray://)?(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\]):([0-9]{{1,5}})")
ADDRESS_LABEL = "Ray address"
ADDRESS_HELP = ("HOST:PORT joins a cluster (its head, port 6379 by default), ray://HOST:PORT through Ray Client; "
                "empty starts Ray on this machine")


class RayUnavailable(RuntimeError):
    """Ray is not installed, or the cluster at the given address cannot be reached."""


def check_address(address: str | None) -> str | None:
    """The address to give the driver: None for Ray on this machine (empty), else HOST:PORT or
    ray://HOST:PORT as typed. Raises ValueError naming the field, the value and what is allowed;
    an http:// address (Ray's dashboard and Jobs API, which sweeps do not use) is told what to use instead."""
    address = (address or "").strip()
    if not address:
        return None
    shown = repr(address) if len(address) <= 60 else repr(address[:59] + "…")
    if address.lower().startswith(("http://", "https://")):
        raise ValueError(f"{ADDRESS_LABEL} {shown} is Ray's dashboard (Jobs API), which sweeps do not use; give the "
                         "cluster's head as HOST:PORT (port 6379 by default): the driver then runs here and its "
                         "trials on the cluster")
    match = _ADDRESS.fullmatch(address)
    if match is None or not 1 <= int(match.group(1)) <= 65_535 or len(address) > 300:
        raise ValueError(f"{ADDRESS_LABEL} {shown} is not allowed; use HOST:PORT or ray://HOST:PORT "
                         "(a port from 1 to 65535), or leave it empty for Ray on this machine")
    return address


def connect(address: str | None, object_store_bytes: int, spec: SweepSpec) -> str:
    """Start or join Ray; returns STARTED (a local instance we must shut down), JOINED (a cluster at
    an address, reached with the project as working_dir) or EXISTING (the caller connected already)."""
    try:
        import ray
    except ImportError as error:
        raise RayUnavailable("Ray is not installed; install it with `pip install ray==2.60.0`") from error
    address = address or os.environ.get("RAY_ADDRESS") or None
    if ray.is_initialized():
        return EXISTING  # a caller (a test) already connected
    if address:
        _check_reachable(address)
    try:
        if address:
            env = {**runtime_env(spec, JOINED), "working_dir": str(PROJECT_ROOT), "excludes": WORKING_DIR_EXCLUDES}
            ray.init(address=address, runtime_env=env, log_to_driver=False)
            return JOINED
        # "local": a new instance even when another runs on this machine (a plain ray.init() would
        # join the newest one, someone else's cluster, and refuse num_cpus there).
        ray.init(address="local", num_cpus=os.cpu_count(), object_store_memory=object_store_bytes,
                 include_dashboard=False, runtime_env=runtime_env(spec, STARTED), log_to_driver=False,
                 configure_logging=False)
        return STARTED
    except Exception as error:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ValueError...
        raise RayUnavailable(f"cannot reach Ray at {address or 'a new local instance'}: "
                             f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}") from error


def _check_reachable(address: str) -> None:
    """Raise RayUnavailable unless HOST:PORT (or ray://HOST:PORT) accepts a TCP connection within a
    few seconds: ray.init itself keeps retrying an unreachable address for minutes."""
    host, separator, port = address.split("://", 1)[-1].rpartition(":")
    if not separator or not port.isdigit():
        return  # "auto" and the like: ray.init answers those quickly itself
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_SECONDS).close()
    except OSError as error:
        raise RayUnavailable(f"cannot reach Ray at {address}: {error.strerror or error}") from error


def runtime_env(spec: SweepSpec, mode: str) -> dict[str, Any]:
    """The environment of a trial's worker process, for a driver connected in mode (STARTED or JOINED)."""
    # TensorFlow reads its thread-pool sizes when its runtime starts, so they go in the worker's
    # environment (Ray starts separate workers per runtime_env, before any TensorFlow import).
    threads = str(spec.cpus_per_trial)
    env_vars = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": threads, "OMP_NUM_THREADS": threads,
                "TF_CPP_MIN_LOG_LEVEL": "2"}
    # Workers on this machine find the project through PYTHONPATH; a joined cluster's workers through
    # the job's working_dir (a task's runtime_env inherits it), since this path need not exist there.
    if mode != JOINED:
        env_vars["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
    return {"env_vars": env_vars}


def object_store_bytes_for(packed: dict[str, Any]) -> int:
    """The local object store's cap: the MNIST arrays twice over (put + a worker's copy) and 64 MiB
    for the results coming back (a trial's files are a few MB)."""
    payload = sum(value.nbytes for value in packed.values() if isinstance(value, np.ndarray))
    return max(100 * 2**20, 2 * payload + 64 * 2**20)
