"""``preflight explain``: from a pasted log to ranked root causes with evidence and fixes.

    log (bytes) -> LogText (clean lines + folded search text)   logtext.py
                -> LogFacts (versions, GPUs, error numbers)      facts.py
                -> Situation (facts + HOST + knowledge base)     situation.py
                -> signatures that fire -> ranked causes         signatures.toml, matcher.py
                -> fix templates filled in                       advice.py
                -> the first two alike: the check between them   signatures.toml [[decide]]
                -> no cause: a known non-GPU message, next steps  elsewhere.toml, elsewhere.py
                -> still none: the messages it reads like, a guess wordings.toml, resemblance.py
                -> terminal text or the explanation/v1 document  render.py

Facts live in signatures.toml (how a cause shows itself, how sure it makes us, what to do);
the code above is generic. The HOST is optional: without one only the log is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from gpu_preflight.core.host import Host
from gpu_preflight.explain.elsewhere import Elsewhere, find_elsewhere, steps_for
from gpu_preflight.explain.facts import LogFacts, extract_facts
from gpu_preflight.explain.logtext import LogText, decode_log, read_log
from gpu_preflight.explain.matcher import RankedCause, rank
from gpu_preflight.explain.resemblance import Resemblance, resemble
from gpu_preflight.explain.signatures import Decider, load_signatures
from gpu_preflight.explain.situation import Situation

SCHEMA = "gpu-preflight/explanation/v1"
DECIDE_FROM = 0.25  # the second cause's confidence from which the check between the first two is shown


@dataclass
class Explanation:
    causes: list[RankedCause]
    facts: LogFacts
    lines: int
    elsewhere: Elsewhere | None = None  # no cause fits: a well-known message that is not the stack's fault
    host: Host | None = None  # the HOST read beside the log (--here, --python, --snapshot...), if any
    decide: Decider | None = None  # the first two causes fit the log alike: the check that tells them apart
    resembles: list[Resemblance] = field(default_factory=list)  # no cause, nothing elsewhere: a guess by wording

    def host_summary(self) -> dict[str, Any] | None:
        """What of the HOST the causes could use: where it came from, its driver, GPUs, frameworks."""
        if self.host is None:
            return None
        return {
            "source": self.host.source,
            "driver": self.host.driver.version,
            "gpus": [gpu.name for gpu in self.host.gpus],
            "frameworks": [
                {"name": f.name, "version": f.version, "cuda": f.cuda, "variant": f.variant}
                for f in self.host.frameworks
            ],
            "could_not_see": [f"{e.probe}: {e.message}" for e in self.host.errors],
        }

    @property
    def next_steps(self) -> list[str]:
        """What to run when no GPU-stack cause fits (empty when one does)."""
        return [] if self.causes else steps_for(self.facts.mentions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "causes": [c.to_dict() for c in self.causes],
            "facts": self.facts.summary(),
            "lines": self.lines,
            "elsewhere": self.elsewhere.to_dict() if self.elsewhere is not None else None,
            "next": self.next_steps,
            "host": self.host_summary(),
            "decide": self._decide_dict(),
            "resembles": [r.to_dict() for r in self.resembles],
        }

    def _decide_dict(self) -> dict[str, Any] | None:
        if self.decide is None:
            return None
        return {
            "causes": [c.cause for c in self.causes[:2]],
            "run": list(self.decide.run),
            "tells": self.decide.tells,
            "source": self.decide.source,
        }


def explain_log(log: LogText, host: Host | None = None, db: str | None = None) -> Explanation:
    facts = extract_facts(log)
    situation = Situation(facts, host, db)
    signatures = load_signatures()
    causes = rank(log, situation, signatures)
    alike = len(causes) >= 2 and causes[1].confidence >= DECIDE_FROM
    decide = signatures.decider(causes[0].cause, causes[1].cause) if alike else None
    elsewhere = None if causes else find_elsewhere(log)
    guess = [] if causes or elsewhere else resemble(log, information=signatures.information)
    guess = [replace(g, title=info.title) if (info := signatures.causes.get(g.cause)) else g for g in guess]
    return Explanation(causes, facts, log.line_count, elsewhere, host, decide, guess)


def explain_text(text: str, host: Host | None = None, db: str | None = None) -> Explanation:
    return explain_log(LogText.from_text(text), host, db)


def explain_bytes(data: bytes, host: Host | None = None, db: str | None = None, origin: str = "log") -> Explanation:
    """Raises UsageError for input that is not a text log (binary data)."""
    return explain_log(LogText.from_bytes(data, origin), host, db)


__all__ = [
    "SCHEMA",
    "Explanation",
    "RankedCause",
    "decode_log",
    "explain_bytes",
    "explain_log",
    "explain_text",
    "read_log",
]
