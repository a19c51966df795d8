"""A report to paste into an issue: GitHub-flavoured Markdown, no colour."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gpu_preflight import __version__
from gpu_preflight.core.findings import Severity
from gpu_preflight.report.facts import cuda_version_facts, gpu_facts

if TYPE_CHECKING:
    from gpu_preflight.checks.diagnose import Report

MARKS = {Severity.PASS: "✅", Severity.INFO: "ℹ️", Severity.WARN: "⚠️", Severity.FAIL: "❌"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_report_markdown(report: Report) -> str:
    host = report.host
    lines = [f"### gpu-preflight {__version__}: **{report.status.upper()}** on `{host.hostname or 'unknown host'}`", ""]
    lines += ["| CUDA version | value |", "|---|---|"]
    lines += [f"| {_cell(label)} | {_cell(value)} |" for label, value in cuda_version_facts(host)]
    lines += ["", "**GPUs:** " + ("; ".join(gpu_facts(host)) or "none visible"), ""]
    for finding in report.findings:
        lines.append(
            f"- {MARKS[finding.severity]} **{finding.title}**" + (f" — {finding.detail}" if finding.detail else "")
        )
        lines += [
            f"  - fix: `{fix}`" if fix.startswith(("pip ", "sudo ", "unset ", "CUDA_")) else f"  - fix: {fix}"
            for fix in finding.fix
        ]
    if host.errors:
        lines += ["", "<details><summary>Could not see</summary>", ""]
        lines += [f"- {e.probe}: {_cell(e.message)}" for e in host.errors]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"
