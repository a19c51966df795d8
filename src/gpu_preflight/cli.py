"""Command line: parse flags, call one function per command, pick a renderer. Nothing else.

Exit codes (design.md): 0 nothing failed, 1 a check failed, 2 the request was unusable;
and 3 for an internal error (a bug of ours, reported in one line).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, NoReturn

from gpu_preflight import __version__
from gpu_preflight.errors import UsageError

COMMANDS = ("doctor", "probe", "db")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not argparse's usage block
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _add_host_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("HOST (default: this machine, probed live)")
    group.add_argument("--snapshot", metavar="FILE", help="a host document written by 'preflight probe --json'")
    group.add_argument("--nvidia-smi-xml", metavar="FILE", help="an 'nvidia-smi -q -x' dump")
    group.add_argument("--assume-driver", metavar="VERSION", help="what-if: this driver version instead of the probed one")
    group.add_argument(
        "--assume-gpu", metavar="NAME[:MEMORY]", action="append", default=[],
        help="what-if: this GPU instead of the probed ones (repeatable), e.g. 'Tesla T4:16GiB'",
    )
    group.add_argument("--python", metavar="PATH", help="inspect the frameworks of another interpreter (a venv or conda env)")
    group.add_argument("--deep", action="store_true", help="import torch in a subprocess and launch one kernel")
    group.add_argument("--timeout", type=float, default=15.0, metavar="S", help="timeout for nvidia-smi/NVML/nvcc (default 15)")


def _add_target_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("TARGET (what you want to run; repeatable; default: the installed frameworks)")
    group.add_argument("--torch", metavar="SPEC", action="append", default=[], help="a torch wheel: 2.1.0+cu118, 2.6.0 (its default PyPI wheel), torch==2.4.1")
    group.add_argument("--cuda", metavar="X.Y", action="append", default=[], help="a CUDA runtime")
    group.add_argument("--requirements", metavar="FILE", action="append", default=[], help="torch pins in a requirements.txt or pyproject.toml")


def _add_db_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="DIR", help="knowledge-base data files to use instead of the packaged ones ($GPU_PREFLIGHT_DB)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="preflight", description="Check the GPU software stack before a model runs.")
    parser.add_argument("--version", action="version", version=f"gpu-preflight {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    doctor = sub.add_parser("doctor", help="judge this host (the default command)")
    _add_target_flags(doctor)
    _add_host_flags(doctor)
    _add_db_flag(doctor)
    output = doctor.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="the gpu-preflight/report/v1 document")
    output.add_argument("--markdown", action="store_true", help="a report to paste into an issue")
    doctor.add_argument("--strict", action="store_true", help="warnings fail too (exit 1)")

    probe = sub.add_parser("probe", help="facts only, no verdict: the host document")
    _add_host_flags(probe)
    _add_db_flag(probe)
    probe.add_argument("--json", action="store_true", help="the gpu-preflight/host/v1 document")

    db = sub.add_parser("db", help="knowledge-base contents, versions and sources")
    _add_db_flag(db)
    db.add_argument("--json", action="store_true", help="the gpu-preflight/db/v1 document")
    return parser


def _with_default_command(argv: list[str]) -> list[str]:
    """``preflight`` alone, or with only doctor's flags, means ``preflight doctor``."""
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        return ["doctor", *argv]
    return argv


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(_with_default_command(argv))
        return _run(args)
    except UsageError as exc:
        print(f"preflight: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("preflight: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away (| head): nothing left to say
        return 0
    except Exception as exc:  # a bug of ours: one line, the traceback only on request
        if os.environ.get("PREFLIGHT_DEBUG"):
            raise
        print(f"preflight: internal error: {type(exc).__name__}: {exc} (set PREFLIGHT_DEBUG=1 for the traceback)", file=sys.stderr)
        return 3


def _run(args: argparse.Namespace) -> int:
    if args.command == "db":
        return _db(args)
    if args.command == "probe":
        return _probe(args)
    return _doctor(args)


def _emit_json(document: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")


def _host(args: argparse.Namespace):
    from gpu_preflight.hostspec import HostSpec, resolve_host

    spec = HostSpec(
        snapshot=args.snapshot,
        nvidia_smi_xml=args.nvidia_smi_xml,
        assume_driver=args.assume_driver,
        assume_gpus=tuple(args.assume_gpu),
        python=args.python,
        deep=args.deep,
        timeout=args.timeout,
    )
    return resolve_host(spec, db=args.db)


def _probe(args: argparse.Namespace) -> int:
    host = _host(args)
    if args.json:
        _emit_json(host.to_dict())
    else:
        from gpu_preflight.report.terminal import render_host

        sys.stdout.write(render_host(host))
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from gpu_preflight.doctor import diagnose
    from gpu_preflight.targets import collect_targets

    targets = collect_targets(torch=args.torch, cuda=args.cuda, requirements=args.requirements)
    host = _host(args)
    report = diagnose(host, targets, db=args.db)
    if args.json:
        _emit_json(report.to_dict())
    elif args.markdown:
        from gpu_preflight.report.markdown import render_report_markdown

        sys.stdout.write(render_report_markdown(report))
    else:
        from gpu_preflight.report.terminal import render_report

        sys.stdout.write(render_report(report))
    return report.exit_code(strict=args.strict)


def _db(args: argparse.Namespace) -> int:
    from gpu_preflight.dbcmd import db_document, render_db_text
    from gpu_preflight.knowledge import load_knowledge

    document = db_document(load_knowledge(args.db))
    if args.json:
        _emit_json(document)
    else:
        sys.stdout.write(render_db_text(document))
    return 0
