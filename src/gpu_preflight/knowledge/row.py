"""Checked access to the rows of a data file: typed getters, and one clear error line for anything
malformed (missing field, wrong type, bad version, unknown source key, a field nobody reads -
usually a typo), naming the file and the row."""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import Enum
from typing import Any, TypeVar, overload

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.versions import Version, VersionError
from gpu_preflight.knowledge.provenance import STATUSES, Provenance


class KnowledgeError(UsageError):
    """The knowledge-base data is unusable (malformed TOML, missing field, unknown source...)."""


class _Required(Enum):
    """The default of a getter whose field must be present (a type of its own, so getters can be typed)."""

    FIELD = "required"


_REQUIRED = _Required.FIELD
D = TypeVar("D")  # what a getter returns for an absent optional field


def table(data: Mapping[str, Any], file: str, key: str) -> list[Any]:
    """The array of tables ``[[key]]`` of a data file (it must exist and be an array)."""
    rows = data.get(key)
    if not isinstance(rows, list) or not rows:
        raise KnowledgeError(f"{file}: missing [[{key}]] rows")
    return rows


def section(data: Mapping[str, Any], file: str, key: str) -> dict[str, Any]:
    """The single table ``[key]`` of a data file."""
    value = data.get(key)
    if not isinstance(value, dict):
        raise KnowledgeError(f"{file}: missing [{key}] table")
    return value


class Row:
    """Typed, checked access to one row of a data file.

    Each getter takes the field's key and, for an optional field, the value to return when it is
    absent; without one the field is required.
    """

    def __init__(
        self,
        file: str,
        table_name: str,
        index: int | None,
        data: Any,
        known_sources: Mapping[str, object] | None = None,
    ) -> None:
        self._file = file
        self._table = table_name
        self._index = index
        self._known_sources = known_sources
        self._data: dict[str, Any] = data if isinstance(data, dict) else {}
        self._used: set[str] = set()
        if not isinstance(data, dict):
            raise KnowledgeError(f"{self.where}: not a table of fields")

    @property
    def where(self) -> str:
        if self._index is None:
            return f"{self._file}: [{self._table}]"
        place = f"{self._file}: [[{self._table}]] row {self._index + 1}"
        for key in ("version", "name", "tag", "cuda", "branch", "major", "torch", "pattern"):
            if key in self._data:
                return f"{place} ({key} {self._data[key]!r})"
        return place

    def error(self, message: str) -> KnowledgeError:
        return KnowledgeError(f"{self.where}: {message}")

    def _get(self, key: str, kinds: tuple[type, ...], what: str) -> Any:
        """The raw value of a present field, checked against ``kinds``; _REQUIRED when absent."""
        self._used.add(key)
        if key not in self._data:
            return _REQUIRED
        value = self._data[key]
        # bool is an int subclass: a `true` must not pass for a number.
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise self.error(f"field '{key}' must be {what}, not {value!r}")
        return value

    def _absent(self, key: str, default: D | _Required) -> D:
        if isinstance(default, _Required):
            raise self.error(f"missing field '{key}'")
        return default

    @overload
    def text(self, key: str) -> str: ...
    @overload
    def text(self, key: str, default: D) -> str | D: ...
    def text(self, key: str, default: D | _Required = _REQUIRED) -> str | D:
        value = self._get(key, (str,), "a string")
        if value is _REQUIRED:
            return self._absent(key, default)
        if not value.strip():
            raise self.error(f"field '{key}' is empty")
        return str(value)

    @overload
    def string(self, key: str) -> str: ...
    @overload
    def string(self, key: str, default: D) -> str | D: ...
    def string(self, key: str, default: D | _Required = _REQUIRED) -> str | D:
        """A string kept exactly as written: may be empty, spaces are significant."""
        value = self._get(key, (str,), "a string")
        return self._absent(key, default) if value is _REQUIRED else str(value)

    @overload
    def integer(self, key: str) -> int: ...
    @overload
    def integer(self, key: str, default: D) -> int | D: ...
    def integer(self, key: str, default: D | _Required = _REQUIRED) -> int | D:
        value = self._get(key, (int,), "an integer")
        return self._absent(key, default) if value is _REQUIRED else int(value)

    @overload
    def boolean(self, key: str) -> bool: ...
    @overload
    def boolean(self, key: str, default: D) -> bool | D: ...
    def boolean(self, key: str, default: D | _Required = _REQUIRED) -> bool | D:
        value = self._get(key, (bool,), "true or false")
        return self._absent(key, default) if value is _REQUIRED else bool(value)

    @overload
    def texts(self, key: str) -> tuple[str, ...]: ...
    @overload
    def texts(self, key: str, default: D) -> tuple[str, ...] | D: ...
    def texts(self, key: str, default: D | _Required = _REQUIRED) -> tuple[str, ...] | D:
        value = self._get(key, (list,), "a list of strings")
        if value is _REQUIRED:
            return self._absent(key, default)
        if not all(isinstance(v, str) and v.strip() for v in value):
            raise self.error(f"field '{key}' must be a list of non-empty strings")
        return tuple(value)

    @overload
    def mapping(self, key: str) -> tuple[tuple[str, str], ...]: ...
    @overload
    def mapping(self, key: str, default: D) -> tuple[tuple[str, str], ...] | D: ...
    def mapping(self, key: str, default: D | _Required = _REQUIRED) -> tuple[tuple[str, str], ...] | D:
        value = self._get(key, (dict,), "a table")
        if value is _REQUIRED:
            return self._absent(key, default)
        if not all(isinstance(v, str) for v in value.values()):
            raise self.error(f"field '{key}' must map names to strings")
        return tuple(value.items())

    @overload
    def version(self, key: str) -> Version: ...
    @overload
    def version(self, key: str, default: D) -> Version | D: ...
    def version(self, key: str, default: D | _Required = _REQUIRED) -> Version | D:
        value = self.text(key, None)
        if value is None:
            return self._absent(key, default)
        return self._parse_version(key, value)

    def versions(self, key: str) -> tuple[Version, ...]:
        return tuple(self._parse_version(key, v) for v in self.texts(key))

    def _parse_version(self, key: str, value: str) -> Version:
        try:
            return Version.parse(value)
        except VersionError:
            raise self.error(f"field '{key}' is not a version: {value!r}") from None

    @overload
    def regex(self, key: str) -> re.Pattern[str]: ...
    @overload
    def regex(self, key: str, default: D) -> re.Pattern[str] | D: ...
    def regex(self, key: str, default: D | _Required = _REQUIRED) -> re.Pattern[str] | D:
        """A regular expression, matched without regard to case (names are spelt many ways)."""
        text = self.text(key, None)
        if text is None:
            return self._absent(key, default)
        try:
            return re.compile(text, re.IGNORECASE)
        except re.error as exc:
            raise self.error(f"field '{key}' is not a valid regular expression: {exc}") from None

    def status(self) -> str:
        value = self.text("status")
        if value not in STATUSES:
            raise self.error(f"status {value!r} is not one of {', '.join(STATUSES)}")
        return value

    def sources(self) -> tuple[str, ...]:
        """The row's source keys: a non-empty list, each defined in sources.toml."""
        keys = self._get("sources", (list,), "a list of source keys")
        if keys is _REQUIRED:
            raise self.error("missing field 'sources'")
        if not keys:
            raise self.error("field 'sources' is empty: every row must name its source")
        for key in keys:
            if not isinstance(key, str):
                raise self.error(f"source key {key!r} is not a string")
            if self._known_sources is not None and key not in self._known_sources:
                raise self.error(f"unknown source key {key!r} (not in sources.toml)")
        return tuple(keys)

    def provenance(self) -> Provenance:
        """What every fact carries about itself. ``conflict`` and ``chosen`` come together: a
        disagreement always records our side."""
        conflict, chosen = self.text("conflict", ""), self.text("chosen", "")
        if bool(conflict) != bool(chosen):
            raise self.error("'conflict' and 'chosen' must be given together")
        return Provenance(self.status(), self.sources(), self.text("note", ""), conflict, chosen)

    def finish(self) -> None:
        """Refuse fields no reader asked for: in a data file they are almost always typos."""
        unknown = sorted(set(self._data) - self._used)
        if unknown:
            raise self.error(f"unknown field {unknown[0]!r}")
