"""tests/images: no registry proxy and no Docker host from the environment."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_proxy_no_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)  # the local registry is reached directly
