"""``preflight run -- CMD ...``: run a command, pass its output through live, explain a failure.

The command's stdout and stderr go straight to ours as they arrive (unbuffered; Python children
get PYTHONUNBUFFERED=1 so they write line by line). A copy of the output is kept, bounded, and
when the command fails it is explained against this machine, probed live (or the HOST given),
on stderr so the command's stdout stays clean. The exit code is the command's own; a command
that cannot be started gives one line and 127, as a shell does.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
from typing import IO, TYPE_CHECKING, Any

from gpu_preflight.cli.flags import add_db_flag, add_host_flags, emit_json, host_spec_from_args
from gpu_preflight.core.errors import UsageError

if TYPE_CHECKING:
    from gpu_preflight.core.host import Host
    from gpu_preflight.probe.hostspec import HostSpec

HELP = "run a command; when it fails, explain its output"
KEEP_BYTES = 4 * 1024 * 1024  # the output kept for explaining: the first and the last 2 MiB
CHUNK = 65536


def configure(parser: argparse.ArgumentParser) -> None:
    add_host_flags(parser)
    add_db_flag(parser)
    parser.add_argument("--json", action="store_true", help="on failure, print the explanation/v1 document (on stderr)")
    parser.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD [ARG...]", help="the command to run")


class _Capture:
    """Keeps the head and the tail of a stream that may be far too long to keep whole."""

    def __init__(self, limit: int = KEEP_BYTES) -> None:
        self.half = limit // 2
        self.head = bytearray()
        self.tail = bytearray()
        self.lock = threading.Lock()

    def add(self, data: bytes) -> None:
        with self.lock:
            room = self.half - len(self.head)
            if room > 0:
                self.head += data[:room]
                data = data[room:]
            if data:
                self.tail += data
                if len(self.tail) > 2 * self.half:
                    del self.tail[: len(self.tail) - self.half]

    def data(self) -> bytes:
        tail = bytes(self.tail[-self.half :])
        return bytes(self.head) + (b"\n" if tail and self.head and not self.head.endswith(b"\n") else b"") + tail


def _pump(source: IO[bytes], sink: IO[Any], capture: _Capture) -> None:
    fd = source.fileno()
    out: IO[Any] = getattr(sink, "buffer", sink)  # the bytes under a text stream; a replaced one may be binary
    while True:
        try:
            data = os.read(fd, CHUNK)
        except OSError:
            break
        if not data:
            break
        try:
            out.write(data)
            out.flush()
        except (OSError, ValueError):
            pass  # our own output went away (| head): keep draining so the child does not block
        capture.add(data)


def run(args: argparse.Namespace) -> int:
    argv = list(args.argv)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        raise UsageError("nothing to run: preflight run -- CMD [ARG...]")
    spec = host_spec_from_args(args)
    given_host = None
    if spec.describes_another_host:
        from gpu_preflight.probe.hostspec import resolve_host

        given_host = resolve_host(spec, db=args.db)  # a typo in a HOST flag is reported before anything runs
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    try:
        child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, bufsize=0)
    except OSError as exc:
        sys.stderr.write(f"preflight: cannot run {argv[0]!r}: {exc.strerror or exc}\n")
        return 127
    # One capture per stream: interleaved chunks would split lines ("...on the device" + "hello\n").
    captures = (_Capture(KEEP_BYTES // 2), _Capture(KEEP_BYTES // 2))
    pumps = [
        threading.Thread(target=_pump, args=(child.stdout, sys.stdout, captures[0]), daemon=True),
        threading.Thread(target=_pump, args=(child.stderr, sys.stderr, captures[1]), daemon=True),
    ]
    for pump in pumps:
        pump.start()
    try:
        code = child.wait()
    except KeyboardInterrupt:  # the child got the same SIGINT from the terminal; let it finish
        code = child.wait()
    for pump in pumps:
        pump.join()
    if code < 0:
        code = 128 - code  # killed by signal N: the shell's 128 + N
    if code != 0:
        out, err = (c.data() for c in captures)
        output = out + (b"\n" if out and not out.endswith(b"\n") else b"") + err
        _explain_failure(output, spec, given_host, db=args.db, as_json=args.json)
    return code


def _explain_failure(data: bytes, spec: HostSpec, host: Host | None, db: str | None, as_json: bool) -> None:
    """Explain the failed command's output on stderr; ``host`` is the one the HOST flags gave,
    or None: this machine is then probed, only when a cause was found to make specific."""
    from gpu_preflight.explain import explain_bytes
    from gpu_preflight.probe.hostspec import resolve_host

    try:
        explanation = explain_bytes(data, host=host, db=db, origin="the command's output")
    except UsageError:
        return  # binary output: nothing to explain
    if explanation.causes and host is None:
        try:
            host = resolve_host(spec, db=db)
        except Exception:  # noqa: BLE001 - a failed probe must not hide the command's own exit code
            host = None
        if host is not None:
            explanation = explain_bytes(data, host=host, db=db, origin="the command's output")
    sys.stdout.flush()
    if as_json:
        stdout, sys.stdout = sys.stdout, sys.stderr
        try:
            emit_json(explanation.to_dict())
        finally:
            sys.stdout = stdout
        return
    from gpu_preflight.explain.render import render_explanation

    sys.stderr.write("\n--- preflight: why the command failed ---\n")
    sys.stderr.write(render_explanation(explanation, "the command's output"))
