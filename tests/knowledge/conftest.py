"""Fixtures for the knowledge-base tests (helpers are in support/knowledge.py)."""

from __future__ import annotations

import pytest

from gpu_preflight.knowledge import clear_cache, load_knowledge

from support.knowledge import FACTS_JSON, load_facts


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
