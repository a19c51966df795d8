"""``doctor``: run every check over a host and collect the report (gpu-preflight/report/v1)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gpu_preflight.checks import (
    builds,
    container,
    cuda_versions,
    data_age,
    deep,
    driver,
    driver_support,
    environment,
    gpus,
    memory,
    toolchain,
    toolkit,
)
from gpu_preflight.checks.context import Check, CheckContext
from gpu_preflight.checks.fixes import DriverFix
from gpu_preflight.core.findings import Finding, Severity, overall_status
from gpu_preflight.core.host import Host
from gpu_preflight.targets.model import Targets

if TYPE_CHECKING:  # annotations only: images, fit and the plan load when asked for
    from gpu_preflight.checks.plan import PlanStep
    from gpu_preflight.fit.plan import MemoryPlan
    from gpu_preflight.images.resolve import ImageFacts

SCHEMA = "gpu-preflight/report/v1"


def check_images(ctx: CheckContext) -> list[Finding]:
    """--image / --dockerfile / --require-cuda: the image gate, imported only when asked for."""
    if not (ctx.images or ctx.require_cuda):
        return []
    from gpu_preflight.checks import image_gate

    return image_gate.check_images(ctx)


def check_engines(ctx: CheckContext) -> Iterable[Finding]:
    """Engine targets and engine images: checks/engines.py, imported only when there are some."""
    if not (ctx.engines or any(image.engine is not None for image in ctx.images)):
        return []
    from gpu_preflight.checks import engines

    return engines.check_engines(ctx)


# In the order a reader scans the checklist: driver, GPUs, builds, container, memory, toolkit.
CHECKS: tuple[Check, ...] = (
    driver.check_driver,
    driver_support.check_driver_support,
    environment.check_visible_devices,
    gpus.check_gpus,
    builds.check_builds,
    check_engines,
    container.check_container_requirement,
    check_images,
    memory.check_model_memory,
    deep.check_deep_probe,
    toolkit.check_toolkits,
    toolchain.check_toolchain,
    cuda_versions.check_cuda_versions,
    data_age.check_data_age,
)


def run_checks(context: CheckContext) -> list[Finding]:
    return [finding for check in CHECKS for finding in check(context)]


@dataclass
class Report:
    host: Host
    findings: list[Finding]
    targets: list[dict[str, Any]] = field(default_factory=list)
    plan: list[PlanStep] = field(default_factory=list)  # the fewest actions that clear the problems

    @property
    def status(self) -> str:
        return overall_status(self.findings)

    def exit_code(self, strict: bool = False) -> int:
        worst = max((f.severity for f in self.findings), default=Severity.PASS)
        return 1 if worst == Severity.FAIL or (strict and worst == Severity.WARN) else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "status": self.status,
            "host": self.host.to_dict(),
            "targets": self.targets,
            "findings": [f.to_dict() for f in self.findings],
            "plan": [step.to_dict() for step in self.plan],
        }


def diagnose(
    host: Host,
    targets: Targets | None = None,
    db: str | None = None,
    model_plan: MemoryPlan | None = None,
    images: tuple[ImageFacts, ...] = (),
    require_cuda: tuple[str, ...] = (),
    container_mode: str | None = None,
    with_plan: bool = True,
) -> Report:
    """Judge ``host`` for ``targets`` (a Targets; None or empty: what is installed) and, with
    a fit ``MemoryPlan``, for the model's memory. ``with_plan``: also work out the plan (it runs
    the checks once more, as a what-if of its driver step)."""
    items = tuple(targets or ())
    context = CheckContext(
        host=host,
        db=db,
        targets=items,
        model_plan=model_plan,
        images=tuple(images),
        require_cuda=tuple(require_cuda),
        container_mode=container_mode,
        engines=targets.engines if isinstance(targets, Targets) else (),
    )
    findings = run_checks(context)
    if any(isinstance(fix, DriverFix) for f in findings for fix in f.fix):
        from gpu_preflight.checks.driver_advice import word_driver_fixes

        findings = word_driver_fixes(context, findings)
    plan: list[PlanStep] = []
    if with_plan and any(f.severity >= Severity.WARN for f in findings):  # else there is nothing to plan
        from gpu_preflight.checks.plan import make_plan

        plan = make_plan(context, findings, run_checks)
    # Failures first, then warnings, then the rest; stable within a severity.
    findings.sort(key=lambda f: -f.severity)
    listed = targets.to_list() if isinstance(targets, Targets) else []  # with its engines, even alone
    listed += [image.to_dict() for image in images]
    listed += [{"kind": "require-cuda", "value": text} for text in require_cuda]
    return Report(host=host, findings=findings, targets=listed, plan=plan)
