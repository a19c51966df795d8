"""Reading files: user-supplied inputs (anything wrong becomes one clear UsageError line) and the
TOML data files shipped in the package. The one home of JSON and TOML parsing."""

from __future__ import annotations

import functools
import json
import os
import re
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    # Installed only on Python 3.10 (pyproject's tomli marker), so mypy may not find it here.
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.limits import (
    MAX_INPUT_BYTES,
    MAX_INT_DIGITS,
    MAX_JSON_CONTAINERS,
    MAX_JSON_ITEMS,
    MAX_NESTING,
)

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


def read_text(path: str, label: str, limit: int, too_big: str, regular_only: bool = False) -> str:
    """A text file: UTF-8 (a BOM is dropped), at most ``limit`` bytes, no binary bytes. ``label``
    starts every message (e.g. ``requirements.txt:3: '-r base.txt'`` for an include).
    ``regular_only``: for a path found rather than named (an include), refuse a FIFO or device,
    which would block or never end; a path the user names may be one on purpose (``<(cmd)``)."""
    data = _read_bytes(path, label, limit, too_big if regular_only else None)
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


def _read_bytes(path: str, label: str, limit: int, not_regular: str | None = None) -> bytes:
    """Up to ``limit + 1`` bytes of ``path``: one byte more tells the caller it is too large.
    With ``not_regular`` (the end of the message), anything but a regular file is refused."""
    if not_regular is not None:
        try:
            mode = os.stat(path).st_mode
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise UsageError(f"{label}: cannot read: {reason}") from None
        if not stat.S_ISDIR(mode) and not stat.S_ISREG(mode):
            raise UsageError(f"{label}: not a regular file (a FIFO, socket or device), {not_regular}")
    if os.path.isdir(path):
        raise UsageError(f"{label}: is a directory, not a file")
    try:
        with open(path, "rb") as fh:
            return fh.read(limit + 1)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"{label}: cannot read: {reason}") from None


class JsonError(ValueError):
    """Text that is not a JSON document preflight will read; the message says why, in a phrase.
    ``syntax`` is the ``json.JSONDecodeError`` when the text is not JSON at all; ``refused`` says
    it may be JSON, refused for its depth, width or numbers (no real input looks like it)."""

    def __init__(self, message: str, syntax: json.JSONDecodeError | None = None, refused: bool = False) -> None:
        super().__init__(message)
        self.syntax = syntax
        self.refused = refused


_LONG_DIGITS = re.compile(f"[0-9]{{{MAX_INT_DIGITS + 1}}}")


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise JsonError(
            f"a number of {len(text.lstrip('-'))} digits, more than any real value has ({MAX_INT_DIGITS})", refused=True
        )
    return int(text)


def loads_json(text: str | bytes) -> Any:
    """A JSON value, or ``JsonError`` (a ValueError) naming what is wrong in a phrase: not JSON,
    nested too deeply, a number of absurd length, or too many values for any real document
    (refused before parsing, so a wide document cannot take gigabytes)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise JsonError("binary data or not UTF-8") from None
    if len(text) > 4096:  # counted only where it could matter: a cheap C scan
        containers = text.count("{") + text.count("[")
        if containers > MAX_JSON_CONTAINERS:
            raise JsonError(
                f"{containers:,} objects and arrays, more than any real document has ({MAX_JSON_CONTAINERS:,})",
                refused=True,
            )
        items = containers + text.count(",")
        if items > MAX_JSON_ITEMS:
            raise JsonError(f"{items:,} values, more than any real document has ({MAX_JSON_ITEMS:,})", refused=True)
    try:
        # The digit check costs a Python call per integer: only where a long digit run exists.
        value = json.loads(text, parse_int=_parse_int) if _LONG_DIGITS.search(text) else json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonError(f"{exc.msg} at line {exc.lineno}, column {exc.colno}", exc) from None
    except RecursionError:
        raise JsonError("nested too deeply", refused=True) from None
    if text.count("[") + text.count("{") > MAX_NESTING and _depth_over(value, MAX_NESTING):
        # Python's own limit (about 1,000) would let through documents that every recursive
        # consumer (asdict, copy, json.dumps of a report) then fails on.
        raise JsonError(f"nested more than {MAX_NESTING} levels deep, deeper than any real document", refused=True)
    return value


def _depth_over(value: Any, limit: int) -> bool:
    """Whether objects and arrays nest more than ``limit`` levels; iterative, so any depth is safe."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def iter_lines(text: str) -> Iterator[str]:
    """The lines of ``text`` one at a time, without their line ends: no list of every line of a
    64 MiB input (ten times its size), and no io.StringIO copy (four bytes a character)."""
    start, end = 0, len(text)
    while start < end:
        stop = text.find("\n", start)
        stop = end if stop < 0 else stop
        yield text[start:stop].rstrip("\r")
        start = stop + 1


def load_json(data: bytes, origin: str) -> Any:
    try:
        return loads_json(data)
    except JsonError as exc:
        if exc.refused:  # JSON, but not what any real input looks like
            raise UsageError(f"{origin}: refusing this JSON: {exc}") from None
        raise UsageError(f"{origin}: not valid JSON ({exc})") from None


def parse_toml(text: str, origin: str, error: type[Exception] = UsageError) -> dict[str, Any]:
    """A TOML document; a broken one raises ``error`` with one line naming ``origin``."""
    try:
        document: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{origin}: not valid TOML: {exc}") from None
    except RecursionError:
        raise error(f"{origin}: not valid TOML: nested too deeply") from None
    except ValueError as exc:  # an integer over Python's digit limit, and the like
        raise error(f"{origin}: not valid TOML: {str(exc).split(';')[0][:160]}") from None
    if text.count("[") + text.count("{") > MAX_NESTING and _depth_over(document, MAX_NESTING):
        raise error(f"{origin}: not valid TOML: nested more than {MAX_NESTING} levels deep")
    return document


@functools.cache
def load_toml(path: Path) -> dict[str, Any]:
    """A TOML data file shipped inside the package (fit, serve), read once per process."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: unusable data file: {exc}") from None
    return parse_toml(text, f"{path}: unusable data file")
