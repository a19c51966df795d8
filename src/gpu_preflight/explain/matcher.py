"""Rank causes: every signature that fires adds evidence to its cause; specific beats generic.

Scoring is deliberately simple so that it can be read off the data: signatures of one cause
combine as independent evidence (1 - product of (1 - weight)); a signature that `outranks`
another cause scales that cause down, because it explains the other's symptom (a container
without GPU access also makes the driver look "too old"); `alone` signatures count only when
nothing else fired. A wrapper error such as vLLM's "Engine core initialization failed" has no
signature, so the cause printed above it is what ranks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from packaging.version import InvalidVersion
from packaging.version import Version as PackageVersion

from gpu_preflight.core.text import shortened
from gpu_preflight.explain.facts import LogFacts
from gpu_preflight.explain.logtext import LogText
from gpu_preflight.explain.signatures import CauseInfo, Signature, SignatureSet
from gpu_preflight.explain.situation import Situation, holds

MAX_EVIDENCE = 6
EVIDENCE_WIDTH = 300
OUTRANK_STRENGTH = 0.6  # an outranking signature of weight w scales the other cause by 1 - 0.6 w


@dataclass(frozen=True)
class LineMatch:
    """A line of the log that shows a cause: its 1-based number in the log as given, and its text."""

    line: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "text": self.text}


@dataclass
class RankedCause:
    cause: str
    confidence: float
    title: str
    evidence: list[str]
    fix: list[str]
    signatures: list[str] = field(default_factory=list)  # ids that fired (for --json and tests)
    matches: list[LineMatch] = field(default_factory=list)  # the evidence with line numbers

    def to_dict(self) -> dict[str, Any]:
        return {
            "cause": self.cause,
            "confidence": self.confidence,
            "title": self.title,
            "evidence": self.evidence,
            "fix": self.fix,
            "signatures": self.signatures,
            "matches": [m.to_dict() for m in self.matches],
        }


def fired_signatures(log: LogText, situation: Situation, signatures: SignatureSet) -> list[tuple[Signature, list[int]]]:
    fired = []
    for signature in signatures.signatures:
        if signature.versions and not _versions_apply(signature, situation.facts):
            continue
        lines: list[int] = []
        if signature.match:
            for phrase in signature.match:
                for first, last in log.search(phrase):
                    if not log.line_has(first, signatures.information):
                        lines.extend(range(first, min(last, first + 3) + 1))
            if not lines:
                continue
        if signature.when is not None:
            shown = holds(situation, signature.when)
            if not shown:
                continue
            lines.extend(shown)
        if signature.context:
            # evidence across lines: the context line that holds is shown beside the match
            beside = next((hits for p in signature.context if (hits := log.search(p))), None)
            if beside is None:
                continue
            lines.append(beside[0][0])
        if signature.unless and any(log.search(p) for p in signature.unless):
            continue
        fired.append((signature, lines))
    if any(not s.alone for s, _ in fired):
        fired = [(s, lines) for s, lines in fired if not s.alone]
    return fired


def rank(log: LogText, situation: Situation, signatures: SignatureSet) -> list[RankedCause]:
    from gpu_preflight.explain.advice import render

    fired = fired_signatures(log, situation, signatures)
    missing: dict[str, float] = {}  # cause -> product of (1 - weight)
    scale: dict[str, float] = {}
    lines: dict[str, list[int]] = {}
    ids: dict[str, list[str]] = {}
    for signature, shown in fired:
        missing[signature.cause] = missing.get(signature.cause, 1.0) * (1.0 - signature.weight)
        lines.setdefault(signature.cause, []).extend(shown)
        ids.setdefault(signature.cause, []).append(signature.id)
    for signature, _ in fired:
        for other in signature.outranks:
            if other != signature.cause:
                scale[other] = scale.get(other, 1.0) * (1.0 - OUTRANK_STRENGTH * signature.weight)

    ranked = []
    for cause, remaining in missing.items():
        info = signatures.causes[cause]
        extra = [t for s, _ in fired if s.cause == cause for t in s.fix]
        matches = line_matches(log, lines[cause])
        ranked.append(
            (
                round((1.0 - remaining) * scale.get(cause, 1.0), 2),
                min(lines[cause], default=0),
                RankedCause(
                    cause=cause,
                    confidence=0.0,
                    title=title_for(info, situation),
                    evidence=list(dict.fromkeys(m.text for m in matches)),
                    fix=render(extra + list(info.fix), situation),
                    signatures=ids[cause],
                    matches=matches,
                ),
            )
        )
    ranked.sort(key=lambda item: (-item[0], item[1]))
    for confidence, _, ranked_cause in ranked:
        ranked_cause.confidence = confidence
    return [ranked_cause for _, _, ranked_cause in ranked]


def line_matches(log: LogText, indices: list[int]) -> list[LineMatch]:
    """The first MAX_EVIDENCE distinct non-blank lines among ``indices``, with their numbers."""
    out: list[LineMatch] = []
    texts: set[str] = set()
    for index in sorted(set(indices)):
        if not 0 <= index < len(log.lines):
            continue
        text = shortened(log.lines[index].strip(), EVIDENCE_WIDTH)
        if not text or text in texts:
            continue
        texts.add(text)
        out.append(LineMatch(log.number(index), text))
        if len(out) >= MAX_EVIDENCE:
            break
    return out


def title_for(info: CauseInfo, situation: Situation) -> str:
    """The cause's title; for a cause whose title names a direction (a GPU newer or older than
    the build), the one the log and the HOST show, or the title naming both when they do not."""
    if not info.titles:
        return info.title
    verdict = situation.arch_verdict()
    return info.titles.get(verdict[0] if verdict else "unknown", info.title)


def _versions_apply(signature: Signature, facts: LogFacts) -> bool:
    """False only when the log shows a version of a package the signature names, outside it."""
    for requirement in signature.versions:
        fact = facts.versions.get(requirement.name.lower())
        if fact is None:
            continue
        try:
            version = PackageVersion(str(fact.value))
        except InvalidVersion:
            continue
        if not requirement.specifier.contains(version, prereleases=True):
            return False
    return True
