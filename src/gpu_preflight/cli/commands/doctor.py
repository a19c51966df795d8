"""``preflight doctor``: judge the host for what the user wants to run."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from gpu_preflight.cli.flags import (
    add_db_flag,
    add_host_flags,
    add_model_flags,
    add_target_flags,
    emit_json,
    host_from_args,
    image_requests_from_args,
    plan_from_args,
    targets_from_args,
)

if TYPE_CHECKING:
    from gpu_preflight.images import ImageFacts
    from gpu_preflight.report.redact import Redactor

HELP = "judge this host (the default command)"


def configure(parser: argparse.ArgumentParser) -> None:
    add_target_flags(parser)
    add_model_flags(parser)
    add_host_flags(parser)
    add_db_flag(parser)
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="the gpu-preflight/report/v1 document")
    output.add_argument("--markdown", action="store_true", help="a report to paste into an issue")
    parser.add_argument(
        "--redact",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="take the hostname and user names in home paths out of the report (default: on for --markdown, "
        "off for --json and the terminal)",
    )
    parser.add_argument("--strict", action="store_true", help="warnings fail too (exit 1)")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="each finding's evidence under it (what --json carries)"
    )


def run(args: argparse.Namespace) -> int:
    from gpu_preflight.checks.diagnose import diagnose

    targets = targets_from_args(args)  # parsed first: a typo should not cost a probe
    plan = plan_from_args(args)
    images = image_requests_from_args(args)  # also before the probe
    host = host_from_args(args)
    image_facts: tuple[ImageFacts, ...] = ()
    if images:
        from gpu_preflight.images import resolve_images
        from gpu_preflight.knowledge import load_knowledge

        image_facts = resolve_images(images, load_knowledge(args.db), host, registry_lookup=args.registry_lookup)
    report = diagnose(
        host,
        targets,
        db=args.db,
        model_plan=plan,
        images=image_facts,
        require_cuda=images.require_cuda if images else (),
        container_mode="cdi" if args.cdi else None,
    )
    pinned = [*targets, *targets.engines]
    if args.requirements and not any(getattr(t, "source", "").startswith(tuple(args.requirements)) for t in pinned):
        from gpu_preflight.core.findings import Finding, Severity

        report.findings.append(
            Finding(
                code="target-note",
                severity=Severity.INFO,
                title=f"{', '.join(args.requirements)}: no torch pin found"
                + ("; judged what is installed instead" if not pinned else ""),
            )
        )
    redact = args.markdown if args.redact is None else args.redact
    redactor: Redactor | None = None
    if redact:  # imported only when asked for
        from gpu_preflight.report.redact import Redactor

        redactor = Redactor(report.host.hostname)
    if args.json:
        document = report.to_dict()
        emit_json(redactor.document(document) if redactor else document)
    elif args.markdown:
        from gpu_preflight.report.markdown import render_report_markdown

        text = render_report_markdown(report)
        sys.stdout.write(redactor.text(text) if redactor else text)
    else:
        from gpu_preflight.report.terminal import render_report

        text = render_report(report, verbose=args.verbose)
        sys.stdout.write(redactor.text(text) if redactor else text)
    return report.exit_code(strict=args.strict)
