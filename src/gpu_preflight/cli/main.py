"""Command line: parse flags and hand them to one command module (``gpu_preflight.cli.commands``).

Exit codes (docs/architecture.md, "Exit codes"): 0 nothing failed, 1 a check failed, 2 the request was unusable;
and 3 for an internal error (a bug of ours, reported in one line).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from types import ModuleType
from typing import NoReturn

from gpu_preflight import __version__
from gpu_preflight.cli.commands import COMMANDS
from gpu_preflight.cli.flags import add_db_flag
from gpu_preflight.core.errors import UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not argparse's usage block
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _command(name: str) -> ModuleType:
    return importlib.import_module(f"gpu_preflight.cli.commands.{name}")


def _run(args: argparse.Namespace) -> int:
    """The chosen command's ``run(args)``: its exit code."""
    code: int = _command(args.command).run(args)
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="preflight", description="Check the GPU software stack before a model runs.")
    parser.add_argument("--version", action="version", version=f"gpu-preflight {__version__}")
    add_db_flag(parser, default=None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        module = _command(name)
        summary = (module.__doc__ or name).strip().splitlines()[0]  # a command's docstring opens with its summary
        module.configure(sub.add_parser(name, help=module.HELP, description=summary))
    return parser


def _with_default_command(argv: list[str]) -> list[str]:
    """``preflight`` alone, or with only doctor's flags, means ``preflight doctor``."""
    if any(word in COMMANDS for word in argv) or argv[:1] in (["-h"], ["--help"], ["--version"]):
        return argv
    return ["doctor", *argv] if not argv or argv[0].startswith("-") else argv


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(_with_default_command(argv))
        code = _run(args)
        sys.stdout.flush()  # a reader that went away (| head) shows here, not in the interpreter's last flush
        return code
    except UsageError as exc:
        print(f"preflight: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("preflight: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _discard_stdout()  # the reader went away (| head): nothing left to say, and nothing to flush at exit
        sys.stderr.close()
        return 0
    except Exception as exc:  # a bug of ours: one line, the traceback only on request
        if os.environ.get("PREFLIGHT_DEBUG"):
            raise
        print(
            f"preflight: internal error: {type(exc).__name__}: {exc} (set PREFLIGHT_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 3


def _discard_stdout() -> None:
    """Point stdout at /dev/null: what is still buffered for a reader that has gone would make
    the interpreter's flush at exit print "Exception ignored ... BrokenPipeError" and exit 120."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout is not a file (replaced, closed)
        pass
