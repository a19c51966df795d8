"""Shared helpers of the knowledge-base tests: where ../shared is, and parametrisation that
skips with a clear reason when the shared reference or fixtures are absent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.paths import FACTS_JSON, REAL, ROOT, SHARED  # noqa: F401


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test when it is not there."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared fixtures not available: {path} is absent")
    return path


def shared_files(folder: str, pattern: str) -> list[Path]:
    """Files of a shared fixture folder ([] when absent)."""
    base = REAL / folder
    return sorted(base.glob(pattern)) if base.is_dir() else []


def load_facts() -> dict:
    """cuda-facts.json at collection time ({} when absent)."""
    return json.loads(FACTS_JSON.read_text(encoding="utf-8")) if FACTS_JSON.is_file() else {}


def params(items: list, ids=None, reason: str = "shared reference/fixtures (../shared) are absent") -> list:
    """Parametrise over ``items``, or over one skipped case that says why there are none."""
    if not items:
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason))]
    return [pytest.param(item, id=str(ids(item)) if ids else None) for item in items]
