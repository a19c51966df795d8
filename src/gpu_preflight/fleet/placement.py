"""Where a target can run, in Kubernetes' words: a ``nodeAffinity`` snippet for a pod spec and the
``kubectl label`` commands that mark the nodes able to run it."""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.text import printable

DEFAULT_LABEL = "gpu-preflight/ok=true"
# Kubernetes label syntax: optional DNS-subdomain prefix, a name and a value of at most 63
# characters each, alphanumeric at both ends.
_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_LABEL = re.compile(rf"(?:[a-z0-9]([-a-z0-9.]{{0,251}}[a-z0-9])?/)?{_NAME}=(?:{_NAME})?")


def check_label(label: str) -> str:
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
    # --overwrite: a rerun after a driver upgrade must not stop at an existing label. A name with
    # control characters (no real node has one) is escaped, never written raw to the terminal.
    return [
        f"kubectl label node {shlex.quote(printable(node, one_line=True))} {label} --overwrite"
        for node in dict.fromkeys(nodes)
    ]
