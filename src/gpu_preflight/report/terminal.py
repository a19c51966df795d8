"""The terminal checklist, in the spirit of ``flutter doctor``: facts first, then each finding
with a mark, failures first, each followed by its fix."""

from __future__ import annotations

import os
import sys

from gpu_preflight import __version__
from gpu_preflight.core.findings import Severity
from gpu_preflight.core.host import Host
from gpu_preflight.report.facts import cuda_version_facts, gpu_facts

MARKS = {Severity.PASS: "✓", Severity.INFO: "i", Severity.WARN: "!", Severity.FAIL: "✗"}
ASCII_MARKS = {Severity.PASS: "+", Severity.INFO: "i", Severity.WARN: "!", Severity.FAIL: "x"}
COLOURS = {Severity.PASS: "32", Severity.INFO: "36", Severity.WARN: "33", Severity.FAIL: "31"}


class Style:
    def __init__(self, stream=None):
        stream = stream or sys.stdout
        self.colour = stream.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
        try:
            "✓✗".encode(stream.encoding or "ascii")
            self.marks = MARKS
        except (UnicodeEncodeError, LookupError):
            self.marks = ASCII_MARKS

    def paint(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.colour else text

    def mark(self, severity: Severity) -> str:
        return self.paint(f"[{self.marks[severity]}]", COLOURS[severity])

    def bold(self, text: str) -> str:
        return self.paint(text, "1")


def _host_lines(host: Host, style: Style) -> list[str]:
    name = host.hostname or "unknown host"
    lines = [
        style.bold(f"gpu-preflight {__version__} · {name} ({_describe_source(host)})"),
        "",
        style.bold("CUDA versions, each named for what it is"),
    ]
    facts = cuda_version_facts(host)
    width = max(len(label) for label, _ in facts)
    lines += [f"  {label.ljust(width)}  {value}" for label, value in facts]
    lines += ["", style.bold("GPUs")]
    lines += [f"  {line}" for line in gpu_facts(host)] or ["  none visible"]
    if host.errors:
        lines += ["", style.bold("Could not see")]
        lines += [f"  {error.probe}: {error.message}" for error in host.errors]
    return lines


def _describe_source(host: Host) -> str:
    return {"live": "probed live", "nvidia-smi-xml": "from an nvidia-smi XML dump", "snapshot": "from a snapshot"}.get(
        host.source, host.source
    )


def render_host(host: Host, style: Style | None = None) -> str:
    return "\n".join(_host_lines(host, style or Style())) + "\n"


def render_report(report, style: Style | None = None) -> str:
    style = style or Style()
    lines = _host_lines(report.host, style) + ["", style.bold("Checks")]
    for finding in report.findings:
        lines.append(f"{style.mark(finding.severity)} {finding.title}")
        if finding.detail and finding.severity >= Severity.INFO:
            lines.append(f"    {finding.detail}")
        for fix in finding.fix:
            lines.append(f"    {style.paint('fix:', '1')} {fix}")
    counts = {s: sum(1 for f in report.findings if f.severity == s) for s in Severity}
    summary = f"Status: {report.status.upper()} ({counts[Severity.FAIL]} failed, {counts[Severity.WARN]} warning(s), {counts[Severity.PASS]} passed)"
    colour = COLOURS[{"pass": Severity.PASS, "warn": Severity.WARN, "fail": Severity.FAIL}[report.status]]
    lines += ["", style.paint(summary, colour)]
    return "\n".join(lines) + "\n"
