"""``preflight probe``: facts only, no verdict."""

from __future__ import annotations

import argparse
import sys

from gpu_preflight.cli.flags import (
    add_db_flag,
    add_host_flags,
    emit_json,
    host_from_args,
)

HELP = "facts only, no verdict: the host document"


def configure(parser: argparse.ArgumentParser) -> None:
    add_host_flags(parser)
    add_db_flag(parser)
    parser.add_argument("--json", action="store_true", help="the gpu-preflight/host/v1 document")


def run(args: argparse.Namespace) -> int:
    host = host_from_args(args)
    if args.json:
        emit_json(host.to_dict())
    else:
        from gpu_preflight.report.terminal import render_host

        sys.stdout.write(render_host(host))
    return 0
