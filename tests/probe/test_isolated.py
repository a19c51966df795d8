"""Anything that can hang or crash runs isolated and reports instead of raising."""

from __future__ import annotations

import sys
import time

from gpu_preflight.probe.isolated import run_isolated


def test_success():
    outcome = run_isolated([sys.executable, "-c", "print('hi')"], timeout=30)
    assert outcome.ok and outcome.stdout.strip() == "hi"


def test_hang_is_killed_with_its_children():
    started = time.monotonic()
    outcome = run_isolated(
        [sys.executable, "-c", "import subprocess, time; subprocess.Popen(['sleep', '60']); time.sleep(60)"],
        timeout=0.5,
    )
    assert outcome.timed_out and outcome.returncode is None
    assert time.monotonic() - started < 10
    assert "did not finish" in outcome.describe_failure()


def test_crash_names_the_signal():
    outcome = run_isolated([sys.executable, "-c", "import os; os.abort()"], timeout=30)
    assert outcome.crashed_by == "SIGABRT"
    assert "crashed (SIGABRT)" in outcome.describe_failure()


def test_missing_program():
    outcome = run_isolated(["/nonexistent/nvidia-smi", "-q"], timeout=5)
    assert not outcome.ok and outcome.start_error
    assert outcome.describe_failure().startswith("nvidia-smi could not be started")


def test_failure_quotes_the_last_line():
    outcome = run_isolated(
        [
            sys.executable,
            "-c",
            "import sys; sys.stderr.write('a\\nFailed to initialize NVML: Driver/library version mismatch\\n'); "
            "sys.exit(18)",
        ],
        timeout=30,
    )
    assert outcome.describe_failure().endswith(
        "exited with 18: Failed to initialize NVML: Driver/library version mismatch"
    )
