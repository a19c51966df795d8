"""``preflight explain``: an error log -> ranked root causes, the lines that show them, fixes."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from gpu_preflight.cli.flags import add_db_flag, add_host_flags, emit_json, host_spec_from_args

if TYPE_CHECKING:
    from gpu_preflight.core.host import Host

HELP = "error log -> ranked root causes and fixes"
# Unlike the other commands, explain judges no machine unless asked: the log is the evidence.
HOST_TITLE = "HOST (default: none, only the log is used; --here, or --python, probes this machine)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file", nargs="?", default="-", metavar="FILE", help="the log to explain; '-' or nothing reads standard input"
    )
    add_host_flags(parser, title=HOST_TITLE)
    parser.add_argument(
        "--here", action="store_true", help="probe this machine and use it as the HOST (default: only the log is used)"
    )
    add_db_flag(parser)
    parser.add_argument("--json", action="store_true", help="the gpu-preflight/explanation/v1 document")


def host_for(args: argparse.Namespace) -> Host | None:
    """The HOST flags as a Host, or None. ``--assume-*`` alone describe a what-if machine
    without probing this one; ``--here`` (or a snapshot / XML dump) gives the base."""
    here = bool(args.here or args.python)  # --python names an interpreter of this machine: probe it
    spec = host_spec_from_args(args, probe_live=here)
    if not (here or spec.describes_another_host):
        return None
    from gpu_preflight.probe.hostspec import resolve_host

    return resolve_host(spec, db=args.db)


def run(args: argparse.Namespace) -> int:
    from gpu_preflight.explain import explain_bytes, read_log

    data = read_log(args.file)
    host = host_for(args)
    explanation = explain_bytes(data, host=host, db=args.db, origin=f"log {args.file}")
    if args.json:
        emit_json(explanation.to_dict())
    else:
        from gpu_preflight.explain.render import render_explanation

        origin = "standard input" if args.file == "-" else args.file
        sys.stdout.write(render_explanation(explanation, origin))
    return 0
