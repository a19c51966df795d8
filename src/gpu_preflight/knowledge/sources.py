"""sources.toml: the documents, repositories and observations every fact cites by key."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from gpu_preflight.knowledge.model import Source
from gpu_preflight.knowledge.row import Row, section

SOURCES_FILE = "sources.toml"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def read_sources(data: Mapping[str, Any], label: str) -> Mapping[str, Source]:
    """Source key -> Source(title, url, date), read-only."""
    result: dict[str, Source] = {}
    for key, raw in section(data, label, "source").items():
        row = Row(label, f"source.{key}", None, raw)
        date = row.string("date", "")
        if date and not _ISO_DATE.fullmatch(date):
            raise row.error(f"date {date!r} is not an ISO date (2026-08-21)")
        result[key] = Source(key, row.text("title"), row.string("url", ""), date)
        row.finish()
    return MappingProxyType(result)


def newest_source(sources: Mapping[str, Source]) -> Source | None:
    """The source with the latest recorded date (None when no source records one)."""
    dated = [s for s in sources.values() if s.date]
    return max(dated, key=lambda s: (s.date, s.key), default=None)
