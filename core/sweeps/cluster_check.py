"""Before a driver joins a Ray cluster: find the cluster's token and ask the cluster, in a few seconds,
whether it is there, is Ray, and takes the token, so each failure gets its own one-line message.

Ray 2.60 clusters started with `ray start` require a token by default. A driver sends it only when
RAY_AUTH_MODE=token is in its environment before Ray starts (an explicit address never turns it on
by itself), and without it ray.init retries for ~20 s and then reports a bare ConnectionError.
check_cluster asks the head's GCS for its cluster id over gRPC (what ray.init does first), with the
token Ray would send; join_environment is what the driver's entry point adds to its environment.
Imports neither Ray nor anything heavy unless the address is "auto": the dashboard calls it too.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path

CONNECT_TIMEOUT_SECONDS = 5.0  # how long an address may take to accept a connection
ANSWER_TIMEOUT_SECONDS = 3.0  # how long a connected GCS may take to answer (a live one answers in ms)
# The first call ray.init makes to a cluster's GCS: its request message is empty, so b"" encodes it.
GCS_CLUSTER_ID_METHOD = "/ray.rpc.NodeInfoGcsService/GetClusterId"
TOKEN_LOOKUP = "RAY_AUTH_TOKEN, else the file RAY_AUTH_TOKEN_PATH names, else ~/.ray/auth_token"


class RayUnavailable(RuntimeError):
    """Ray is not installed, or the cluster at the given address cannot be reached or refuses us."""


def find_token(environ: Mapping[str, str] = os.environ) -> tuple[str | None, str]:
    """The token Ray would send from this environment, and where it came from (or where it was
    looked for, when there is none): RAY_AUTH_TOKEN, else RAY_AUTH_TOKEN_PATH, else ~/.ray/auth_token."""
    if environ.get("RAY_AUTH_TOKEN", "").strip():
        return environ["RAY_AUTH_TOKEN"].strip(), "RAY_AUTH_TOKEN"
    path = Path(environ["RAY_AUTH_TOKEN_PATH"]) if environ.get("RAY_AUTH_TOKEN_PATH") else default_token_path()
    where = f"{path} (RAY_AUTH_TOKEN_PATH)" if environ.get("RAY_AUTH_TOKEN_PATH") else str(path)
    try:
        token = path.read_text().strip()
    except OSError:
        token = ""
    if token:
        return token, where
    looked = "RAY_AUTH_TOKEN (unset), " + (where if environ.get("RAY_AUTH_TOKEN_PATH") else
                                           f"RAY_AUTH_TOKEN_PATH (unset), {where}")
    return None, looked


def default_token_path() -> Path:
    """Where `ray start --head` writes a new cluster's token and where Ray looks for one last."""
    return Path.home() / ".ray" / "auth_token"


def join_environment(address: str | None, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """What a driver joining address adds to its own environment before Ray starts: RAY_AUTH_MODE=token
    when a token is found and the user did not choose a mode. Nothing for a local instance."""
    if not address or environ.get("RAY_AUTH_MODE") or find_token(environ)[0] is None:
        return {}
    return {"RAY_AUTH_MODE": "token"}


def check_cluster(address: str, environ: Mapping[str, str] = os.environ) -> str:
    """Raise RayUnavailable, in one line, unless the Ray cluster at address (HOST:PORT, or "auto": the
    cluster `ray start` recorded on this machine) answers and takes our token; returns HOST:PORT.
    Distinguishes: nothing listening, something that is not a Ray GCS, a refused token, no token."""
    if address.startswith("ray://"):
        _check_listening(address, address.removeprefix("ray://"))  # Ray Client: ray.init reports the rest
        return address
    target = _resolve_auto(environ) if address == "auto" else address
    shown = f"auto ({target}, the cluster recorded on this machine)" if address == "auto" else address
    _check_listening(shown, target)
    import grpc  # Ray's own gRPC library (a dependency of ray)

    token, source = find_token(environ)
    if environ.get("RAY_AUTH_MODE", "").lower() == "disabled":
        token = None
    metadata = [("authorization", f"Bearer {token}")] if token else None
    with grpc.insecure_channel(target) as channel:
        ask = channel.unary_unary(GCS_CLUSTER_ID_METHOD)
        try:
            ask(b"", timeout=ANSWER_TIMEOUT_SECONDS, metadata=metadata)
        except grpc.RpcError as error:
            details = " ".join((error.details() or "").split())
            if error.code() == grpc.StatusCode.UNAUTHENTICATED and token:
                raise RayUnavailable(f"the cluster at {shown} refused the token: {details} (the token came from "
                                     f"{source}; the driver reads {TOKEN_LOOKUP})") from None
            if error.code() == grpc.StatusCode.UNAUTHENTICATED:
                raise RayUnavailable(f"the cluster at {shown} refused the connection: it requires a token and none "
                                     f"was found (looked in {source})") from None
            raise RayUnavailable(f"something answers at {shown} but it is not a Ray cluster's GCS "
                                 f"({error.code().name}: {details[:120]}); give the head node's address, "
                                 "HOST:PORT with the port of `ray start --head --port` (6379 by default)") from None
    return target


def _check_listening(shown: str, target: str) -> None:
    """Raise RayUnavailable unless HOST:PORT accepts a TCP connection within a few seconds:
    ray.init itself keeps retrying an unreachable address for minutes."""
    host, _, port = target.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_SECONDS).close()
    except OSError as error:
        raise RayUnavailable(f"cannot reach Ray at {shown}: {error.strerror or error}") from None


def _resolve_auto(environ: Mapping[str, str]) -> str:
    """The address of the cluster `ray start` last recorded on this machine (Ray's own reader of its record)."""
    from ray._common.utils import get_ray_address_file
    from ray._private.utils import read_ray_address

    address = read_ray_address()
    if not address:
        raise RayUnavailable(f"cannot reach Ray at auto: no cluster was started on this machine (no "
                             f"{get_ray_address_file(None)}); start one with `ray start --head` or give HOST:PORT")
    return address
