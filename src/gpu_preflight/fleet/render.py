"""Fleet output: the terminal table, and what can be pasted as is: a ``nodeAffinity`` snippet
for a pod spec and the ``kubectl label`` commands that mark the nodes able to run the target."""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

DEFAULT_LABEL = "gpu-preflight/ok=true"
# Kubernetes label syntax: optional DNS-subdomain prefix, a name and a value of at most 63
# characters each, alphanumeric at both ends.
_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_LABEL = re.compile(rf"(?:[a-z0-9]([-a-z0-9.]{{0,251}}[a-z0-9])?/)?{_NAME}=(?:{_NAME})?")
MAX_WARNINGS = 20


def check_label(label: str) -> str:
    from gpu_preflight.errors import UsageError

    if not _LABEL.fullmatch(label):
        raise UsageError(f"--label {label[:80]!r}: expected KEY=VALUE in Kubernetes label syntax, e.g. {DEFAULT_LABEL}")
    return label


def node_affinity(hostnames: list[str]) -> dict[str, Any] | None:
    """The ``affinity`` of a pod spec that schedules only on ``hostnames``; None when empty
    (an ``In`` expression needs at least one value)."""
    if not hostnames:
        return None
    expression = {"key": "kubernetes.io/hostname", "operator": "In", "values": list(hostnames)}
    terms = {"nodeSelectorTerms": [{"matchExpressions": [expression]}]}
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": terms}}


def node_affinity_yaml(hostnames: list[str]) -> str:
    """``affinity:`` YAML for a pod spec. Names are double-quoted: YAML would read a node
    named ``123`` or ``true`` as a number or a boolean."""
    if not hostnames:
        return "# no node can run the target(s): nothing to schedule on\n"
    lines = [
        "affinity:",
        "  nodeAffinity:",
        "    requiredDuringSchedulingIgnoredDuringExecution:",
        "      nodeSelectorTerms:",
        "      - matchExpressions:",
        "        - key: kubernetes.io/hostname",
        "          operator: In",
        "          values:",
    ]
    lines += [f"          - {json.dumps(name)}" for name in hostnames]
    return "\n".join(lines) + "\n"


def kubectl_label_commands(nodes: list[str], label: str = DEFAULT_LABEL) -> list[str]:
    # --overwrite: a rerun after a driver upgrade must not stop at an existing label.
    return [f"kubectl label node {shlex.quote(node)} {label} --overwrite" for node in dict.fromkeys(nodes)]


def render_text(report, label: str = DEFAULT_LABEL) -> str:
    from gpu_preflight.fleet.judge import affinity_names

    out = []
    if report.target_labels:
        out.append("Targets: " + "; ".join(report.target_labels))
    else:
        out.append("No TARGET given: judging each host's driver, GPUs and installed frameworks.")
    if report.hosts:
        width = min(max(len(h.name) for h in report.hosts), 40)
        out.append("")
        out.append(f"{'HOST':<{width}}  STATUS  CAUSES  (first problem)")
        for h in report.hosts:
            v = h.verdict
            first = f"  ({v.problems[0]['title']})" if v.problems else ""
            out.append(f"{h.name:<{width}}  {v.status:<6}  {', '.join(v.causes) or '-'}{first}")
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
    out.append(f"{len(ready)} node(s) can run the target(s){' (warnings count as failures: --strict)' if report.strict else ''}.")
    if ready:
        out.append("nodeAffinity for the pod spec:")
        out.append(node_affinity_yaml(affinity_names(ready)).rstrip("\n"))
        out.append("")
        out.append("Mark them (then select with nodeSelector):")
        out.extend(kubectl_label_commands([h.name for h in ready], label))
    return "\n".join(out) + "\n"


def unreadable_warnings(report) -> list[str]:
    """stderr lines for unreadable inputs, at most MAX_WARNINGS of them."""
    lines = [f"preflight: warning: {u.message}" for u in report.unreadable[:MAX_WARNINGS]]
    if len(report.unreadable) > MAX_WARNINGS:
        lines.append(f"preflight: warning: ... and {len(report.unreadable) - MAX_WARNINGS} more unreadable input(s)")
    return lines
