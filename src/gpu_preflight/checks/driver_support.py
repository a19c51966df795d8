"""Whether NVIDIA still maintains the driver branch this host runs (driver_branches.toml's
lifecycle): an ended branch gets no more security or bug fixes, though what runs today keeps
running, so it is said (info), not failed."""

from __future__ import annotations

from collections.abc import Iterator

from gpu_preflight.checks.context import CheckContext
from gpu_preflight.core.findings import Finding, Severity
from gpu_preflight.core.versions import Version


def check_driver_support(ctx: CheckContext) -> Iterator[Finding]:
    driver = Version.parse_or_none(ctx.host.driver.version)
    if driver is None or ctx.host.os_ids()[:1] == ("wsl",):
        return
    branch = ctx.kb.driver_branch(driver, ctx.driver_platform)
    if branch is None or not branch.known:
        return
    # Only a host with a known driver branch needs the lifecycle and the advice on branches.
    from gpu_preflight.checks.driver_advice import choose_branch
    from gpu_preflight.knowledge.driver_lifecycle import lifecycle

    life = lifecycle(branch)
    if not life.ended(ctx.today) or life.end_of_life is None:
        return
    choice = choose_branch(ctx.kb, ctx.visible_gpus, branch.branch, ctx.today)
    move = (
        f"Move to {choice.named} when convenient: it runs everything R{branch.branch} runs."
        if choice.branch != branch.branch
        else "No maintained branch supports every GPU here; keep it, knowing it gets no more fixes."
    )
    yield Finding(
        code="driver-branch-end-of-life",
        severity=Severity.INFO,
        title=f"Driver branch R{branch.branch} reached its end of life ({life.end_of_life:%b %Y})",
        detail="NVIDIA no longer ships security or bug fixes for it; what runs today keeps running.",
        evidence={"driver": str(driver), "branch": branch.branch, "lifecycle": branch.lifecycle},
        fix=[move],
    )
