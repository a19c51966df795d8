"""How the command line ends when the user stops it or its reader goes away: Ctrl-C is 130 and
one line, a closed pipe (``| head``) is silent, and a bug stays exit 3, never "bad input"."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gpu_preflight.cli import main as cli_main
from gpu_preflight.core.errors import UsageError

from support.paths import ROOT


def _failing_with(monkeypatch, exc: BaseException) -> None:
    def run(_args):
        raise exc

    monkeypatch.setattr(cli_main, "_run", run)


def test_ctrl_c_is_130_and_one_line(monkeypatch, capsys):
    _failing_with(monkeypatch, KeyboardInterrupt())
    assert cli_main.main(["db"]) == 130
    assert capsys.readouterr().err == "preflight: interrupted\n"


def test_a_usage_error_is_2_and_one_line(monkeypatch, capsys):
    _failing_with(monkeypatch, UsageError("x.json: not JSON"))
    assert cli_main.main(["db"]) == 2
    assert capsys.readouterr().err == "preflight: error: x.json: not JSON\n"


@pytest.mark.parametrize("exc", [ValueError("bug"), KeyError("bug"), RecursionError("bug")])
def test_a_bug_stays_exit_3(monkeypatch, capsys, exc):
    monkeypatch.delenv("PREFLIGHT_DEBUG", raising=False)
    _failing_with(monkeypatch, exc)
    assert cli_main.main(["db"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("preflight: internal error: ") and err.count("\n") == 1


@pytest.mark.skipif(sys.platform == "win32", reason="os.pipe semantics")
@pytest.mark.parametrize("args", [["db"], ["db", "--json"], ["--help"], ["doctor", "--assume-gpu", "Tesla T4"]])
def test_a_reader_that_went_away_is_silent(args):
    read_end, write_end = os.pipe()
    os.close(read_end)  # `| head` that has already stopped reading
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    env.pop("PREFLIGHT_DEBUG", None)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "gpu_preflight", *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert proc.stderr == ""
    assert proc.returncode in (0, 1)  # never 120 (a failed flush at exit) nor 3
