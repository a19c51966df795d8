"""Load and check signatures.toml (the format is described at the top of that file)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from packaging.requirements import InvalidRequirement, Requirement

from gpu_preflight.core.findings import CAUSES
from gpu_preflight.core.readers import parse_toml
from gpu_preflight.explain.advice import VALUES, placeholders
from gpu_preflight.explain.logtext import Phrase
from gpu_preflight.explain.situation import parse_condition

DIRECTIONS = {"newer", "older", "unknown"}  # the GPU against the build (Situation.arch_verdict)
_SIGNATURE_KEYS = {
    "id",
    "cause",
    "weight",
    "match",
    "when",
    "context",
    "unless",
    "outranks",
    "alone",
    "versions",
    "fix",
    "source",
}


@dataclass(frozen=True)
class CauseInfo:
    id: str
    title: str
    fix: tuple[str, ...]
    # A title per direction of the GPU against the build ("newer", "older", "unknown"), for a
    # cause whose plain title would claim one (no-kernel-image).
    titles: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Signature:
    id: str
    cause: str
    weight: float
    match: tuple[Phrase, ...] = ()
    when: tuple[str, str | None] | None = None
    context: tuple[Phrase, ...] = ()
    unless: tuple[Phrase, ...] = ()
    outranks: tuple[str, ...] = ()
    alone: bool = False
    versions: tuple[Requirement, ...] = ()
    fix: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class SignatureSet:
    version: str
    causes: dict[str, CauseInfo]
    signatures: tuple[Signature, ...]


class SignatureError(ValueError):
    """signatures.toml is malformed (a bug in the shipped data; tests catch it)."""


@lru_cache(maxsize=1)
def load_signatures() -> SignatureSet:
    text = resources.files("gpu_preflight.explain").joinpath("signatures.toml").read_text("utf-8")
    return parse_signatures(text)


def parse_signatures(text: str) -> SignatureSet:
    data = parse_toml(text, "signatures.toml", error=SignatureError)
    causes = {}
    for cause_id, row in data.get("cause", {}).items():
        if cause_id not in CAUSES:
            raise SignatureError(f"[cause.{cause_id}]: not a cause of the taxonomy")
        fix = tuple(row.get("fix", ()))
        _check_templates(f"[cause.{cause_id}]", fix)
        titles = row.get("titles", {})
        if not isinstance(titles, dict) or set(titles) - DIRECTIONS:
            raise SignatureError(f"[cause.{cause_id}]: titles are keyed by {', '.join(sorted(DIRECTIONS))}")
        causes[cause_id] = CauseInfo(cause_id, str(row["title"]), fix, {k: str(v) for k, v in titles.items()})
    missing = CAUSES - causes.keys()
    if missing:
        raise SignatureError(f"no [cause.*] table for: {', '.join(sorted(missing))}")

    signatures, seen = [], set()
    for row in data.get("signature", []):
        where = f"signature {row.get('id', '?')!r}"
        unknown = set(row) - _SIGNATURE_KEYS
        if unknown:
            raise SignatureError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        if row.get("id") in seen or not row.get("id"):
            raise SignatureError(f"{where}: missing or repeated id")
        seen.add(row["id"])
        if row.get("cause") not in causes:
            raise SignatureError(f"{where}: unknown cause {row.get('cause')!r}")
        weight = row.get("weight")
        if not isinstance(weight, (int, float)) or not 0 < weight <= 1:
            raise SignatureError(f"{where}: weight must be in (0, 1]")
        if not row.get("match") and not row.get("when"):
            raise SignatureError(f"{where}: needs `match` or `when`")
        if any(c not in CAUSES for c in row.get("outranks", ())):
            raise SignatureError(f"{where}: outranks an unknown cause")
        try:
            signatures.append(
                Signature(
                    id=row["id"],
                    cause=row["cause"],
                    weight=float(weight),
                    match=tuple(Phrase.compile(p) for p in row.get("match", ())),
                    when=parse_condition(row["when"]) if row.get("when") else None,
                    context=tuple(Phrase.compile(p) for p in row.get("context", ())),
                    unless=tuple(Phrase.compile(p) for p in row.get("unless", ())),
                    outranks=tuple(row.get("outranks", ())),
                    alone=bool(row.get("alone", False)),
                    versions=tuple(Requirement(v) for v in row.get("versions", ())),
                    fix=tuple(row.get("fix", ())),
                    source=str(row.get("source", "")),
                )
            )
        except (ValueError, InvalidRequirement) as exc:
            raise SignatureError(f"{where}: {exc}") from None
        _check_templates(where, row.get("fix", ()))
    return SignatureSet(str(data.get("meta", {}).get("version", "")), causes, tuple(signatures))


def _check_templates(where: str, templates: Iterable[str]) -> None:
    for template in templates:
        unknown = [n for n in placeholders(template) if n not in VALUES]
        if unknown:
            raise SignatureError(f"{where}: unknown fix placeholder(s) {', '.join(unknown)}")
