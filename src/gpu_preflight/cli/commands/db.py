"""``preflight db``: what the knowledge base holds, its versions and sources."""

from __future__ import annotations

import argparse
import sys

from gpu_preflight.cli.flags import add_db_flag, emit_json

HELP = "knowledge-base contents, versions and sources"


def configure(parser: argparse.ArgumentParser) -> None:
    add_db_flag(parser)
    parser.add_argument("--json", action="store_true", help="the gpu-preflight/db/v1 document")


def run(args: argparse.Namespace) -> int:
    from gpu_preflight.knowledge import load_knowledge
    from gpu_preflight.report.db import db_document, render_db_text

    document = db_document(load_knowledge(args.db))
    if args.json:
        emit_json(document)
    else:
        sys.stdout.write(render_db_text(document))
    return 0
