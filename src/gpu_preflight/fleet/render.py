"""Fleet output for a person: the terminal table (with the Kubernetes snippets of ``placement``)
and the stderr warnings for unreadable inputs. The JSON document is ``FleetReport.to_dict``."""

from __future__ import annotations

from gpu_preflight.core.text import printable
from gpu_preflight.fleet.judge import FleetReport, affinity_names
from gpu_preflight.fleet.placement import DEFAULT_LABEL, kubectl_label_commands, node_affinity_yaml

MAX_WARNINGS = 20


def render_text(report: FleetReport, label: str = DEFAULT_LABEL) -> str:
    """The table and the snippets; every line through ``printable``, since host names, node
    labels and the problems' titles come from the files read."""
    out = []
    if report.target_labels:
        out.append("Targets: " + "; ".join(report.target_labels))
    else:
        out.append("No TARGET given: judging each host's driver, GPUs and installed frameworks.")
    if report.hosts:
        width = min(max(len(printable(h.name, one_line=True)) for h in report.hosts), 40)
        out.append("")
        out.append(f"{'HOST':<{width}}  STATUS  CAUSES  (first problem)")
        for h in report.hosts:
            v = h.verdict
            first = f"  ({v.problems[0]['title']})" if v.problems else ""
            out.append(
                f"{printable(h.name, one_line=True):<{width}}  {v.status:<6}  {', '.join(v.causes) or '-'}{first}"
            )
    for s in report.skipped:
        out.append(f"skipped {s.name}: {s.reason}")
    for u in report.unreadable:
        out.append(f"unreadable {u.message}")
    summary = report.summary()
    out.append("")
    out.append(
        f"{summary['hosts']} host(s): {summary['pass']} pass, {summary['warn']} warn, {summary['fail']} fail"
        + (f"; {summary['unreadable']} unreadable" if summary["unreadable"] else "")
        + (f"; {summary['skipped']} skipped" if summary["skipped"] else "")
        + f" ({summary['shapes']} distinct host shape(s) judged)"
    )
    for cause, count in summary["by_cause"].items():
        out.append(f"  {cause}: {count} host(s)")
    ready = report.ready()
    out.append("")
    strict = " (warnings count as failures: --strict)" if report.strict else ""
    out.append(f"{len(ready)} node(s) can run the target(s){strict}.")
    if ready:
        out.append("nodeAffinity for the pod spec:")
        out.append(node_affinity_yaml(affinity_names(ready)).rstrip("\n"))
        out.append("")
        out.append("Mark them (then select with nodeSelector):")
        out.extend(kubectl_label_commands([h.name for h in ready], label))
    return "\n".join(printable(line) for line in out) + "\n"


def unreadable_warnings(report: FleetReport) -> list[str]:
    """stderr lines for unreadable inputs, at most MAX_WARNINGS of them."""
    lines = [f"preflight: warning: {printable(u.message, one_line=True)}" for u in report.unreadable[:MAX_WARNINGS]]
    if len(report.unreadable) > MAX_WARNINGS:
        lines.append(f"preflight: warning: ... and {len(report.unreadable) - MAX_WARNINGS} more unreadable input(s)")
    return lines
