"""Reading the TOML data files: one clear error line for anything malformed.

A data file is a ``[meta]`` header plus tables of rows. ``Row`` reads one row with typed
getters; every problem (missing field, wrong type, bad version, unknown source key, a field
nobody reads - usually a typo) becomes a ``KnowledgeError`` naming the file and the row.
"""

from __future__ import annotations

import marshal
import os
import sys
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.versions import Version, VersionError
from gpu_preflight.knowledge.model import STATUSES, FileMeta

_REQUIRED = object()


class KnowledgeError(UsageError):
    """The knowledge-base data is unusable (malformed TOML, missing field, unknown source...)."""


def packaged_data_dir() -> Path:
    # A plain path (not importlib.resources, ~15 ms to import): the package is installed as
    # files (pyproject ships knowledge/data/*.toml as package data).
    return Path(__file__).resolve().parent / "data"


def read_toml(path: Path, origin: str) -> tuple[dict[str, Any], FileMeta]:
    """Parse one data file and its ``[meta]`` header."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise KnowledgeError(f"{path}: cannot read: {exc.strerror or exc}") from None
    data = _parse_cached(path.name, raw)
    if data is None:
        # Imported here: with a warm cache no TOML parser is needed at all.
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - Python 3.10
            import tomli as tomllib
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise KnowledgeError(f"{path}: not UTF-8 text") from None
        except tomllib.TOMLDecodeError as exc:
            raise KnowledgeError(f"{path}: not valid TOML: {exc}") from None
        _store_cached(path.name, raw, data)
    label = str(path) if origin == "override" else path.name
    meta = data.pop("meta", None)
    if not isinstance(meta, dict):
        raise KnowledgeError(f"{label}: missing [meta] header (version, date, description)")
    row = Row(label, "meta", None, meta)
    rows = sum(len(v) for v in data.values() if isinstance(v, list))
    info = FileMeta(
        name=path.name,
        version=row.text("version"),
        date=row.text("date"),
        description=row.text("description"),
        origin=origin,
        path=str(path),
        rows=rows,
    )
    row.finish()
    return data, info


# Parsing TOML in pure Python costs ~20 ms for all files. The parsed tables (plain dicts and
# lists) are kept in the user's cache directory next to a copy of the file's bytes, and read
# back with marshal in well under a millisecond; they are used only if the bytes are identical.
# Validation still runs on every load. Any failure just means parsing again: the cache is an
# optimisation, never a source of truth.


def _cache_path(name: str, raw: bytes) -> Path | None:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(base):
        return None
    key = f"{zlib.crc32(raw):08x}-{len(raw)}-{sys.implementation.cache_tag}-m{marshal.version}"
    return Path(base, "gpu-preflight", "knowledge", f"{name}.{key}.marshal")


def _parse_cached(name: str, raw: bytes) -> dict[str, Any] | None:
    path = _cache_path(name, raw)
    try:
        cached = marshal.loads(path.read_bytes()) if path else None
    except (OSError, ValueError, EOFError, TypeError):
        return None
    if isinstance(cached, tuple) and len(cached) == 2 and cached[0] == raw:
        return cached[1] if isinstance(cached[1], dict) else None
    return None


def _store_cached(name: str, raw: bytes, data: dict[str, Any]) -> None:
    path = _cache_path(name, raw)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_bytes(marshal.dumps((raw, data)))
        os.replace(temporary, path)
    except (OSError, ValueError):
        pass  # read-only home, full disk, a value marshal cannot store: parse next time


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
    """Typed, checked access to one row of a data file."""

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
        if not isinstance(data, dict):
            raise KnowledgeError(f"{self.where}: not a table of fields")
        self._data: dict[str, Any] = data
        self._used: set[str] = set()

    @property
    def where(self) -> str:
        if self._index is None:
            return f"{self._file}: [{self._table}]"
        place = f"{self._file}: [[{self._table}]] row {self._index + 1}"
        data = getattr(self, "_data", {})
        for key in ("version", "name", "tag", "cuda", "branch", "major", "torch", "pattern"):
            if key in data:
                return f"{place} ({key} {data[key]!r})"
        return place

    def error(self, message: str) -> KnowledgeError:
        return KnowledgeError(f"{self.where}: {message}")

    def _get(self, key: str, default: Any, kinds: tuple[type, ...], what: str) -> Any:
        self._used.add(key)
        if key not in self._data:
            if default is _REQUIRED:
                raise self.error(f"missing field '{key}'")
            return default
        value = self._data[key]
        # bool is an int subclass: a `true` must not pass for a number.
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise self.error(f"field '{key}' must be {what}, not {value!r}")
        return value

    def text(self, key: str, default: Any = _REQUIRED) -> Any:
        value = self._get(key, default, (str,), "a string")
        if value is not default and not value.strip():
            raise self.error(f"field '{key}' is empty")
        return value

    def string(self, key: str, default: Any = _REQUIRED) -> Any:
        """A string kept exactly as written: may be empty, spaces are significant."""
        return self._get(key, default, (str,), "a string")

    def integer(self, key: str, default: Any = _REQUIRED) -> Any:
        return self._get(key, default, (int,), "an integer")

    def boolean(self, key: str, default: Any = _REQUIRED) -> Any:
        return self._get(key, default, (bool,), "true or false")

    def texts(self, key: str, default: Any = _REQUIRED) -> Any:
        value = self._get(key, default, (list,), "a list of strings")
        if value is default:
            return value
        if not all(isinstance(v, str) and v.strip() for v in value):
            raise self.error(f"field '{key}' must be a list of non-empty strings")
        return tuple(value)

    def mapping(self, key: str, default: Any = _REQUIRED) -> Any:
        value = self._get(key, default, (dict,), "a table")
        if value is default:
            return value
        if not all(isinstance(v, str) for v in value.values()):
            raise self.error(f"field '{key}' must map names to strings")
        return tuple(value.items())

    def version(self, key: str, default: Any = _REQUIRED) -> Any:
        value = self.text(key, default)
        return value if value is default else self._parse_version(key, value)

    def versions(self, key: str, default: Any = _REQUIRED) -> Any:
        values = self.texts(key, default)
        return values if values is default else tuple(self._parse_version(key, v) for v in values)

    def _parse_version(self, key: str, value: str) -> Version:
        try:
            return Version.parse(value)
        except VersionError:
            raise self.error(f"field '{key}' is not a version: {value!r}") from None

    def status(self) -> str:
        value = self.text("status")
        if value not in STATUSES:
            raise self.error(f"status {value!r} is not one of {', '.join(STATUSES)}")
        return value

    def sources(self) -> tuple[str, ...]:
        """The row's source keys: a non-empty list, each defined in sources.toml."""
        keys = self._get("sources", _REQUIRED, (list,), "a list of source keys")
        if not keys:
            raise self.error("field 'sources' is empty: every row must name its source")
        for key in keys:
            if not isinstance(key, str):
                raise self.error(f"source key {key!r} is not a string")
            if self._known_sources is not None and key not in self._known_sources:
                raise self.error(f"unknown source key {key!r} (not in sources.toml)")
        return tuple(keys)

    def conflict(self) -> tuple[str, str]:
        """``conflict`` and ``chosen`` come together: a disagreement always records our side."""
        conflict, chosen = self.text("conflict", ""), self.text("chosen", "")
        if bool(conflict) != bool(chosen):
            raise self.error("'conflict' and 'chosen' must be given together")
        return conflict, chosen

    def provenance(self) -> dict[str, Any]:
        """What every fact carries about itself: status, sources, note, conflict and chosen."""
        conflict, chosen = self.conflict()
        return dict(
            status=self.status(), sources=self.sources(), note=self.text("note", ""), conflict=conflict, chosen=chosen
        )

    def finish(self) -> None:
        """Refuse fields no reader asked for: in a data file they are almost always typos."""
        unknown = sorted(set(self._data) - self._used)
        if unknown:
            raise self.error(f"unknown field {unknown[0]!r}")
