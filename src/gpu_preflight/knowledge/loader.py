"""Reading the TOML data files: the packaged folder, one file and its ``[meta]`` header, and a
cache of parsed files. A data file is a ``[meta]`` header plus tables of rows, read through
``Row`` (row.py)."""

from __future__ import annotations

import marshal
import os
import sys
import zlib
from pathlib import Path
from typing import Any

from gpu_preflight.knowledge.model import FileMeta
from gpu_preflight.knowledge.row import KnowledgeError, Row


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
        from gpu_preflight.core.readers import parse_toml

        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise KnowledgeError(f"{path}: not UTF-8 text") from None
        data = parse_toml(text, str(path), KnowledgeError)
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
