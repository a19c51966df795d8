"""The terminal renderer, in the spirit of ``flutter doctor``: a mark per finding, each followed
by its fix, and aligned label/value tables. doctor's checklist (grouped by layer), fit's plan
and db's summary all print findings and tables through here; none of it decides anything."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from gpu_preflight import __version__
from gpu_preflight.core.findings import Finding, Severity, overall_status
from gpu_preflight.core.host import Host
from gpu_preflight.core.text import printable
from gpu_preflight.report.facts import cuda_version_facts, gpu_facts
from gpu_preflight.report.layers import group_by_layer

if TYPE_CHECKING:
    from gpu_preflight.checks.diagnose import Report

MARKS = {Severity.PASS: "✓", Severity.INFO: "i", Severity.WARN: "!", Severity.FAIL: "✗"}
ASCII_MARKS = {Severity.PASS: "+", Severity.INFO: "i", Severity.WARN: "!", Severity.FAIL: "x"}
COLOURS = {Severity.PASS: "32", Severity.INFO: "36", Severity.WARN: "33", Severity.FAIL: "31"}
STATUS_SEVERITY = {"pass": Severity.PASS, "warn": Severity.WARN, "fail": Severity.FAIL}
INDENT = "  "


class Style:
    """Colour only on a terminal that wants it (NO_COLOR, TERM=dumb); ASCII marks where the
    stream cannot encode ✓ and ✗."""

    def __init__(self, stream: TextIO | None = None) -> None:
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


# --- building blocks --------------------------------------------------------------------------


def table_lines(rows: Sequence[tuple[str, str]], indent: str = INDENT) -> list[str]:
    """Labels padded to the longest, values beside them."""
    shown = [(printable(label, one_line=True), printable(value, one_line=True)) for label, value in rows]
    width = max((len(label) for label, _ in shown), default=0)
    return [f"{indent}{label.ljust(width)}  {value}" for label, value in shown]


def finding_lines(finding: Finding, style: Style, verbose: bool = False, indent: str = "") -> list[str]:
    """The mark and title; the detail (a pass line keeps it for ``verbose``); each fix; with
    ``verbose``, the evidence --json carries. Every text is shown through ``printable``: a GPU
    or host name inside a title reaches the terminal as text, never as an escape sequence."""
    body = indent + INDENT * 2
    lines = [f"{indent}{style.mark(finding.severity)} {printable(finding.title, one_line=True)}"]
    if finding.detail and (finding.severity >= Severity.INFO or verbose):
        lines.append(f"{body}{printable(finding.detail)}")
    lines += [f"{body}{style.bold('fix:')} {printable(fix, one_line=True)}" for fix in finding.fix]
    if verbose and finding.evidence:
        lines.append(f"{body}{style.bold('evidence:')}")
        lines += [
            f"{body}{INDENT}{printable(key, one_line=True)}: {printable(value, one_line=True)}"
            for key, value in evidence_rows(finding.evidence)
        ]
    return lines


def evidence_rows(evidence: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """(key, value) per leaf, nested keys joined with dots; values as --json writes them, a
    string as itself."""
    rows: list[tuple[str, str]] = []
    for key, value in evidence.items():
        if isinstance(value, dict) and value:
            rows += evidence_rows(value, f"{prefix}{key}.")
        else:
            shown = value if isinstance(value, str) and value.isprintable() else json.dumps(value)
            rows.append((f"{prefix}{key}", shown))
    return rows


def checklist_lines(findings: Iterable[Finding], style: Style, verbose: bool = False) -> list[str]:
    """The findings as one list under a "Checks" heading, in their own order."""
    return [style.bold("Checks")] + [line for f in findings for line in finding_lines(f, style, verbose)]


def grouped_checklist_lines(findings: Iterable[Finding], style: Style, verbose: bool = False) -> list[str]:
    """The findings under a heading per layer (layers.py), in the order a reader scans them; a
    heading counts its failures and warnings so the worst group stands out."""
    lines = [style.bold("Checks")]
    for layer, members in group_by_layer(findings):
        problems = _problem_counts(members)
        lines.append(INDENT + style.bold(layer.value) + (f" ({problems})" if problems else ""))
        lines += [line for f in members for line in finding_lines(f, style, verbose, indent=INDENT * 2)]
    return lines


def status_line(findings: list[Finding], style: Style) -> str:
    status = overall_status(findings)
    counts = {s: sum(1 for f in findings if f.severity == s) for s in Severity}
    summary = (
        f"Status: {status.upper()} ({counts[Severity.FAIL]} failed, {counts[Severity.WARN]} warning(s), "
        f"{counts[Severity.PASS]} passed)"
    )
    return style.paint(summary, COLOURS[STATUS_SEVERITY[status]])


def _problem_counts(findings: list[Finding]) -> str:
    failed = sum(1 for f in findings if f.severity == Severity.FAIL)
    warned = sum(1 for f in findings if f.severity == Severity.WARN)
    parts = [f"{failed} failed"] if failed else []
    parts += [f"{warned} warning(s)"] if warned else []
    return ", ".join(parts)


# --- doctor and probe -------------------------------------------------------------------------


def render_host(host: Host, style: Style | None = None) -> str:
    return "\n".join(_host_lines(host, style or Style())) + "\n"


def render_report(report: Report, style: Style | None = None, verbose: bool = False) -> str:
    """doctor's page: the plan first when something fails or warns, then the host's facts, the
    checklist grouped by layer, the status line."""
    style = style or Style()
    host_lines = _host_lines(report.host, style)
    if any(target.get("kind") == "image" for target in report.targets):
        # rows 3-5 are the judged host's own: a what-if image has its own CUDA and torch (issue 14)
        at = host_lines.index(style.bold("GPUs")) - 1
        host_lines[at:at] = [f"{INDENT}(3-5 are this host's, not the image's: the image is judged under Checks)"]
    lines = host_lines[:1] + [""] + plan_lines(report, style) + host_lines[2:] + [""]
    lines += grouped_checklist_lines(report.findings, style, verbose)
    lines += ["", status_line(report.findings, style)]
    return "\n".join(lines) + "\n"


def plan_lines(report: Report, style: Style) -> list[str]:
    """The plan: numbered steps, what each clears, the commands under it; [] without a plan."""
    if not report.plan:
        return []
    problems = sum(1 for f in report.findings if f.severity >= Severity.WARN)
    cleared = sum(len(step.clears) for step in report.plan)
    lines = [style.bold(f"Plan: {len(report.plan)} step(s) for {problems} problem(s)")]
    for number, step in enumerate(report.plan, 1):
        clears = f"clears {len(step.clears)}" + (" (checked as a what-if)" if step.verified else "")
        lines.append(f"{INDENT}{number}. {printable(step.action, one_line=True)}  [{clears}]")
        lines += [f"{INDENT * 3}{printable(command, one_line=True)}" for command in step.commands]
        if step.introduces:
            shown = ", ".join(code for code, _ in step.introduces)
            lines.append(f"{INDENT * 3}after this, the checks still report: {printable(shown, one_line=True)}")
    if cleared < problems:
        lines.append(f"{INDENT}{problems - cleared} problem(s) have no automatic fix: see the checks below")
    return lines + [""]


def _host_lines(host: Host, style: Style) -> list[str]:
    name = printable(host.hostname or "unknown host", one_line=True)
    lines = [
        style.bold(f"gpu-preflight {__version__} · {name} ({_describe_source(host)})"),
        "",
        style.bold("CUDA versions, each named for what it is"),
    ]
    lines += table_lines(cuda_version_facts(host))
    lines += ["", style.bold("GPUs")]
    lines += [f"{INDENT}{printable(line, one_line=True)}" for line in gpu_facts(host)] or [f"{INDENT}none visible"]
    if host.errors:
        lines += ["", style.bold("Could not see")]
        lines += [
            f"{INDENT}{printable(error.probe, one_line=True)}: {printable(error.message, one_line=True)}"
            for error in host.errors
        ]
    return lines


def _describe_source(host: Host) -> str:
    return {"live": "probed live", "nvidia-smi-xml": "from an nvidia-smi XML dump", "snapshot": "from a snapshot"}.get(
        host.source, printable(host.source, one_line=True)
    )
