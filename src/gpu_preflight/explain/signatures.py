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

INFORMATION = "information"  # the [phrases] set of lines that are never evidence
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
class Decider:
    """The one check that tells two causes apart when a log fits both ([[decide]])."""

    causes: frozenset[str]
    run: tuple[str, ...]
    tells: str
    source: str


@dataclass(frozen=True)
class SignatureSet:
    version: str
    causes: dict[str, CauseInfo]
    signatures: tuple[Signature, ...]
    deciders: tuple[Decider, ...] = ()
    # [phrases] information: lines programs print as information and go on, never evidence
    information: tuple[Phrase, ...] = ()

    def decider(self, first: str, second: str) -> Decider | None:
        """The check that tells ``first`` from ``second``, if the data has one."""
        pair = frozenset((first, second))
        return next((d for d in self.deciders if d.causes == pair), None)


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

    phrase_sets = data.get("phrases", {})
    if not all(isinstance(v, list) and v and all(isinstance(p, str) for p in v) for v in phrase_sets.values()):
        raise SignatureError("[phrases]: each set is a list of phrases")
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
                    match=tuple(Phrase.compile(p) for p in _expand(row.get("match", ()), phrase_sets, where)),
                    when=parse_condition(row["when"]) if row.get("when") else None,
                    context=tuple(Phrase.compile(p) for p in _expand(row.get("context", ()), phrase_sets, where)),
                    unless=tuple(Phrase.compile(p) for p in _expand(row.get("unless", ()), phrase_sets, where)),
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
    version = str(data.get("meta", {}).get("version", ""))
    information = tuple(Phrase.compile(p) for p in phrase_sets.get(INFORMATION, ()))
    return SignatureSet(version, causes, tuple(signatures), _parse_deciders(data.get("decide", [])), information)


def _expand(phrases: Iterable[str], phrase_sets: dict[str, list[str]], where: str) -> list[str]:
    """Phrases with each "@name" replaced by the phrases of that [phrases] set."""
    out: list[str] = []
    for phrase in phrases:
        if not phrase.startswith("@"):
            out.append(phrase)
        elif phrase[1:] in phrase_sets:
            out.extend(phrase_sets[phrase[1:]])
        else:
            raise SignatureError(f"{where}: no [phrases] set {phrase!r}")
    return out


def _parse_deciders(rows: list[dict[str, object]]) -> tuple[Decider, ...]:
    deciders: list[Decider] = []
    for row in rows:
        pair = row.get("causes")
        where = f"[[decide]] {pair!r}"
        if set(row) != {"causes", "run", "tells", "source"}:
            raise SignatureError(f"{where}: needs exactly causes, run, tells and source")
        if not isinstance(pair, list) or len(set(pair)) != 2 or not set(pair) <= CAUSES:
            raise SignatureError(f"{where}: causes must be two different cause ids")
        run = row["run"]
        if not isinstance(run, list) or not run or not all(isinstance(r, str) and r for r in run):
            raise SignatureError(f"{where}: run must be a list of commands")
        decider = Decider(frozenset(pair), tuple(run), str(row["tells"]), str(row["source"]))
        if any(d.causes == decider.causes for d in deciders):
            raise SignatureError(f"{where}: a second check for the same two causes")
        deciders.append(decider)
    return tuple(deciders)


def _check_templates(where: str, templates: Iterable[str]) -> None:
    for template in templates:
        unknown = [n for n in placeholders(template) if n not in VALUES]
        if unknown:
            raise SignatureError(f"{where}: unknown fix placeholder(s) {', '.join(unknown)}")
