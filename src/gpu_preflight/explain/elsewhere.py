"""When no GPU-stack cause fits: what the log most likely is instead (elsewhere.toml) and what
to run next. Matching uses the same loose phrases as the signatures."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from gpu_preflight.core.readers import parse_toml
from gpu_preflight.explain.logtext import LogText, Phrase
from gpu_preflight.explain.matcher import LineMatch, line_matches

# What to run when the log shows no GPU-stack cause: checks that need no log at all.
NEXT_STEPS = (
    "preflight doctor: checks this machine's driver, CUDA and framework builds directly",
    "preflight run -- CMD: runs the failing command and explains its output",
)


@dataclass(frozen=True)
class KnownMessage:
    id: str
    match: tuple[Phrase, ...]
    what: str
    source: str


@dataclass(frozen=True)
class Elsewhere:
    """A well-known message found in the log that is not a fault of the GPU stack."""

    id: str
    what: str
    source: str
    matches: list[LineMatch]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "what": self.what,
            "source": self.source,
            "matches": [m.to_dict() for m in self.matches],
        }


@dataclass(frozen=True)
class NextStep:
    """What to run when no cause fits and the log comes from one of ``tools`` ([[next]])."""

    tools: frozenset[str]
    run: str
    source: str


class ElsewhereError(ValueError):
    """elsewhere.toml is malformed (a bug in the shipped data; tests catch it)."""


@lru_cache(maxsize=1)
def known_messages() -> tuple[KnownMessage, ...]:
    return parse_known_messages(_shipped())


@lru_cache(maxsize=1)
def next_steps() -> tuple[NextStep, ...]:
    return parse_next_steps(_shipped())


@lru_cache(maxsize=1)
def _shipped() -> str:
    return resources.files("gpu_preflight.explain").joinpath("elsewhere.toml").read_text("utf-8")


def parse_next_steps(text: str) -> tuple[NextStep, ...]:
    data = parse_toml(text, "elsewhere.toml", error=ElsewhereError)
    out = []
    for row in data.get("next", []):
        tools = row.get("tools")
        if set(row) != {"tools", "run", "source"} or not isinstance(tools, list) or not tools:
            raise ElsewhereError(f"[[next]] {tools!r}: needs exactly tools (a list), run and source")
        out.append(NextStep(frozenset(str(t) for t in tools), str(row["run"]), str(row["source"])))
    return tuple(out)


def steps_for(mentions: frozenset[str]) -> list[str]:
    """The program-specific steps for a log mentioning these tools, then the generic ones."""
    return [step.run for step in next_steps() if step.tools & mentions] + list(NEXT_STEPS)


def parse_known_messages(text: str) -> tuple[KnownMessage, ...]:
    data = parse_toml(text, "elsewhere.toml", error=ElsewhereError)
    out, seen = [], set()
    for row in data.get("message", []):
        ident = row.get("id")
        if not ident or ident in seen or not row.get("match") or not row.get("what") or not row.get("source"):
            raise ElsewhereError(f"message {ident!r}: needs a unique id, match, what and source")
        seen.add(ident)
        try:
            phrases = tuple(Phrase.compile(p) for p in row["match"])
        except ValueError as exc:
            raise ElsewhereError(f"message {ident!r}: {exc}") from None
        out.append(KnownMessage(ident, phrases, str(row["what"]), str(row["source"])))
    return tuple(out)


def find_elsewhere(log: LogText) -> Elsewhere | None:
    """The first such message the log shows (the earliest line wins), or None."""
    best: tuple[int, KnownMessage, list[int]] | None = None
    for message in known_messages():
        lines = [first for phrase in message.match for first, _ in log.search(phrase)]
        if lines and (best is None or min(lines) < best[0]):
            best = (min(lines), message, lines)
    if best is None:
        return None
    _, message, lines = best
    return Elsewhere(message.id, message.what, message.source, line_matches(log, lines))
