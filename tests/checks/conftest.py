"""Fixtures for the doctor scenario tests: the packaged knowledge base, a private parse cache."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _packaged_knowledge(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # Judge with the facts shipped in the package, not a user's --db / $GPU_PREFLIGHT_DB, and
    # keep the parsed-TOML cache out of the user's home.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))
    monkeypatch.delenv("GPU_PREFLIGHT_DB", raising=False)
