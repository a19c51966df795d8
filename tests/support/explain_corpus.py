"""The real-log corpus (corpus/index.toml): shared by the tests and benchmarks/explain_accuracy.py."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CORPUS = Path(__file__).resolve().parents[1] / "explain" / "corpus"
PARTS = ("seen", "held-out")


@dataclass(frozen=True)
class CorpusLog:
    file: str
    source: str
    cause: str
    resolution: str
    part: str

    @property
    def path(self) -> Path:
        return CORPUS / self.file

    @property
    def id(self) -> str:
        return self.file.removesuffix(".txt")


def load_corpus() -> list[CorpusLog]:
    data = tomllib.loads((CORPUS / "index.toml").read_text("utf-8"))
    return [CorpusLog(**row) for row in data["log"]]
