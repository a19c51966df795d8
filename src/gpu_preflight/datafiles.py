"""Reading TOML data files shipped inside the package (fit, serve): once per process, and a
broken file is one clear line, not a traceback."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

from gpu_preflight.errors import UsageError


@functools.lru_cache(maxsize=None)
def load_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: unusable data file: {exc}") from None
