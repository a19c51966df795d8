"""Fixtures for the serve tests: the tiny model, and `preflight serve` as a real process."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.serving import ServeProcess
from support.tiny_model import build_tiny_model


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    pytest.importorskip(
        "torch", reason="serving needs torch (install it first: https://pytorch.org/get-started/locally/)"
    )
    pytest.importorskip("transformers")
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-qwen2")


@pytest.fixture(scope="module")
def server(tiny_model, tmp_path_factory):
    serve = ServeProcess(tiny_model, "--max-queue", "16", log=tmp_path_factory.mktemp("log") / "serve.log")
    serve.wait_until_ready()
    yield serve
    serve.stop()
