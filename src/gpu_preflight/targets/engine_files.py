"""The inference engines a ``--requirements`` file installs: a pip requirements file (with its
includes) or a pyproject.toml. Kept apart from ``engines.py``, which the file readers import."""

from __future__ import annotations

import os
from collections.abc import Iterable

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.readers import parse_toml
from gpu_preflight.core.text import show
from gpu_preflight.targets.model import EngineTarget
from gpu_preflight.targets.pip import parse_pip_engines, read_requirements_text
from gpu_preflight.targets.pyproject import parse_pyproject_engines


def requirements_engines(paths: Iterable[str | os.PathLike[str]]) -> tuple[EngineTarget, ...]:
    """The engine requirements of every ``--requirements`` file, in order."""
    found: list[EngineTarget] = []
    for raw in paths:
        path = os.fspath(raw)
        label = f"--requirements {show(path)}"
        text = read_requirements_text(path, label)
        if path.lower().endswith(".toml") or _is_toml_document(text):
            found.extend(parse_pyproject_engines(text, path, label))
        else:
            found.extend(parse_pip_engines(path, text))
    return tuple(found)


def _is_toml_document(text: str) -> bool:
    """A pyproject under another name: TOML with at least one table (no requirements file is)."""
    try:
        data = parse_toml(text, "requirements")
    except UsageError:
        return False
    return any(isinstance(value, dict) for value in data.values())
