"""A report to paste into an issue: GitHub-flavoured Markdown, no colour."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gpu_preflight import __version__
from gpu_preflight.core.findings import Severity
from gpu_preflight.core.text import printable
from gpu_preflight.report.facts import cuda_version_facts, gpu_facts

if TYPE_CHECKING:
    from gpu_preflight.checks.diagnose import Report

MARKS = {Severity.PASS: "✅", Severity.INFO: "ℹ️", Severity.WARN: "⚠️", Severity.FAIL: "❌"}


def _text(text: str) -> str:
    """Inline text: one line, no control character (``printable``), and no HTML: a name with
    ``</details>`` or ``<img ...>`` in it stays text on the page."""
    return printable(text, one_line=True).replace("<", "&lt;").replace(">", "&gt;")


def _cell(text: str) -> str:
    """A table cell: inline text whose ``|`` does not end the cell."""
    return _text(text).replace("|", "\\|")


def _code(text: str) -> str:
    """A code span around ``text``, fenced by more backticks than it holds in a row, so a backtick
    in a name cannot end the span early (GitHub Markdown's rule)."""
    shown = printable(text, one_line=True)
    longest = run = 0
    for char in shown:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    pad = " " if shown.startswith("`") or shown.endswith("`") or not shown.strip() else ""
    return f"{fence}{pad}{shown}{pad}{fence}"


def _action(text: str) -> str:
    """A fix or plan step: a command as code, words as text."""
    return _code(text) if text.startswith(("pip ", "sudo ", "unset ", "CUDA_")) else _text(text)


def render_report_markdown(report: Report) -> str:
    host = report.host
    lines = [
        f"### gpu-preflight {__version__}: **{report.status.upper()}** on {_code(host.hostname or 'unknown host')}",
        "",
    ]
    if report.plan:
        lines += ["**Plan**", ""]
        for number, step in enumerate(report.plan, 1):
            checked = ", checked as a what-if" if step.verified else ""
            lines.append(f"{number}. {_action(step.action)} (clears {len(step.clears)}{checked})")
            lines += [f"   - {_code(command)}" for command in step.commands]
        lines.append("")
    lines += ["| CUDA version | value |", "|---|---|"]
    lines += [f"| {_cell(label)} | {_cell(value)} |" for label, value in cuda_version_facts(host)]
    lines += ["", "**GPUs:** " + ("; ".join(_text(fact) for fact in gpu_facts(host)) or "none visible"), ""]
    for finding in report.findings:
        lines.append(
            f"- {MARKS[finding.severity]} **{_text(finding.title)}**"
            + (f" — {_text(finding.detail)}" if finding.detail else "")
        )
        lines += [f"  - fix: {_action(fix)}" for fix in finding.fix]
    if host.errors:
        lines += ["", "<details><summary>Could not see</summary>", ""]
        lines += [f"- {_text(e.probe)}: {_text(e.message)}" for e in host.errors]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"
