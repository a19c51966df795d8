"""A small strict decoder for JSON documents written elsewhere (host, sample, fleet inputs).

Each helper takes a value and its JSON path (``$.gpus[0].memory_total_mib``) and returns the
value with its type checked, or raises ``DecodeError`` naming the path, what was expected and
what was found. Callers turn that into one ``UsageError`` line prefixed with the input's name.
"""

from __future__ import annotations

import math
import re
from typing import Any


class DecodeError(ValueError):
    """A field of a document has the wrong type or an impossible value."""

    def __init__(self, path: str, expected: str, value: Any) -> None:
        self.path = path
        self.expected = expected
        super().__init__(f"at {path}: expected {expected}, got {describe(value)}")


def describe(value: Any) -> str:
    """A short, safe description of a JSON value for an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        text = str(value) if value.bit_length() < 200 else ""
        return text if text and len(text) <= 40 else f"a number of about {int(value.bit_length() * 0.30103) + 1} digits"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return repr(value) if len(value) <= 60 else repr(value[:60]) + "..."
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def key(path: str, name: str) -> str:
    return f"{path}.{name}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else f"{path}[{name!r}]"


def obj(value: Any, path: str, what: str = "an object") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DecodeError(path, what, value)
    return value


def lst(value: Any, path: str, limit: int, what: str = "a list") -> list[Any]:
    if not isinstance(value, list):
        raise DecodeError(path, what, value)
    if len(value) > limit:
        raise DecodeError(path, f"{what} of at most {limit:,} entries", value)
    return value


def integer(value: Any, path: str, low: int, high: int, what: str = "a whole number") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise DecodeError(path, f"{what} from {low:,} to {high:,}", value)
    return value


def number(value: Any, path: str, low: float, high: float, what: str = "a number") -> float | int:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (isinstance(value, float) and not math.isfinite(value))
        or not low <= value <= high
    ):
        raise DecodeError(path, f"{what} from {low:,} to {high:,}", value)
    return value


def string(value: Any, path: str, pattern: re.Pattern[str] | None = None, what: str = "a string") -> str:
    if not isinstance(value, str) or (pattern is not None and not pattern.fullmatch(value)):
        raise DecodeError(path, what, value)
    return value


def boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise DecodeError(path, "true or false", value)
    return value


def string_map(value: Any, path: str, nullable_values: bool = False, limit: int = 100_000) -> dict[str, Any]:
    """An object of strings (or nulls, when ``nullable_values``)."""
    mapping = obj(value, path, "an object of strings")
    if len(mapping) > limit:
        raise DecodeError(path, f"an object of at most {limit:,} members", value)
    for name, item in mapping.items():
        if not (isinstance(item, str) or (nullable_values and item is None)):
            raise DecodeError(key(path, name), "a string or null" if nullable_values else "a string", item)
    return mapping


def string_list(value: Any, path: str, limit: int) -> list[str]:
    items = lst(value, path, limit, "a list of strings")
    for position, item in enumerate(items):
        string(item, f"{path}[{position}]")
    return items
