"""`preflight run`: the command's process group, the signals passed on to it, and the end of a
command that leaves a process behind. Real processes; the timeouts only guard against a hang."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from support.paths import ROOT

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups and signals")

HANG_GUARD_S = 120


def _as_in_a_terminal() -> None:
    """SIGINT as a foreground job has it: a background job of a non-interactive shell (pytest
    started with ``&``) inherits it ignored, and preflight would rightly pass that on."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(*command: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), NO_COLOR="1")
    env.pop("PREFLIGHT_DEBUG", None)
    return subprocess.Popen(
        [sys.executable, "-m", "gpu_preflight", "run", "--", *command],
        stdin=subprocess.DEVNULL,  # not a terminal: the command gets a process group of its own
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=_as_in_a_terminal,
    )


def _gone(pid: int) -> bool:
    """Ended: no such process, or a zombie nobody has reaped yet (PID 1 of a container may not)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True
    except OSError:
        os.kill(pid, 0)  # no /proc: raises once it is gone
        return False


def _wait_gone(pid: int) -> bool:
    deadline = time.monotonic() + HANG_GUARD_S
    while time.monotonic() < deadline:
        try:
            if _gone(pid):
                return True
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def _kill_group(pgid: int) -> None:
    if pgid <= 1:
        return
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


def test_a_background_grandchild_does_not_keep_run_waiting():
    # The shell prints its pid (its process group's id) and exits 1, leaving `sleep` running with
    # our pipes open; before, run waited for the pipes' end, i.e. for the sleep.
    proc = _start("sh", "-c", "echo $$; echo on-stderr >&2; sleep 300 & exit 1")
    try:
        out, err = proc.communicate(timeout=HANG_GUARD_S)
    finally:
        proc.kill()
    pgid = int(out.split()[0])
    _kill_group(pgid)
    assert proc.returncode == 1
    assert "on-stderr" in err  # what was written before the exit is all passed on
    assert "why the command failed" in err


def test_output_written_just_before_the_exit_is_all_passed_on():
    proc = _start(sys.executable, "-c", "import sys; sys.stdout.write('x' * 3_000_000); sys.exit(4)")
    out, _ = proc.communicate(timeout=HANG_GUARD_S)
    assert proc.returncode == 4
    assert out == "x" * 3_000_000


# The command: Python, not a shell. A shell that gets SIGINT between two commands may note it
# and go on to the next one (dash does), which is the shell's business, not what is tested here.
PARENT = """
import subprocess, sys, time
helper = subprocess.Popen(["sleep", "300"])
print(helper.pid, flush=True)
time.sleep(300)
print("not-reached", flush=True)
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name)
def test_a_signal_to_preflight_reaches_the_command_and_its_children(sig):
    # Before, SIGTERM and SIGHUP to preflight orphaned the command, and SIGINT to preflight alone
    # (not to the terminal's group) left preflight waiting for it forever.
    proc = _start(sys.executable, "-c", PARENT)
    helper = 0
    try:
        assert proc.stdout is not None
        helper = int(proc.stdout.readline())
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=HANG_GUARD_S)
        assert proc.returncode == 128 + sig  # the command was ended by that signal: 128 + N
        assert "not-reached" not in out
        assert "why the command failed" not in err  # stopped on purpose: nothing to explain
        assert "gpu_preflight" not in err and "internal error" not in err  # the command's own traceback only
        assert _wait_gone(helper)  # the command's own child got it too: the whole group did
    finally:
        proc.kill()
        if helper:
            _kill_group(os.getpgid(helper) if not _gone_quietly(helper) else 0)


def _gone_quietly(pid: int) -> bool:
    try:
        return _gone(pid)
    except ProcessLookupError:
        return True


def test_a_signal_during_the_start_is_not_lost():
    # SIGTERM at once, maybe before the command has started: either way preflight ends, and
    # never leaves the command behind.
    proc = _start("sh", "-c", "echo $$; sleep 300")
    proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=HANG_GUARD_S)
    finally:
        proc.kill()
    assert proc.returncode in (128 + signal.SIGTERM, -signal.SIGTERM)  # passed on, or before the handler
    if out.split():
        pgid = int(out.split()[0])
        assert _wait_gone(pgid)


def _in_a_terminal() -> None:
    """The child's own session with the pty as its controlling terminal: preflight is then the
    terminal's foreground job, as when a person types the command."""
    import fcntl
    import termios

    _as_in_a_terminal()
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _read_until(fd: int, marker: bytes) -> bytes:
    import select

    seen = b""
    deadline = time.monotonic() + HANG_GUARD_S
    while marker not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: every process on the terminal has closed it
                break
            if not chunk:
                break
            seen += chunk
    return seen


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a pseudo-terminal as controlling terminal")
def test_in_a_terminal_the_command_reads_it_and_ctrl_c_reaches_it_once():
    # The command asks the terminal for a line (a background group would be stopped by SIGTTIN),
    # then waits: Ctrl-C typed on the terminal ends it, without a second SIGINT from preflight
    # (the handler counts them) and without an explanation.
    script = (
        "import signal, sys, time\n"
        "hits = []\n"
        "signal.signal(signal.SIGINT, lambda *_: hits.append(1))\n"
        "line = input('name? ')\n"
        "print('got', line, flush=True)\n"
        "while not hits: time.sleep(0.05)\n"
        "time.sleep(0.5)\n"
        "print('sigints', len(hits), flush=True)\n"
        "sys.exit(7)\n"
    )
    main, child = os.openpty()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), NO_COLOR="1")
    env.pop("PREFLIGHT_DEBUG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gpu_preflight", "run", "--", sys.executable, "-c", script],
        stdin=child,
        stdout=child,
        stderr=child,
        env=env,
        preexec_fn=_in_a_terminal,
    )
    os.close(child)
    try:
        assert b"name? " in _read_until(main, b"name? ")
        os.write(main, b"gpu\n")
        assert b"got gpu" in _read_until(main, b"got gpu")
        os.write(main, b"\x03")  # Ctrl-C, as typed
        rest = _read_until(main, b"sigints")
        rest += _read_until(main, b"\n")
        assert proc.wait(timeout=HANG_GUARD_S) == 7
        assert b"sigints 1" in rest
        assert b"why the command failed" not in rest + _read_until(main, b"never")
    finally:
        proc.kill()
        os.close(main)


@pytest.mark.parametrize("pidfd", [True, False], ids=["pidfd", "polling"])
def test_relay_ends_at_the_childs_exit_with_and_without_pidfd(monkeypatch, pidfd):
    import io

    from gpu_preflight.cli.commands.run import _Capture, _relay

    if not pidfd:
        monkeypatch.delattr(os, "pidfd_open", raising=False)  # kernels before 5.3
    proc = subprocess.Popen(
        ["sh", "-c", "echo $$; echo err >&2; sleep 300 & exit 5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    out, err = io.BytesIO(), io.BytesIO()
    try:
        assert proc.stdout is not None and proc.stderr is not None
        _relay(proc, [(proc.stdout, out, _Capture()), (proc.stderr, err, _Capture())])
        assert proc.wait(timeout=HANG_GUARD_S) == 5
    finally:
        proc.kill()
        _kill_group(proc.pid)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert out.getvalue().strip() == str(proc.pid).encode() and err.getvalue() == b"err\n"
