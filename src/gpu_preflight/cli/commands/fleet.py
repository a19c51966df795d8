"""``preflight fleet``: judge many hosts at once and say which can run the target.

Hosts are ``preflight probe --json`` documents, ``nvidia-smi -q -x`` dumps, or Kubernetes nodes
(``--k8s-nodes``: ``kubectl get nodes -o json`` or pasted GPU Feature Discovery labels).
Exit codes: 0 every host passes (warnings allowed), 1 a host fails (with --strict: or warns),
2 the request was unusable, or an input was unreadable (the others are still reported; each
unreadable input is one warning line on stderr).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from gpu_preflight.cli.flags import (
    add_db_flag,
    add_target_flags,
    emit_json,
    image_requests_from_args,
    targets_from_args,
)

if TYPE_CHECKING:
    from gpu_preflight.fleet import judge
    from gpu_preflight.images import ImageFacts

HELP = "judge many hosts (probe documents, nvidia-smi XML, Kubernetes nodes) for a target"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "hostfiles",
        nargs="*",
        metavar="HOSTFILE",
        help="probe --json documents, nvidia-smi -q -x dumps, JSON Lines files, directories of them, or - (stdin)",
    )
    parser.add_argument(
        "--k8s-nodes",
        metavar="FILE",
        action="append",
        default=[],
        help="'kubectl get nodes -o json' output or GPU Feature Discovery labels (JSON, YAML excerpt, key=value lines);"
        " repeatable",
    )
    add_target_flags(parser)
    add_db_flag(parser)
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="the gpu-preflight/fleet/v1 document")
    output.add_argument(
        "--affinity", action="store_true", help="print only the nodeAffinity YAML of the nodes that can run the target"
    )
    output.add_argument(
        "--kubectl", action="store_true", help="print only the 'kubectl label node' commands for those nodes"
    )
    parser.add_argument(
        "--label",
        metavar="KEY=VALUE",
        default=None,
        help="the label the kubectl commands set (default gpu-preflight/ok=true)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="warnings fail too (exit 1, and such nodes are not ready)"
    )


def run(args: argparse.Namespace) -> int:
    from itertools import chain

    from gpu_preflight.core.errors import UsageError
    from gpu_preflight.fleet import judge, placement, render, sources

    if not (args.hostfiles or args.k8s_nodes):
        raise UsageError(
            "give HOSTFILEs (probe --json documents, nvidia-smi -q -x dumps, directories) or --k8s-nodes FILE"
        )
    label = placement.check_label(args.label or placement.DEFAULT_LABEL)
    targets = targets_from_args(args)  # parsed first: a typo should not cost reading the fleet
    requests = image_requests_from_args(args)
    images: tuple[ImageFacts, ...] = ()
    if requests:
        from gpu_preflight.images import resolve_images
        from gpu_preflight.knowledge import load_knowledge

        images = resolve_images(
            requests, load_knowledge(args.db), None, registry_lookup=args.registry_lookup
        )  # once, for linux/amd64
    sources.check_paths([*args.hostfiles, *args.k8s_nodes])
    if [*args.hostfiles, *args.k8s_nodes].count("-") > 1:
        raise UsageError("standard input (-) can be read only once")
    items = chain(sources.read_hostfiles(args.hostfiles), *(sources.read_k8s_nodes(p) for p in args.k8s_nodes))
    report = judge.survey(
        items,
        targets,
        db=args.db,
        strict=args.strict,
        images=images,
        require_cuda=requests.require_cuda if requests else (),
    )
    if not report.hosts:  # nothing judged: "every host passes" would be vacuous
        raise UsageError(_nothing_judged(report, [*args.hostfiles, *args.k8s_nodes]))
    for line in render.unreadable_warnings(report):
        print(line, file=sys.stderr)
    ready = report.ready()
    if args.json:
        emit_json(report.to_dict(label))
    elif args.affinity:
        sys.stdout.write(placement.node_affinity_yaml(judge.affinity_names(ready)))
    elif args.kubectl:
        sys.stdout.write(
            "".join(line + "\n" for line in placement.kubectl_label_commands([h.name for h in ready], label))
        )
    else:
        sys.stdout.write(render.render_text(report, label))
    return report.exit_code()


def _nothing_judged(report: judge.FleetReport, paths: list[str]) -> str:
    if report.unreadable:
        more = f" (and {len(report.unreadable) - 1} more unreadable)" if len(report.unreadable) > 1 else ""
        return f"no host could be read: {report.unreadable[0].message}{more}"
    if report.skipped:
        names = ", ".join(s.name for s in report.skipped[:5]) + (", ..." if len(report.skipped) > 5 else "")
        return f"no GPU node to judge: {len(report.skipped)} node(s) without nvidia.com GPU labels ({names})"
    shown = ", ".join(paths[:3]) + (", ..." if len(paths) > 3 else "")
    return (
        f"no host found in {shown}: a directory is searched for regular .json, .jsonl, .ndjson and .xml files"
        " (probe --json documents, nvidia-smi -q -x dumps)"
    )
