"""Run something that can hang or crash (nvidia-smi on a wedged GPU, CUDA init, importing torch)
in its own process group with a timeout, and report what happened instead of raising."""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass

MAX_OUTPUT = 64 * 1024 * 1024


@dataclass(frozen=True)
class Outcome:
    argv: tuple[str, ...]
    returncode: int | None  # None when it never started or was killed for the timeout
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    start_error: str | None = None  # why it could not be started (not found, not executable)

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def crashed_by(self) -> str | None:
        """The signal's name when the process died of one (segfault, abort)."""
        if self.returncode is not None and self.returncode < 0:
            try:
                return signal.Signals(-self.returncode).name
            except ValueError:
                return f"signal {-self.returncode}"
        return None

    def describe_failure(self) -> str:
        name = os.path.basename(self.argv[0]) if self.argv else "command"
        if self.start_error:
            return f"{name} could not be started: {self.start_error}"
        if self.timed_out:
            return f"{name} did not finish within its timeout (hung?)"
        if self.crashed_by:
            return f"{name} crashed ({self.crashed_by})"
        last = (self.stderr.strip() or self.stdout.strip()).splitlines()[-1:] or [""]
        return f"{name} exited with {self.returncode}: {last[0][:300]}".rstrip(": ")


def run_isolated(
    argv: list[str], timeout: float, env: dict[str, str] | None = None, stdin: str | None = None
) -> Outcome:
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,  # so a timeout can kill the whole group, children included
        )
    except OSError as exc:
        return Outcome(tuple(argv), None, start_error=exc.strerror or str(exc))
    try:
        out, err = proc.communicate(stdin.encode() if stdin is not None else None, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        return Outcome(tuple(argv), None, _text(out), _text(err), timed_out=True)
    return Outcome(tuple(argv), proc.returncode, _text(out), _text(err))


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()


def _text(data: bytes | None) -> str:
    return (data or b"")[:MAX_OUTPUT].decode("utf-8", errors="replace")
