"""Fixtures of the targets tests (helpers are in support/targets.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in tmp_path so that sources read "requirements.txt:3" as a user would see them."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
