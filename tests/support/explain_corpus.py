"""The real-log corpus (corpus/index.toml and every corpus/index-*.toml, one list): shared by the
tests, benchmarks/explain_accuracy.py and scripts/freeze_heldout.py.

Each entry's ``part`` is "seen" (may be read and tuned on) or "held-out" (never read, never
tuned on; only its aggregate accuracy is reported). HELD_OUT.sha256 freezes the held-out part.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CORPUS = Path(__file__).resolve().parents[1] / "explain" / "corpus"
PARTS = ("seen", "held-out")
FREEZE = CORPUS / "HELD_OUT.sha256"
FREEZE_COMMAND = "python scripts/freeze_heldout.py"


@dataclass(frozen=True)
class CorpusLog:
    file: str
    source: str
    cause: str
    resolution: str
    part: str
    index: str = "index.toml"  # the index file that lists it
    year: int | None = None
    platform: str | None = None  # linux, windows, wsl, container, kubernetes...
    stack: str | None = None  # pytorch, tensorflow, jax, vllm, ollama, nvcc...
    folder: Path = CORPUS  # where the index and the excerpt are

    @property
    def path(self) -> Path:
        return self.folder / self.file

    @property
    def id(self) -> str:
        return self.file.removesuffix(".txt")


def index_files(corpus: Path = CORPUS) -> list[Path]:
    """index.toml first, then index-*.toml in name order."""
    first = corpus / "index.toml"
    return ([first] if first.is_file() else []) + sorted(corpus.glob("index-*.toml"))


def load_corpus(corpus: Path = CORPUS) -> list[CorpusLog]:
    logs: list[CorpusLog] = []
    for index in index_files(corpus):
        data = tomllib.loads(index.read_text("utf-8"))
        for row in data.get("log", []):
            known = {k: row[k] for k in ("file", "source", "cause", "resolution", "part") if k in row}
            year = row.get("year")
            logs.append(
                CorpusLog(
                    **known,
                    index=index.name,
                    year=int(year) if isinstance(year, int) or (isinstance(year, str) and year.isdigit()) else None,
                    platform=_text(row.get("platform")),
                    stack=_text(row.get("stack")),
                    folder=corpus,
                )
            )
    return logs


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or None
    return str(value) or None


def held_out_digest(logs: list[CorpusLog]) -> tuple[str, int]:
    """(sha256, count) over the held-out entries sorted by source URL and file: each entry's
    source, cause and excerpt bytes. The text is hashed, never shown."""
    held_out = sorted((log for log in logs if log.part == "held-out"), key=lambda log: (log.source, log.file))
    digest = hashlib.sha256()
    for log in held_out:
        for piece in (log.source.encode(), log.cause.encode(), log.path.read_bytes() if log.path.is_file() else b""):
            digest.update(len(piece).to_bytes(8, "big"))
            digest.update(piece)
    return digest.hexdigest(), len(held_out)


@dataclass(frozen=True)
class Freeze:
    sha256: str
    count: int | None
    date: str | None


def read_freeze(path: Path = FREEZE) -> Freeze | None:
    """The frozen digest: one hex line, plus "# split: DATE" and "# count: N" comments."""
    if not path.is_file():
        return None
    sha, count, date = "", None, None
    for line in path.read_text("utf-8").splitlines():
        line = line.strip()
        if line.startswith("#"):
            key, _, value = line[1:].partition(":")
            if key.strip() == "count" and value.strip().isdigit():
                count = int(value.strip())
            elif key.strip() == "split":
                date = value.strip() or None
        elif line:
            sha = line.split()[0]
    return Freeze(sha, count, date)
