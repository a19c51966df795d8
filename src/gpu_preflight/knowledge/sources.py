"""sources.toml: the documents, repositories and observations every fact cites by key."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from gpu_preflight.knowledge.model import Source
from gpu_preflight.knowledge.row import Row, section

SOURCES_FILE = "sources.toml"


def read_sources(data: Mapping[str, Any], label: str) -> Mapping[str, Source]:
    """Source key -> Source(title, url), read-only."""
    result: dict[str, Source] = {}
    for key, raw in section(data, label, "source").items():
        row = Row(label, f"source.{key}", None, raw)
        result[key] = Source(key, row.text("title"), row.string("url", ""))
        row.finish()
    return MappingProxyType(result)
