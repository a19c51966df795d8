"""``preflight run -- CMD ...``: run a command, pass its output through live, explain a failure.

The command's stdout and stderr go straight to ours as they arrive (unbuffered; Python children
get PYTHONUNBUFFERED=1 so they write line by line). A copy of the output is kept, bounded, and
when the command fails it is explained against this machine, probed live (or the HOST given),
on stderr so the command's stdout stays clean. The exit code is the command's own (128 + N when
a signal N ended it); a command that cannot be started gives one line and 127, as a shell does.

preflight is done when the command exits: it then passes on what is already in the pipes and
does not wait for their end, which a process the command left in the background may hold off for
ever. SIGINT, SIGTERM and SIGHUP sent to preflight are passed on to the command's process group
(``_Child``), and a command stopped that way is not explained.
"""

from __future__ import annotations

import argparse
import os
import selectors
import signal
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


FORWARDED = ("SIGINT", "SIGTERM", "SIGHUP")  # passed on to the command (those this platform has)
DRAIN_LIMIT = 16 * 1024 * 1024  # at the child's exit, at most this much more is read from each pipe


def _write(sink: IO[Any], data: bytes) -> None:
    out: IO[Any] = getattr(sink, "buffer", sink)  # the bytes under a text stream; a replaced one may be binary
    try:
        out.write(data)
        out.flush()
    except (OSError, ValueError):
        pass  # our own output went away (| head): keep draining so the child does not block


class _Child:
    """The command, in its own process group where it can have one, with the signals that end
    preflight passed on to that group.

    Why a group of its own: a signal sent to preflight alone (``kill PID``, a supervisor's SIGTERM,
    SIGHUP when the session ends, SIGINT from a script) must reach the command and what it
    started, not orphan them or leave preflight waiting.
    The exception is preflight in the foreground of a terminal: the command stays in preflight's
    group, the terminal's foreground one, so that it can read the terminal (a background group
    that does, even through /dev/tty for a password, is stopped by SIGTTIN) and Ctrl-C and Ctrl-Z
    reach it directly. SIGTERM and SIGHUP are then passed to the command itself, and SIGINT is
    not passed on: the terminal's Ctrl-C has reached the command already, and a second one means
    "stop at once" to many programs."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.own_group = os.name == "posix" and not _terminal_foreground()
        self.received: int | None = None  # the last signal passed on
        self._pending: list[int] = []
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        """Catch the signals to pass on before the command starts: one that arrives while it
        starts is passed on as soon as it has (not lost, not killing preflight alone)."""
        for name in FORWARDED:
            number = getattr(signal, name, None)
            if number is None:
                continue
            previous = signal.getsignal(number)
            if previous == signal.SIG_IGN:
                continue  # ignored on entry (a background job's SIGINT): the command inherits that
            self._previous[number] = previous
            signal.signal(number, self._forward)

    def restore(self) -> None:
        for number, previous in self._previous.items():
            signal.signal(number, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()

    def start(self, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        group: dict[str, Any] = {}
        if self.own_group:
            # process_group keeps the terminal session (a password prompt on /dev/tty still works);
            # Python 3.10 has only a new session.
            group = {"process_group": 0} if sys.version_info >= (3, 11) else {"start_new_session": True}
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, bufsize=0, **group)
        pending, self._pending = self._pending, []
        for number in pending:
            self._send(number)
        return self.proc

    def _forward(self, number: int, _frame: Any) -> None:
        self.received = number
        if not self.own_group and number == signal.SIGINT:
            return  # the terminal's Ctrl-C reached the command too (see above)
        if self.proc is None:
            self._pending.append(number)
        else:
            self._send(number)

    def _send(self, number: int) -> None:
        assert self.proc is not None
        if self.proc.returncode is not None:
            return
        try:
            if self.own_group:
                os.killpg(self.proc.pid, number)  # the group is the child's pid (it may have exited, the group not)
            else:
                self.proc.send_signal(number)
        except OSError:
            pass  # gone already


def _terminal_foreground() -> bool:
    """Whether preflight runs in the foreground process group of its controlling terminal."""
    try:
        tty = os.open("/dev/tty", os.O_RDONLY | getattr(os, "O_NOCTTY", 0))
    except OSError:
        return False  # no controlling terminal: CI, a service, a container without -t
    try:
        return os.tcgetpgrp(tty) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(tty)


def _relay(child: subprocess.Popen[bytes], streams: list[tuple[IO[bytes], IO[Any], _Capture]]) -> None:
    """Pass the child's output through until the child exits, then what is already in the pipes.
    It does not wait for the end of the pipes: a process the command left running in the
    background ("sleep 20 &") holds them open, and preflight would wait for it."""
    if os.name != "posix":  # no select() on Windows pipes: a thread per stream, to their end
        _relay_to_the_end(child, streams)
        return
    selector = selectors.DefaultSelector()
    for source, sink, capture in streams:
        selector.register(source.fileno(), selectors.EVENT_READ, (sink, capture))
    exited = _exit_notice(child)
    if exited is not None:
        selector.register(exited, selectors.EVENT_READ, None)
    try:
        while len(selector.get_map()) > (exited is not None):
            ready = selector.select(timeout=None if exited is not None else 0.1)
            if child.poll() is not None:
                break
            for key, _ in ready:
                if key.data is not None and not _pass_on(key.fd, *key.data):
                    selector.unregister(key.fd)
        for key in list(selector.get_map().values()):  # the child has exited: what it left in the pipes
            if key.data is None:
                continue
            os.set_blocking(key.fd, False)
            drained = 0
            while drained < DRAIN_LIMIT:
                try:
                    passed = _pass_on(key.fd, *key.data)
                except BlockingIOError:
                    break
                if not passed:
                    break
                drained += passed
    finally:
        selector.close()
        if exited is not None:
            os.close(exited)


def _relay_to_the_end(child: subprocess.Popen[bytes], streams: list[tuple[IO[bytes], IO[Any], _Capture]]) -> None:
    def pump(source: IO[bytes], sink: IO[Any], capture: _Capture) -> None:
        while _pass_on(source.fileno(), sink, capture):
            pass

    threads = [threading.Thread(target=pump, args=stream, daemon=True) for stream in streams]
    for thread in threads:
        thread.start()
    child.wait()
    for thread in threads:
        thread.join()


def _exit_notice(child: subprocess.Popen[bytes]) -> int | None:
    """A file descriptor that becomes readable when the child exits (Linux 5.3+), or None:
    then the loop looks every tenth of a second."""
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is None:
        return None
    try:
        fd: int = pidfd_open(child.pid)
    except OSError:
        return None
    return fd


def _pass_on(fd: int, sink: IO[Any], capture: _Capture) -> int:
    """Read one chunk and pass it on; the number of bytes, 0 at the end of the stream."""
    try:
        data = os.read(fd, CHUNK)
    except BlockingIOError:
        raise
    except OSError:
        return 0
    if data:
        _write(sink, data)
        capture.add(data)
    return len(data)


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
    # One capture per stream: interleaved chunks would split lines ("...on the device" + "hello\n").
    captures = (_Capture(KEEP_BYTES // 2), _Capture(KEEP_BYTES // 2))
    child = _Child()
    child.install()
    try:
        try:
            proc = child.start(argv, env)
        except OSError as exc:
            sys.stderr.write(f"preflight: cannot run {argv[0]!r}: {exc.strerror or exc}\n")
            return 127
        assert proc.stdout is not None and proc.stderr is not None
        with proc.stdout, proc.stderr:
            _relay(proc, [(proc.stdout, sys.stdout, captures[0]), (proc.stderr, sys.stderr, captures[1])])
            code = proc.wait()  # the signals passed on can still arrive: the handlers stay until it has ended
    finally:
        child.restore()
    if code < 0:
        code = 128 - code  # killed by signal N: the shell's 128 + N
    if code != 0 and child.received is None:  # a command stopped by the user has nothing to explain
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
