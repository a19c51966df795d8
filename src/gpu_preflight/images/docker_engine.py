"""A local Docker engine, asked over its unix socket for an image it already has.

``GET /images/{name}/json`` answers with what ``docker image inspect`` prints. The engine is
optional: no socket, a refused connection, a slow or odd answer all mean "not known here" and
the caller falls through to the next source, quietly and within ``timeout`` seconds. Only unix
sockets are used (``$DOCKER_HOST=unix://...`` or the default path): a tcp:// engine is a remote
machine, and this tool does not reach out to one unasked.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
from urllib.parse import quote

from gpu_preflight.core.limits import MAX_IMAGE_CONFIG_BYTES
from gpu_preflight.images.config import (
    ImageConfig,
    config_from_document,
)

DEFAULT_SOCKET = "/var/run/docker.sock"
TIMEOUT_S = 1.0


def engine_socket(environ: dict[str, str] | None = None) -> str | None:
    """The engine's unix socket, or None when ``$DOCKER_HOST`` points elsewhere (tcp://, ssh://)."""
    host = (os.environ if environ is None else environ).get("DOCKER_HOST", "")
    if not host:
        return DEFAULT_SOCKET
    return host.removeprefix("unix://") if host.startswith("unix://") else None


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def inspect_local_image(
    name: str, socket_path: str | None = DEFAULT_SOCKET, timeout: float = TIMEOUT_S
) -> ImageConfig | None:
    """The engine's metadata of image ``name``, or None (no engine, image not pulled, any error)."""
    if not socket_path or not os.path.exists(socket_path):
        return None  # the common case: no engine here; costs one stat()
    connection = _UnixConnection(socket_path, timeout)
    try:
        connection.request("GET", f"/images/{quote(name, safe='/:@')}/json", headers={"Host": "docker"})
        response = connection.getresponse()
        body = response.read(MAX_IMAGE_CONFIG_BYTES + 1)
        if response.status != 200 or len(body) > MAX_IMAGE_CONFIG_BYTES:
            return None
        return config_from_document(json.loads(body), "docker engine")
    except Exception:  # noqa: BLE001 - socket, HTTP, JSON or shape errors: the engine is only a bonus
        return None
    finally:
        connection.close()
