"""``preflight fit``: will this model fit on these GPUs, at what context, for how many sequences?"""

from __future__ import annotations

import argparse
import sys

from gpu_preflight.cli.flags import (
    add_db_flag,
    add_host_flags,
    add_model_flags,
    emit_json,
    host_from_args,
    plan_from_args,
)

HELP = "per-GPU memory plan for a model: fits or not, largest context, largest batch"


def configure(parser: argparse.ArgumentParser) -> None:
    add_model_flags(parser, positional=True)
    add_host_flags(parser)
    add_db_flag(parser)
    parser.add_argument("--json", action="store_true", help="the gpu-preflight/fit/v1 document")


def run(args: argparse.Namespace) -> int:
    from gpu_preflight.core.errors import UsageError
    from gpu_preflight.core.findings import overall_status
    from gpu_preflight.fit import fit_devices, fit_findings
    from gpu_preflight.report.fit_plan import fit_document, render_fit_text

    plan = plan_from_args(args)
    if plan is None:  # MODEL is positional here, so argparse has refused its absence already
        raise UsageError("fit needs a MODEL")
    host = host_from_args(args)
    devices = fit_devices(plan, host)
    findings = fit_findings(plan, host, devices)
    if args.json:
        emit_json(fit_document(plan, devices, findings))
    else:
        sys.stdout.write(render_fit_text(plan, devices, findings))
    return 1 if overall_status(findings) == "fail" else 0
