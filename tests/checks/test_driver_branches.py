"""A driver's branch, as every check reads it: a Linux driver is numbered by its branch (550.54.15 is
R550), a Windows driver runs ahead of it (facts §1b lists Windows 551.78 under R550, 536.25 under
R535, 472.50 under R470). The branch, not the number, decides which GPUs a driver supports (facts §2:
R470 is Kepler's last branch, R580 that of Maxwell, Pascal and Volta).

These rows are kept apart from test_scenarios.SCENARIOS, which scripts/compare_doctor.py replays
case by case."""

from __future__ import annotations

import pytest

from support.scenarios import GTX1080, K80, F, NotSays, Says, Scenario, describe, host, run_doctor, verify

ROWS = [
    # facts §1b: CUDA 11.4 Update 3/4 needs Windows >= 472.50, branch R470; §2: R470 is Kepler's last.
    Scenario(
        "windows-472.50-is-r470-and-drives-kepler",
        host("472.50", K80, platform="windows"),
        "pass",
        cuda=("11.4",),
        must=(F("gpu", "pass", 0), F("driver-runtime", "pass")),
        must_not=(F("gpu-too-old"),),
        checks=(Says("driver", r"\bR470\b"), NotSays("*", r"\bR472\b")),
    ),
    # facts §2: R580 is the last branch for Pascal; a Windows R580 driver is numbered above 580.
    Scenario(
        "windows-r580-driver-still-drives-pascal",
        host("581.57", GTX1080, platform="windows"),
        "pass",
        cuda=("12.4",),
        must=(F("gpu", "pass", 0),),
        must_not=(F("gpu-too-old"),),
        checks=(Says("driver", r"\bR580\b"), NotSays("*", r"\bR581\b")),
    ),
    # The same numbers on Linux are branches of their own: R581 is past Pascal's last branch.
    Scenario(
        "linux-581-is-past-pascals-last-branch",
        host("581.57", GTX1080, platform="linux"),
        "fail",
        must=(F("gpu-too-old", "fail", 0),),
        checks=(Says("gpu-too-old", r"\bR581\b"),),
    ),
]


@pytest.mark.parametrize("scenario", ROWS, ids=[s.id for s in ROWS])
def test_branch_not_number(scenario: Scenario, tmp_path) -> None:
    report = run_doctor(scenario.host, tmp_path, scenario.torch, scenario.cuda, scenario.requirements)
    problems = verify(scenario, report)
    assert not problems, "\n".join(problems) + "\n--- report ---\n" + describe(report)
