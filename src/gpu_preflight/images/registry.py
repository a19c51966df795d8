"""Read an image's config from its registry over the Registry HTTP API v2, anonymously.

The path every ``docker pull`` takes, stopping before the layers:

1. ``GET /v2/<name>/manifests/<tag|digest>``. Docker Hub, nvcr.io and most registries answer a
   first anonymous request with ``401`` and ``WWW-Authenticate: Bearer realm=...,service=...,
   scope=...``; ``GET realm?service=...&scope=...`` gives a token (``token`` or ``access_token``)
   and the request is repeated with ``Authorization: Bearer <token>``. ``Basic`` means the
   registry wants a login, which this tool never asks for.
2. A manifest list / OCI index names one manifest per platform: the host's (``linux/amd64`` by
   default) is fetched by digest.
3. The manifest's ``config`` descriptor is fetched from ``/v2/<name>/blobs/<digest>`` and its
   ``config.Env`` read. Old schema-1 manifests carry the same config inline.

Everything fetched by digest is checked against that digest. Redirects (blobs live on a CDN) are
followed without the ``Authorization`` header, which storage services refuse. Each request has a
short timeout and a size cap; any failure is a ``RegistryError`` with one line, which the caller
reports and falls through on. Plain HTTP is used only for loopback registries (``localhost``,
``127.0.0.0/8``, ``[::1]``), which Docker also trusts without TLS.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.client import HTTPMessage
from typing import IO, Any
from urllib.parse import urlencode, urljoin

from gpu_preflight.core.limits import MAX_IMAGE_CONFIG_BYTES
from gpu_preflight.images.config import (
    ImageConfig,
    config_from_document,
)
from gpu_preflight.images.reference import ImageReference

TIMEOUT_S = 5.0
MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # the registry's own limit for a manifest is 4 MiB
MAX_REDIRECTS = 3

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"|(\w+)=([^\s,"]+)')


class RegistryError(Exception):
    """The registry could not tell: unreachable, login required, no such tag, malformed answer."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None  # followed by hand, so that Authorization is not sent to the CDN


@dataclass
class _Session:
    reference: ImageReference
    timeout: float
    base: str
    token: str | None = None
    opener: urllib.request.OpenerDirector = field(default_factory=lambda: urllib.request.build_opener(_NoRedirect))

    def get(self, path: str, accept: str, limit: int) -> tuple[bytes, str]:
        """Body and Content-Type of ``path``, after the token dance and redirects."""
        url, authorised, retried = self.base + path, True, False
        for _ in range(MAX_REDIRECTS + 2):
            headers = {"Accept": accept, "User-Agent": "gpu-preflight"}
            if self.token and authorised:
                headers["Authorization"] = f"Bearer {self.token}"
            try:
                with self.opener.open(urllib.request.Request(url, headers=headers), timeout=self.timeout) as response:
                    body = response.read(limit + 1)
                    if len(body) > limit:
                        raise RegistryError(f"{path}: answer larger than {limit // (1024 * 1024)} MiB")
                    return body, response.headers.get("Content-Type", "").split(";")[0].strip()
            except urllib.error.HTTPError as error:
                error.close()
                if error.code in (301, 302, 303, 307, 308) and error.headers.get("Location"):
                    url, authorised = urljoin(url, error.headers["Location"]), False
                elif error.code == 401 and not retried and authorised:
                    self.token = self._token(error.headers.get("WWW-Authenticate", ""))
                    retried = True
                else:
                    raise RegistryError(_http_problem(error.code, path)) from None
        raise RegistryError(f"{path}: too many redirects")

    def _token(self, challenge: str) -> str:
        scheme, _, rest = challenge.partition(" ")
        if scheme.lower() != "bearer":
            raise RegistryError(
                "the registry requires a login (anonymous pull refused)"
                if scheme
                else "401 without a WWW-Authenticate challenge"
            )
        params = {(m[1] or m[3]).lower(): (m[2] if m[1] else m[4]) for m in _CHALLENGE_PARAM.finditer(rest)}
        realm = params.get("realm")
        if not realm or not realm.startswith(("https://", "http://")):
            raise RegistryError(f"bearer challenge without a usable realm: {challenge[:120]!r}")
        query = {
            k: v
            for k, v in (
                ("service", params.get("service")),
                ("scope", params.get("scope") or f"repository:{self.reference.path}:pull"),
            )
            if v
        }
        url = realm + ("&" if "?" in realm else "?") + urlencode(query)
        try:
            with self.opener.open(
                urllib.request.Request(url, headers={"User-Agent": "gpu-preflight"}), timeout=self.timeout
            ) as response:
                answer = json.loads(response.read(1024 * 1024))
        except urllib.error.HTTPError as error:
            error.close()
            raise RegistryError(f"token endpoint {realm}: HTTP {error.code} (anonymous pull refused?)") from None
        except (ValueError, UnicodeDecodeError):
            raise RegistryError(f"token endpoint {realm}: not a JSON token answer") from None
        token = answer.get("token") or answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"token endpoint {realm}: no token in the answer")
        return token


def _http_problem(code: int, path: str) -> str:
    if code == 404:
        return (
            "no such image or tag in the registry (404 on the manifest)"
            if "/manifests/" in path
            else f"{path}: 404 not found"
        )
    if code in (401, 403):
        return f"access denied (HTTP {code}): private image or login required"
    if code == 429:
        return "rate-limited by the registry (HTTP 429): try again later"
    return f"HTTP {code} for {path}"


def _loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name in ("localhost", "[::1]") or name.startswith("127.")


def registry_base(reference: ImageReference) -> str:
    host = reference.api_host
    return f"{'http' if _loopback(host) else 'https'}://{host}"


def _json(body: bytes, what: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise RegistryError(f"{what} is not JSON") from None
    if not isinstance(data, dict):
        raise RegistryError(f"{what} is not a JSON object")
    return data


def _check_digest(body: bytes, digest: str, what: str) -> None:
    algorithm, _, expected = digest.partition(":")
    if algorithm not in ("sha256", "sha512") or not re.fullmatch(r"[0-9a-f]{64}|[0-9a-f]{128}", expected):
        raise RegistryError(f"{what}: unsupported digest {digest[:80]!r}")
    if hashlib.new(algorithm, body).hexdigest() != expected:
        raise RegistryError(f"{what}: content does not match its digest {digest}")


def _pick_platform(index: dict[str, Any], platform: str) -> str:
    wanted_os, _, wanted_arch = platform.partition("/")
    entries = index.get("manifests")
    if not isinstance(entries, list):
        raise RegistryError("manifest list without a 'manifests' array")
    seen = []
    for entry in entries:
        found = entry.get("platform") if isinstance(entry, dict) else None
        if not isinstance(found, dict):
            continue
        seen.append(f"{found.get('os')}/{found.get('architecture')}")
        digest = entry.get("digest")
        wanted = found.get("os") == wanted_os and found.get("architecture") == wanted_arch.split("/")[0]
        if wanted and isinstance(digest, str):
            return digest
    raise RegistryError(f"no {platform} image in the manifest list (it has {', '.join(seen) or 'no platforms'})")


def fetch_image_config(
    reference: ImageReference, platform: str = "linux/amd64", timeout: float = TIMEOUT_S
) -> ImageConfig:
    """The config (``Env``, labels, platform) of ``reference`` as its registry serves it."""
    session = _Session(reference, timeout, registry_base(reference))
    repo = f"/v2/{reference.path}"
    where = f"registry {reference.domain}"
    try:
        body, kind = session.get(f"{repo}/manifests/{reference.manifest_reference}", ACCEPT, MAX_MANIFEST_BYTES)
        if reference.digest:
            _check_digest(body, reference.digest, "manifest")
        manifest = _json(body, "manifest")
        kind = kind or manifest.get("mediaType", "")
        if kind in (OCI_INDEX, DOCKER_LIST) or ("manifests" in manifest and "config" not in manifest):
            digest = _pick_platform(manifest, platform)
            body, kind = session.get(
                f"{repo}/manifests/{digest}", f"{OCI_MANIFEST}, {DOCKER_MANIFEST}", MAX_MANIFEST_BYTES
            )
            _check_digest(body, digest, "platform manifest")
            manifest = _json(body, "platform manifest")
        if kind in DOCKER_SCHEMA1 or manifest.get("schemaVersion") == 1:
            return _schema1_config(manifest, where)
        descriptor = manifest.get("config")
        if not isinstance(descriptor, dict) or not isinstance(descriptor.get("digest"), str):
            raise RegistryError("manifest has no config descriptor")
        blob, _ = session.get(f"{repo}/blobs/{descriptor['digest']}", "application/json, */*", MAX_IMAGE_CONFIG_BYTES)
        _check_digest(blob, descriptor["digest"], "config blob")
        return config_from_document(_json(blob, "config blob"), where)
    except RegistryError as error:
        raise RegistryError(f"{where}: {reference.familiar}: {error}") from None
    except urllib.error.URLError as error:
        reason = error.reason
        text = f"no answer within {timeout:g} s" if isinstance(reason, socket.timeout) else str(reason)
        raise RegistryError(f"{where}: cannot reach {session.base}: {text}") from None
    except TimeoutError:
        raise RegistryError(f"{where}: no answer within {timeout:g} s") from None
    except (ssl.SSLError, OSError) as error:
        raise RegistryError(f"{where}: {type(error).__name__}: {error}") from None
    except Exception as error:  # noqa: BLE001 - e.g. a malformed config: still one line, never a traceback
        raise RegistryError(f"{where}: {reference.familiar}: {error}") from None


def _schema1_config(manifest: dict[str, Any], where: str) -> ImageConfig:
    try:
        v1 = json.loads(manifest["history"][0]["v1Compatibility"])
    except (TypeError, KeyError, IndexError, ValueError):
        raise RegistryError("schema-1 manifest without a readable v1Compatibility config") from None
    return config_from_document(v1, where)
