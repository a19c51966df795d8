"""The data files of one knowledge base: where each is read from (an override directory or the
package), read once, and handed to the table readers as checked rows citing known sources."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

from gpu_preflight.knowledge.loader import packaged_data_dir, read_toml
from gpu_preflight.knowledge.model import FileMeta, Source
from gpu_preflight.knowledge.row import KnowledgeError, Row, section, table
from gpu_preflight.knowledge.sources import SOURCES_FILE, read_sources


class DataFiles:
    """``directory`` overrides the packaged data: a file present there replaces the packaged file
    of the same name; a file absent there is read from the package."""

    def __init__(self, directory: Path | None = None) -> None:
        if directory is not None and not directory.is_dir():
            raise KnowledgeError(f"{directory}: knowledge-base directory not found (or not a directory)")
        self.directory = directory
        self._data: dict[str, dict[str, Any]] = {}
        self._meta: dict[str, FileMeta] = {}

    def read(self, name: str) -> dict[str, Any]:
        """The tables of data file ``name`` (its ``[meta]`` header kept apart), parsed once."""
        if name not in self._data:
            path, origin = packaged_data_dir() / name, "packaged"
            if self.directory is not None and (self.directory / name).is_file():
                path, origin = self.directory / name, "override"
            self._data[name], self._meta[name] = read_toml(path, origin)
        return self._data[name]

    @property
    def loaded(self) -> tuple[str, ...]:
        """The files read so far (packaged tables load on first use)."""
        return tuple(self._data)

    def meta(self, name: str) -> FileMeta:
        self.read(name)
        return self._meta[name]

    def label(self, name: str) -> str:
        """How errors name a file: its full path when it comes from an override directory."""
        meta = self._meta.get(name)
        return meta.path if meta is not None and meta.origin == "override" else name

    @cached_property
    def sources(self) -> Mapping[str, Source]:
        """Source key -> Source(title, url), read-only: what every row's ``sources`` must name."""
        return read_sources(self.read(SOURCES_FILE), self.label(SOURCES_FILE))

    def rows(self, name: str, key: str) -> list[Row]:
        """The rows of the array of tables ``[[key]]`` of data file ``name``."""
        data = self.read(name)
        label = self.label(name)
        return [Row(label, key, i, raw, self.sources) for i, raw in enumerate(table(data, label, key))]

    def section(self, name: str, key: str) -> Row:
        """The single table ``[key]`` of data file ``name``, as a row."""
        data = self.read(name)
        label = self.label(name)
        return Row(label, key, None, section(data, label, key), self.sources)

    def named_rows(self, name: str, key: str) -> dict[str, Row]:
        """The tables ``[key.NAME]`` of data file ``name``, as rows by NAME."""
        data = self.read(name)
        label = self.label(name)
        return {
            sub: Row(label, f"{key}.{sub}", None, raw, self.sources) for sub, raw in section(data, label, key).items()
        }
