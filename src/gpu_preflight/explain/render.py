"""Terminal text for an Explanation (the JSON document is Explanation.to_dict)."""

from __future__ import annotations

from gpu_preflight.core.text import printable
from gpu_preflight.explain import Explanation

SHOWN = 3  # causes printed in full; the rest get one line each


def render_explanation(explanation: Explanation, origin: str = "the log") -> str:
    causes = explanation.causes
    if not causes:
        return (
            f"No known GPU-stack cause recognised in {origin} ({explanation.lines} lines).\n"
            "If it is a GPU problem, 'preflight doctor' checks this machine directly.\n"
        )
    out = []
    for number, cause in enumerate(causes[:SHOWN], 1):
        out.append(f"{number}. {cause.cause}  (confidence {cause.confidence:.2f})")
        out.append(f"   {cause.title}")
        if cause.evidence:
            out.append("   evidence:")
            out.extend(f"     | {printable(line, one_line=True)}" for line in cause.evidence)  # a log's colour codes
        if cause.fix:
            out.append("   fix:")
            out.extend(f"     - {line}" for line in cause.fix)
        out.append("")
    rest = causes[SHOWN:]
    if rest:
        out.append("Less likely: " + ", ".join(f"{c.cause} ({c.confidence:.2f})" for c in rest))
        out.append("")
    return "\n".join(printable(line) for line in out)
