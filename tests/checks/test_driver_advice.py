"""Driver fixes worded for the host: a maintained branch, the GPUs' last branch, the OS's commands."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from gpu_preflight.checks.context import CheckContext
from gpu_preflight.checks.diagnose import run_checks
from gpu_preflight.checks.driver_advice import choose_branch, install_advice, word_driver_fixes
from gpu_preflight.checks.driver_support import check_driver_support
from gpu_preflight.core.versions import Version
from gpu_preflight.knowledge import load_knowledge
from gpu_preflight.probe.os_release import parse_os_release
from gpu_preflight.targets.specs import collect_targets

from support.scenarios import A100, GTX1080, K80, T4, host

TODAY = date(2026, 12, 6)
UBUNTU = parse_os_release('ID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n')
DEBIAN = parse_os_release('ID=debian\nVERSION_ID="12"\n')
ROCKY9 = parse_os_release('ID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n')
RHEL10 = parse_os_release('ID="rhel"\nID_LIKE="fedora"\nVERSION_ID="10.0"\n')


@pytest.fixture(scope="module")
def kb():
    return load_knowledge()


def _gpus(*specs):
    return host("470.82.01", *specs).gpus


def test_a_dead_feature_branch_is_never_advised(kb) -> None:
    # CUDA 11.8 needs >= 520.61.05: R520 is a short-lived feature branch; the advice is R580.
    choice = choose_branch(kb, _gpus(A100), 520, TODAY)
    assert choice.branch == 580 and "long-term support" in choice.words


def test_kepler_stays_on_its_last_branch(kb) -> None:
    # Kepler is supported up to R470: a maintained branch past it would not drive the GPU.
    assert choose_branch(kb, _gpus(K80), 450, TODAY).branch == 470


@pytest.mark.parametrize(
    ("os_fields", "gpus", "commands", "note"),
    [
        (UBUNTU, (T4,), ("sudo apt install nvidia-driver-580-open",), ""),
        # Pascal needs the proprietary flavour: the open kernel modules start at Turing.
        (UBUNTU, (GTX1080,), ("sudo apt install nvidia-driver-580",), ""),
        (ROCKY9, (A100,), ("sudo dnf module enable nvidia-driver:580-open", "sudo dnf install nvidia-open"), ""),
        (RHEL10, (A100,), ("sudo dnf versionlock '*nvidia*580*'", "sudo dnf install nvidia-open"), ""),
        # Debian: no branch package to name; never Ubuntu's apt line.
        (DEBIAN, (A100,), (), "NVIDIA's CUDA repository"),
        ({"wsl": "true", **UBUNTU}, (A100,), (), "never inside WSL"),
    ],
)
def test_install_commands_follow_the_os(kb, os_fields, gpus, commands, note) -> None:
    subject = host("470.82.01", *gpus)
    subject.platform = dict(os_fields)
    advice = install_advice(kb, subject, 580, subject.gpus)
    assert advice.commands == commands
    assert note in advice.line()
    assert "Ubuntu" not in advice.line() or os_fields is UBUNTU


def test_fixes_in_a_report_name_this_os(kb) -> None:
    subject = host("470.82.01", A100)
    subject.platform = dict(ROCKY9)
    ctx = CheckContext(host=subject, targets=tuple(collect_targets(torch=["2.9.0+cu130"])), today=TODAY)
    fixes = [fix for f in word_driver_fixes(ctx, run_checks(ctx)) for fix in f.fix if "Install NVIDIA driver" in fix]
    assert fixes and all("dnf module enable nvidia-driver:580-open" in fix for fix in fixes)
    assert not any("apt install" in fix for fix in fixes)


def test_an_ended_branch_is_said_not_failed(kb) -> None:
    ctx = CheckContext(host=host("535.104.05", A100), today=TODAY, _kb=kb)
    (finding,) = check_driver_support(ctx)
    assert finding.code == "driver-branch-end-of-life" and finding.severity.label == "info"
    assert "R580" in finding.fix[0]
    assert not list(check_driver_support(replace(ctx, today=date(2026, 1, 1))))
    assert Version.parse("535.104.05").major == 535


@pytest.mark.parametrize(
    ("os_fields", "said", "never"),
    [
        (UBUNTU, "sudo apt install nvidia-driver-580-open", "ubuntu-drivers"),
        (ROCKY9, "sudo dnf module enable nvidia-driver:580-open", "apt install"),
        (DEBIAN, "NVIDIA's CUDA repository", "apt install"),
    ],
)
def test_no_driver_and_no_floor_gets_a_maintained_branch_for_this_os(kb, os_fields, said, never) -> None:
    # No driver, no toolkit, no framework: nothing names a floor, so the advice is the oldest
    # branch NVIDIA maintains today, with this OS's commands (it was always Ubuntu's wording).
    subject = host(None)
    subject.platform = dict(os_fields)
    ctx = CheckContext(host=subject, today=TODAY, _kb=kb)
    fixes = [fix for f in word_driver_fixes(ctx, run_checks(ctx)) if f.code == "no-driver" for fix in f.fix]
    assert any("R580" in fix and said in fix for fix in fixes), fixes
    assert not any(never in fix for fix in fixes)
