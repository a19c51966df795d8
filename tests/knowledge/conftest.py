"""Fixtures for the knowledge-base tests (helpers are in kb_shared.py)."""

from __future__ import annotations

import pytest
from kb_shared import FACTS_JSON, load_facts

from gpu_preflight.knowledge import KnowledgeBase, clear_cache, load_knowledge


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # Keep the parsed-TOML cache of these tests out of the user's home.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))
    monkeypatch.delenv("GPU_PREFLIGHT_DB", raising=False)


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return KnowledgeBase().load_all()


@pytest.fixture(scope="session")
def facts() -> dict:
    if not FACTS_JSON.is_file():
        pytest.skip(f"reference facts not available: {FACTS_JSON} is absent")
    return load_facts()


@pytest.fixture
def fresh_loader():
    clear_cache()
    yield load_knowledge
    clear_cache()
