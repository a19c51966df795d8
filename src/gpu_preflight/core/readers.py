"""Reading files: user-supplied inputs (anything wrong becomes one clear UsageError line) and the
TOML data files shipped in the package. The one home of JSON and TOML parsing."""

from __future__ import annotations

import functools
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    # Installed only on Python 3.10 (pyproject's tomli marker), so mypy may not find it here.
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.limits import MAX_INPUT_BYTES

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")  # tab, newlines and form feed occur in text


def read_input(
    path: str, what: str, limit: int = MAX_INPUT_BYTES, allow_empty: bool = False, too_big: str = "refusing to read it"
) -> bytes:
    """The bytes of a file (or ``-`` for stdin), refusing what cannot be a real input."""
    label = f"{what} {path}"
    data = sys.stdin.buffer.read(limit + 1) if path == "-" else _read_bytes(path, label, limit)
    if len(data) > limit:
        raise UsageError(f"{label}: larger than {limit // (1024 * 1024)} MiB, {too_big}")
    if not allow_empty and not data.strip():
        raise UsageError(f"{label}: file is empty")
    return data


def read_text(path: str, label: str, limit: int, too_big: str) -> str:
    """A text file: UTF-8 (a BOM is dropped), at most ``limit`` bytes, no binary bytes. ``label``
    starts every message (e.g. ``requirements.txt:3: '-r base.txt'`` for an include)."""
    data = _read_bytes(path, label, limit)
    if len(data) > limit:
        raise UsageError(f"{label}: larger than {limit // (1024 * 1024)} MiB, {too_big}")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UsageError(f"{label}: UTF-16 text (PowerShell's '>' writes it); save the file as UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"{label}: not UTF-8 text (a binary file?)") from None
    if _CONTROL.search(text):
        raise UsageError(f"{label}: contains control characters, not a text file")
    return text


def _read_bytes(path: str, label: str, limit: int) -> bytes:
    """Up to ``limit + 1`` bytes of ``path``: one byte more tells the caller it is too large."""
    if os.path.isdir(path):
        raise UsageError(f"{label}: is a directory, not a file")
    try:
        with open(path, "rb") as fh:
            return fh.read(limit + 1)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"{label}: cannot read: {reason}") from None


def load_json(data: bytes, origin: str) -> Any:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"{origin}: not JSON (binary or not UTF-8)") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{origin}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise UsageError(f"{origin}: JSON nested too deeply") from None


def parse_toml(text: str, origin: str, error: type[Exception] = UsageError) -> dict[str, Any]:
    """A TOML document; a broken one raises ``error`` with one line naming ``origin``."""
    try:
        document: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{origin}: not valid TOML: {exc}") from None
    except RecursionError:
        raise error(f"{origin}: not valid TOML: nested too deeply") from None
    return document


@functools.cache
def load_toml(path: Path) -> dict[str, Any]:
    """A TOML data file shipped inside the package (fit, serve), read once per process."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: unusable data file: {exc}") from None
    return parse_toml(text, f"{path}: unusable data file")
