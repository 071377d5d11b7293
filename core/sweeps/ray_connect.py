"""Connecting a sweep's driver to Ray: start a local instance (object store capped, no dashboard) or
join a cluster at an address (checked first by core/sweeps/cluster_check.py); either way the project
goes to the workers as the job's working_dir, with the environment the trials need. Used by
core/sweeps/driver.py."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from core.sweeps.cluster_check import RayUnavailable, check_cluster
from core.sweeps.spec import SweepSpec

__all__ = ["RayUnavailable", "check_address", "connect", "runtime_env", "object_store_bytes_for"]

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the folder that holds core/: what the workers import
# What the project's working directory sent to the workers leaves out: runs, data, caches, VCS. The
# patterns are gitignore's: a leading "/" anchors one at the project's root (a bare "runs" would also
# leave out the package core/runs/).
WORKING_DIR_EXCLUDES = [".git", "/runs*", ".sweeps", "*.npz", "*.h5", "__pycache__", ".pytest_cache", "node_modules",
                        ".venv", "/bench/output*", "/test-artifacts"]
STARTED, JOINED, EXISTING = "started", "joined", "existing"  # how the driver came to be connected to Ray


# A cluster address as the Sweeps page takes it: HOST:PORT or ray://HOST:PORT, the host a name, an
# IPv4 address or a bracketed IPv6 address.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDRESS = re.compile(rf"(?:ray://)?(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\]):([0-9]{{1,5}})")
ADDRESS_LABEL = "Ray address"
ADDRESS_HELP = ("HOST:PORT joins a cluster (its head, port 6379 by default), ray://HOST:PORT through Ray Client, "
                "auto the cluster `ray start` runs on this machine; empty starts a new Ray instance on this "
                "machine. A cluster's token is read from RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token")


def check_address(address: str | None) -> str | None:
    """The address to give the driver: None for a new Ray instance on this machine (empty), else
    HOST:PORT, ray://HOST:PORT or auto as typed. Raises ValueError naming the field, the value and what is allowed;
    an http:// address (Ray's dashboard and Jobs API, which sweeps do not use) is told what to use instead."""
    address = (address or "").strip()
    if not address:
        return None
    if address == "auto":
        return address
    shown = repr(address) if len(address) <= 60 else repr(address[:59] + "…")
    if address.lower().startswith(("http://", "https://")):
        raise ValueError(f"{ADDRESS_LABEL} {shown} is Ray's dashboard (Jobs API), which sweeps do not use; give the "
                         "cluster's head as HOST:PORT (port 6379 by default): the driver then runs here and its "
                         "trials on the cluster")
    match = _ADDRESS.fullmatch(address)
    if match is None or not 1 <= int(match.group(1)) <= 65_535 or len(address) > 300:
        raise ValueError(f"{ADDRESS_LABEL} {shown} is not allowed; use HOST:PORT or ray://HOST:PORT "
                         "(a port from 1 to 65535) or auto, or leave it empty for a new Ray instance on this machine")
    return address


def connect(address: str | None, object_store_bytes: int, spec: SweepSpec) -> str:
    """Start or join Ray; returns STARTED (a local instance we must shut down), JOINED (a cluster at
    an address, checked first by check_cluster) or EXISTING (the caller connected already).

    Both send the project as the job's working_dir, so workers import it the same way on this machine
    as on a cluster. Joining a token-authenticated cluster needs RAY_AUTH_MODE=token in this process's
    environment before Ray starts (join_environment says so; the entry point sets it)."""
    try:
        import ray
    except ImportError as error:
        raise RayUnavailable("Ray is not installed; install it with `pip install ray==2.60.0`") from error
    address = address or os.environ.get("RAY_ADDRESS") or None
    if ray.is_initialized():
        return EXISTING  # a caller (a test) already connected
    if address:
        check_cluster(address)
    env = {**runtime_env(spec), "working_dir": str(PROJECT_ROOT), "excludes": WORKING_DIR_EXCLUDES}
    try:
        if address:
            ray.init(address=address, runtime_env=env, log_to_driver=False)
            return JOINED
        # "local": a new instance even when another runs on this machine or a dead one left its
        # record in /tmp/ray (a plain ray.init() would try to join that, and refuse num_cpus there).
        ray.init(address="local", num_cpus=os.cpu_count(), object_store_memory=object_store_bytes,
                 include_dashboard=False, runtime_env=env, log_to_driver=False, configure_logging=False)
        return STARTED
    except Exception as error:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ValueError...
        raise RayUnavailable(f"cannot reach Ray at {address or 'a new local instance'}: "
                             f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}") from error


def runtime_env(spec: SweepSpec) -> dict[str, Any]:
    """The environment of a trial's worker process (a task's runtime_env; it inherits the job's working_dir)."""
    # TensorFlow reads its thread-pool sizes when its runtime starts, so they go in the worker's
    # environment (Ray starts separate workers per runtime_env, before any TensorFlow import).
    threads = str(spec.cpus_per_trial)
    return {"env_vars": {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": threads,
                         "OMP_NUM_THREADS": threads, "TF_CPP_MIN_LOG_LEVEL": "2"}}


def object_store_bytes_for(packed: dict[str, Any]) -> int:
    """The local object store's cap: the MNIST arrays twice over (put + a worker's copy) and 64 MiB
    for the results coming back (a trial's files are a few MB)."""
    payload = sum(value.nbytes for value in packed.values() if isinstance(value, np.ndarray))
    return max(100 * 2**20, 2 * payload + 64 * 2**20)
