"""Terminal text for an Explanation (the JSON document is Explanation.to_dict)."""

from __future__ import annotations

from gpu_preflight.core.text import printable, shortened
from gpu_preflight.explain import Explanation

SHOWN = 3  # causes printed in full; the rest get one line each
RUN_ORIGIN = "the command's output"  # the origin cli/commands/run.py names


def render_explanation(explanation: Explanation, origin: str = "the log") -> str:
    causes = explanation.causes
    if not causes:
        return _host_line(explanation) + _no_cause(explanation, origin)
    out = [_host_line(explanation)] if explanation.host is not None else []
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
    out.extend(_decide_lines(explanation))
    rest = causes[SHOWN:]
    if rest:
        out.append("Less likely: " + ", ".join(f"{c.cause} ({c.confidence:.2f})" for c in rest))
        out.append("")
    return "\n".join(printable(line) for line in out)


def _decide_lines(explanation: Explanation) -> list[str]:
    decide = explanation.decide
    if decide is None:
        return []
    first, second = (c.cause for c in explanation.causes[:2])
    out = [f"To tell 1 ({first}) from 2 ({second}), run where the log came from:"]
    out.extend(f"  - {command}" for command in decide.run)
    out.extend([f"  {decide.tells}", ""])
    return out


def _host_line(explanation: Explanation) -> str:
    """Which HOST the causes were weighed with, so a reader knows what beside the log was used."""
    summary = explanation.host_summary()
    if summary is None:
        return ""
    gpus = ", ".join(summary["gpus"]) or "no GPU seen"
    frameworks = ", ".join(f"{f['name']} {f['version']}" for f in summary["frameworks"]) or "no framework seen"
    driver = f"driver {summary['driver']}" if summary["driver"] else "no driver"
    lines = [f"HOST ({summary['source']}): {driver}; {gpus}; {frameworks}"]
    lines += [f"  could not see {line}" for line in summary["could_not_see"]]
    return "".join(printable(line, one_line=True) + "\n" for line in lines)


def _no_cause(explanation: Explanation, origin: str) -> str:
    out = [f"No known GPU-stack cause recognised in {origin} ({explanation.lines} lines)."]
    elsewhere = explanation.elsewhere
    if elsewhere is not None:
        out.append(f"Most likely instead: {elsewhere.what}")
        out.extend(f"  | line {m.line}: {printable(m.text, one_line=True)}" for m in elsewhere.matches[:3])
    if explanation.resembles:
        out.append("Reads most like (a guess from wording: no known message matched):")
        for number, guess in enumerate(explanation.resembles, 1):
            wording = guess.wording
            out.append(f"  {number}. {guess.cause}  (similarity {guess.similarity:.2f})")
            out.append(f"     {guess.title}")
            out.append(f"     | line {guess.match.line}: {printable(guess.match.text, one_line=True)}")
            out.append(f"     resembles {wording.project}: {printable(shortened(wording.text, 160), one_line=True)}")
    # `preflight run` explains a command's output with this text: it need not suggest itself
    steps = [s for s in explanation.next_steps if not (origin == RUN_ORIGIN and s.startswith("preflight run"))]
    out.append("Next:")
    out.extend(f"  - {step}" for step in steps)
    return "\n".join(printable(line) for line in out) + "\n"
