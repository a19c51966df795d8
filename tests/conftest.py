"""Fixtures for every test: running the real command line, and where the shared real-world
fixtures are (never copied into the repository; tests skip when they are absent)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from gpu_preflight.knowledge import KnowledgeBase

from support.paths import MISSING, ROOT
from support.paths import REAL as SHARED_REAL


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)


@pytest.fixture
def run_cli(tmp_path):
    """Run ``python -m gpu_preflight ARGS`` as a user would, in a separate process."""

    def run(*args: str, env: dict[str, str] | None = None, input: str | None = None, timeout: float = 60) -> CliResult:
        full_env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), NO_COLOR="1")
        full_env.pop("PREFLIGHT_DEBUG", None)
        full_env.update(env or {})
        proc = subprocess.run(
            [sys.executable, "-m", "gpu_preflight", *args],
            capture_output=True,
            text=True,
            env=full_env,
            input=input,
            timeout=timeout,
            cwd=tmp_path,
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    return run


@pytest.fixture(scope="session")
def shared_real() -> Path:
    if not SHARED_REAL.is_dir():
        pytest.skip(MISSING)
    return SHARED_REAL


@pytest.fixture(autouse=True)
def _packaged_knowledge(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Judge with the facts shipped in the package, not a user's --db / $GPU_PREFLIGHT_DB, and
    keep the parsed-TOML cache out of the user's home."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))
    monkeypatch.delenv("GPU_PREFLIGHT_DB", raising=False)


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return KnowledgeBase().load_all()
