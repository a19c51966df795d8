"""The plan: the fewest actions that clear every failure and warning they can, first the one
driver that satisfies every driver floor at once, then each remaining fix once.

A host with three failures used to get three fixes naming three branches; the plan names one
driver (the highest floor, on the branch driver_advice recommends) and proves it: the checks run
again on the host with that driver (a what-if, as ``--assume-driver`` does) and the step lists
exactly the findings that then no longer fail or warn. Other fixes cannot be replayed, so their
steps say they are not verified.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from gpu_preflight.checks.context import CheckContext
from gpu_preflight.checks.driver_advice import branch_for, install_advice
from gpu_preflight.checks.fixes import DriverFix
from gpu_preflight.core.findings import Finding, Severity
from gpu_preflight.core.versions import Version

FindingKey = tuple[str, int | None]  # (code, device): what "the same finding" means across a what-if


@dataclass(frozen=True)
class PlanStep:
    action: str  # one line a person follows
    kind: str  # "driver" | "fix"
    clears: tuple[FindingKey, ...]  # the failures and warnings this step removes
    commands: tuple[str, ...] = ()
    verified: bool = False  # True: the checks were run again as if the step was done
    introduces: tuple[FindingKey, ...] = ()  # failures the what-if shows that were not there before

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "kind": self.kind,
            "clears": [{"code": code, "device": device} for code, device in self.clears],
            "commands": list(self.commands),
            "verified": self.verified,
            "introduces": [{"code": code, "device": device} for code, device in self.introduces],
        }


def make_plan(
    ctx: CheckContext, findings: list[Finding], run: Callable[[CheckContext], list[Finding]]
) -> list[PlanStep]:
    """The plan for ``findings`` (what ``run`` found on ``ctx``); [] when nothing fails or warns."""
    problems = [f for f in findings if f.severity >= Severity.WARN]
    if not problems:
        return []
    steps: list[PlanStep] = []
    left = problems
    driver_step = _driver_step(ctx, problems, run)
    if driver_step is not None:
        steps.append(driver_step)
        cleared = Counter(driver_step.clears)
        left = []
        for finding in problems:
            key = _key(finding)
            if cleared[key] > 0:
                cleared[key] -= 1
            else:
                left.append(finding)
    by_fix: dict[str, list[FindingKey]] = {}
    for finding in left:
        fix = next((fix for fix in finding.fix if not isinstance(fix, DriverFix)), None)
        if fix is not None:
            by_fix.setdefault(fix, []).append(_key(finding))
    steps += [PlanStep(action=fix, kind="fix", clears=tuple(keys)) for fix, keys in by_fix.items()]
    return steps


def _driver_step(
    ctx: CheckContext, problems: list[Finding], run: Callable[[CheckContext], list[Finding]]
) -> PlanStep | None:
    floors = [fix for f in problems for fix in f.fix if isinstance(fix, DriverFix)]
    if not floors:
        return None
    highest = max(floors, key=lambda fix: fix.minimum)
    choice = branch_for(ctx, highest)
    branch = choice.branch
    # The driver the what-if installs: the floor itself, or the recommended branch's first number
    # when that branch is newer (any of its drivers is above every floor of older branches).
    driver = highest.minimum if branch == highest.branch else Version.of(branch, 0)
    after = _what_if(ctx, driver, run)
    before_keys = Counter(_key(f) for f in problems)
    after_keys = Counter(_key(f) for f in after if f.severity >= Severity.WARN)
    clears = tuple((before_keys - after_keys).elements())
    introduces = tuple((after_keys - before_keys).elements())
    advice = install_advice(ctx.kb, ctx.host, branch, ctx.visible_gpus)
    how = f"; {advice.system}: {advice.note}" if advice.system and not advice.commands else ""
    return PlanStep(
        action=f"Install NVIDIA driver {highest.exact} ({choice.words}{how}), then reboot",
        kind="driver",
        clears=clears,
        commands=advice.commands,
        verified=True,
        introduces=introduces,
    )


def _what_if(ctx: CheckContext, driver: Version, run: Callable[[CheckContext], list[Finding]]) -> list[Finding]:
    from gpu_preflight.probe.hostspec import assume_driver

    host = copy.deepcopy(ctx.host)
    assume_driver(host, driver, ctx.kb)
    return run(replace(ctx, host=host))


def _key(finding: Finding) -> FindingKey:
    return (finding.code, finding.device)
