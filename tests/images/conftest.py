"""tests/images: the packaged knowledge base, and the doctor scenario helpers on the path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "checks"))  # scenario_kit
sys.path.insert(0, str(Path(__file__).resolve().parent))  # registry_kit


@pytest.fixture(autouse=True)
def _packaged_knowledge(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))
    monkeypatch.delenv("GPU_PREFLIGHT_DB", raising=False)
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)  # the local registry is reached directly
