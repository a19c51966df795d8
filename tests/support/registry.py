"""A real registry for the tests: Debian's ``docker-registry`` (distribution 2.8) on 127.0.0.1,
images pushed to it over the Registry API v2, and a bearer-token gate in front of it.

The token gate is a small Python HTTP server of ours (not the registry's own JWT ``auth: token``,
which would need a signing certificate): it answers requests without ``Authorization: Bearer
<token>`` with ``401`` + ``WWW-Authenticate: Bearer realm=...,service=...,scope=...`` as Docker Hub
and nvcr.io do, serves the token at ``/token``, forwards authorised requests to the real registry,
and redirects blob downloads to a ``/cdn/`` path that refuses an ``Authorization`` header, as
storage services behind Docker Hub do.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REGISTRY_BINARY = shutil.which("docker-registry") or "/usr/bin/docker-registry"
APT_LINE = "apt-get install -y docker-registry"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
TOKEN = "test-token-123"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Registry:
    url: str  # http://127.0.0.1:PORT
    process: subprocess.Popen

    @property
    def host(self) -> str:
        return self.url.removeprefix("http://")

    def _request(self, method: str, path: str, data: bytes | None = None, headers: dict | None = None):
        request = urllib.request.Request(
            self.url + path if path.startswith("/") else path, data=data, method=method, headers=headers or {}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()

    def push_blob(self, name: str, data: bytes) -> str:
        digest = digest_of(data)
        _, headers, _ = self._request("POST", f"/v2/{name}/blobs/uploads/")
        location = headers["Location"]
        location = location if location.startswith("http") else self.url + location
        separator = "&" if "?" in location else "?"
        self._request(
            "PUT", f"{location}{separator}digest={digest}", data, {"Content-Type": "application/octet-stream"}
        )
        return digest

    def push_manifest(self, name: str, reference: str, manifest: dict, media_type: str) -> str:
        body = json.dumps(manifest).encode()
        self._request("PUT", f"/v2/{name}/manifests/{reference}", body, {"Content-Type": media_type})
        return digest_of(body)

    def push_image(
        self, name: str, env: list[str], architecture: str = "amd64", tag: str | None = None, oci: bool = False
    ) -> tuple[str, int]:
        """One single-platform image (a config blob with ``Env``, one layer); (manifest digest, size)."""
        config = json.dumps(
            {
                "architecture": architecture,
                "os": "linux",
                "config": {"Env": env},
                "rootfs": {"type": "layers", "diff_ids": []},
            }
        ).encode()
        layer = b"\x1f\x8b\x08\x00" + os.urandom(32)  # its content does not matter: never pulled
        config_digest, layer_digest = self.push_blob(name, config), self.push_blob(name, layer)
        media = OCI_MANIFEST if oci else DOCKER_MANIFEST
        manifest = {
            "schemaVersion": 2,
            "mediaType": media,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json"
                if oci
                else "application/vnd.docker.container.image.v1+json",
                "size": len(config),
                "digest": config_digest,
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip"
                    if oci
                    else "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": len(layer),
                    "digest": layer_digest,
                }
            ],
        }
        body = json.dumps(manifest).encode()
        digest = self.push_manifest(name, tag or digest_of(body), manifest, media)
        return digest, len(body)

    def push_list(self, name: str, tag: str, entries: list[tuple[str, int, str]], oci: bool = False) -> str:
        """A manifest list / OCI index over (digest, size, architecture) entries."""
        media = OCI_INDEX if oci else DOCKER_LIST
        entry_media = OCI_MANIFEST if oci else DOCKER_MANIFEST
        manifest = {
            "schemaVersion": 2,
            "mediaType": media,
            "manifests": [
                {
                    "mediaType": entry_media,
                    "size": size,
                    "digest": digest,
                    "platform": {"architecture": arch, "os": "linux"},
                }
                for digest, size, arch in entries
            ],
        }
        return self.push_manifest(name, tag, manifest, media)


def start_registry(tmp_path: Path) -> Registry:
    port = free_port()
    config = tmp_path / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {tmp_path / 'data'}\nhttp:\n  addr: 127.0.0.1:{port}\n"
    )
    process = subprocess.Popen(
        [REGISTRY_BINARY, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    registry = Registry(f"http://127.0.0.1:{port}", process)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {process.stderr.read().decode(errors='replace')[:500]}")
        try:
            registry._request("GET", "/v2/")
            return registry
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("docker-registry did not answer within 15 s")


class TokenGate:
    """A bearer-token front for a registry (see the module notes); ``challenge`` may be replaced
    (``Basic realm=...``) to play a registry that wants a login."""

    def __init__(self, upstream: str) -> None:
        gate = self
        self.upstream = upstream
        self.challenge: str | None = None
        self.token_requests: list[str] = []
        self.cdn_requests: list[str] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                if self.path.startswith("/token"):
                    gate.token_requests.append(self.path)
                    return self._send(200, json.dumps({"token": TOKEN}).encode(), {"Content-Type": "application/json"})
                if self.path.startswith("/cdn/"):
                    gate.cdn_requests.append(self.path)
                    if "Authorization" in self.headers:
                        return self._send(400, b"only one auth mechanism allowed", {})
                    return self._forward(self.path.removeprefix("/cdn"))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    match = re.match(r"/v2/(.+?)/(?:manifests|blobs)/", self.path)
                    repo = match[1] if match else ""
                    challenge = gate.challenge or (
                        f'Bearer realm="{gate.url}/token",service="test-registry",scope="repository:{repo}:pull"'
                    )
                    return self._send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {"WWW-Authenticate": challenge})
                if "/blobs/" in self.path:
                    return self._send(307, b"", {"Location": "/cdn" + self.path})
                return self._forward(self.path)

            def _forward(self, path: str) -> None:
                request = urllib.request.Request(
                    gate.upstream + path, headers={"Accept": self.headers.get("Accept", "*/*")}
                )
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        self._send(
                            response.status, response.read(), {"Content-Type": response.headers.get("Content-Type", "")}
                        )
                except urllib.error.HTTPError as error:
                    self._send(error.code, error.read(), {"Content-Type": error.headers.get("Content-Type", "")})

            def _send(self, status: int, body: bytes, headers: dict) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def host(self) -> str:
        return self.url.removeprefix("http://")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
