"""Container image references (``[REGISTRY[:PORT]/]NAME[:TAG][@DIGEST]``), parsed and normalised
the way Docker does it (github.com/distribution/reference: ``regexp.go`` and ``normalize.go``).

``nvidia/cuda:12.4.1-runtime-ubuntu22.04`` is ``docker.io/nvidia/cuda``; ``ubuntu`` is
``docker.io/library/ubuntu:latest``; ``localhost:5000/x`` and ``nvcr.io/nvidia/pytorch`` name
their registry. Anything else is refused with one line: a path (``../../etc``), upper case in a
repository, control characters, an over-long name, a digest that is not ``sha256:`` + 64 hex.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.text import show

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"  # where docker.io's Registry API v2 actually answers
MAX_NAME = 255  # distribution/reference NameTotalLengthMax
MAX_TEXT = 1024  # name + tag + digest with room to spare; longer input is refused before any regex

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|-+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_REFERENCE = re.compile(
    rf"(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?",
    re.ASCII,
)
_DIGEST_HEX = {"sha256": 64, "sha384": 96, "sha512": 128}
EXPECTED = "expected [REGISTRY/]NAME[:TAG][@sha256:DIGEST], e.g. nvidia/cuda:12.4.1-runtime-ubuntu22.04"


@dataclass(frozen=True)
class ImageReference:
    domain: str  # "docker.io", "nvcr.io", "localhost:5000"
    path: str  # "nvidia/cuda", "library/ubuntu"
    tag: str | None  # None with a digest alone; "latest" is filled in only without either
    digest: str | None  # "sha256:<64 hex>"
    text: str  # as the user wrote it

    @property
    def repository(self) -> str:
        """``docker.io/nvidia/cuda``: the key the knowledge base and image configs use."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar(self) -> str:
        """``nvidia/cuda:12.4.1-runtime-ubuntu22.04``, as ``docker`` prints it."""
        name = self.repository
        if self.domain == DOCKER_HUB:
            name = self.path.removeprefix("library/")
        return name + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    @property
    def api_host(self) -> str:
        return DOCKER_HUB_API if self.domain == DOCKER_HUB else self.domain

    @property
    def manifest_reference(self) -> str:
        """What to ask the registry for: the digest when pinned (it wins over the tag, as in Docker)."""
        return self.digest or self.tag or "latest"

    def same_image(self, other: ImageReference) -> bool:
        """Whether ``other`` (a RepoTags / RepoDigests entry) names this image."""
        if self.repository != other.repository:
            return False
        if self.digest and other.digest:
            return self.digest == other.digest
        return self.tag is not None and self.tag == other.tag

    def __str__(self) -> str:
        return self.familiar


def parse_reference(text: object, flag: str = "--image") -> ImageReference:
    """An image reference, normalised as Docker does; ``UsageError`` (one line) if it is not one."""
    if not isinstance(text, str):
        raise UsageError(f"{flag}: expected text, got {type(text).__name__}")
    value = text.strip(" ")  # spaces only: a newline or other control character is refused below
    problem = _problem(value)
    if problem:
        raise UsageError(f"{flag} {show(value)}: {problem}")
    match = _REFERENCE.fullmatch(value)
    if match is None:
        raise UsageError(f"{flag} {show(value)}: not an image reference ({EXPECTED})")
    domain, path = match["domain"], match["path"]
    # normalize.go splitDockerDomain: a first component without "." or ":" that is not
    # "localhost" is a Docker Hub namespace (nvidia/cuda), not a registry host.
    if domain is not None and not ("." in domain or ":" in domain or domain == "localhost"):
        if domain != domain.lower():
            raise UsageError(f"{flag} {show(value)}: repository names are lower case")
        domain, path = DOCKER_HUB, f"{domain}/{path}"
    domain = DOCKER_HUB if domain in (None, "index.docker.io") else domain
    if domain == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if len(f"{domain}/{path}") > MAX_NAME:
        raise UsageError(f"{flag} {show(value)}: repository name longer than {MAX_NAME} characters")
    digest = match["digest"]
    if digest:
        algorithm, _, hexits = digest.partition(":")
        if _DIGEST_HEX.get(algorithm) != len(hexits) or hexits != hexits.lower():
            raise UsageError(f"{flag} {show(value)}: digest must be sha256: followed by 64 lower-case hex digits")
    tag = match["tag"] or (None if digest else "latest")
    return ImageReference(domain, path, tag, digest, value)


def _problem(value: str) -> str | None:
    """A reason to refuse ``value`` before the grammar sees it, or the more helpful reason after."""
    if not value:
        return "empty reference"
    if len(value) > MAX_TEXT:
        return f"too long for an image reference (at most {MAX_TEXT} characters)"
    if not value.isprintable() or not value.isascii():
        return "contains control or non-ASCII characters"
    if _REFERENCE.fullmatch(value):
        return None
    if any(part in ("..", ".") for part in value.split("/")) or value.startswith("/"):
        return f"a file path, not an image reference ({EXPECTED})"
    if "@" in value and not re.search(r"@[a-z0-9]+:[0-9a-f]{32,}$", value):
        return "digest must be sha256: followed by 64 lower-case hex digits"
    name = value.split("@")[0]
    last = name.rsplit("/", 1)[-1]
    if any(c.isupper() for c in (name.split("/", 1)[1] if "/" in name else last).split(":")[0]):
        return "repository names are lower case"
    return None
