"""Fixtures for the browser tests: headless Chromium (skipped with the reason when it is not
installed) and `preflight serve` on the tiny random model as a real process (the app on a stub
engine is browser/servers.py)."""

from __future__ import annotations

import os

import pytest

from browser.chromium import missing, start
from browser.servers import API_KEY
from support.serving import ServeProcess
from support.tiny_model import build_tiny_model


@pytest.fixture(scope="module")
def browser():
    reason = missing()
    if reason and os.environ.get("PREFLIGHT_BROWSER_REQUIRED"):
        pytest.fail(f"PREFLIGHT_BROWSER_REQUIRED is set (CI) but headless Chromium is missing: {reason}")
    if reason:
        pytest.skip(f"browser tests need headless Chromium: {reason}")
    session = start()
    yield session
    session.quit()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`preflight serve` on the tiny model with VibeThinker's profile and an API key."""
    pytest.importorskip("torch", reason="serving needs torch")
    pytest.importorskip("transformers")
    model = build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-qwen2")
    serve = ServeProcess(
        model, "--profile", "vibethinker", "--api-key", API_KEY, log=tmp_path_factory.mktemp("log") / "serve.log"
    )
    try:
        serve.wait_until_ready()
        yield serve
    finally:
        serve.stop()
