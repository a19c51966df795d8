"""``preflight fleet``: which hosts of a fleet can run the target, and why the others cannot.

    items = read_hostfiles(["hosts/"])            # or read_k8s_nodes("nodes.json")
    report = survey(items, targets, db=None)      # doctor's verdict per host, cached per shape
    report.to_dict(DEFAULT_LABEL)                 # gpu-preflight/fleet/v1
    node_affinity_yaml(affinity_names(report.ready()))

Modules, in the order data flows: ``sources`` (reading host documents, XML dumps, Kubernetes
nodes, one at a time), ``k8s`` (GPU Feature Discovery labels -> Host), ``judge`` (verdicts, the
shape cache, the report, its summary and its JSON document), ``placement`` (where the ready nodes
are, in Kubernetes' words: nodeAffinity, kubectl label commands, the label syntax) and ``render``
(the terminal text and the warnings for unreadable inputs).
"""

from gpu_preflight.fleet.judge import (
    SCHEMA,
    FleetReport,
    HostResult,
    Verdict,
    affinity_names,
    survey,
)
from gpu_preflight.fleet.placement import (
    DEFAULT_LABEL,
    check_label,
    kubectl_label_commands,
    node_affinity,
    node_affinity_yaml,
)
from gpu_preflight.fleet.render import render_text, unreadable_warnings
from gpu_preflight.fleet.sources import (
    HostInput,
    Skipped,
    Unreadable,
    read_hostfiles,
    read_k8s_nodes,
)

__all__ = [
    "DEFAULT_LABEL",
    "SCHEMA",
    "FleetReport",
    "HostInput",
    "HostResult",
    "Skipped",
    "Unreadable",
    "Verdict",
    "affinity_names",
    "check_label",
    "kubectl_label_commands",
    "node_affinity",
    "node_affinity_yaml",
    "read_hostfiles",
    "read_k8s_nodes",
    "render_text",
    "survey",
    "unreadable_warnings",
]
