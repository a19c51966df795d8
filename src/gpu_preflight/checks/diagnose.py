"""``doctor``: run every check over a host and collect the report (gpu-preflight/report/v1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gpu_preflight.checks import (
    builds,
    container,
    cuda_versions,
    deep,
    driver,
    environment,
    gpus,
    memory,
    toolkit,
)
from gpu_preflight.checks.context import Check, CheckContext
from gpu_preflight.core.findings import Finding, Severity, overall_status
from gpu_preflight.core.host import Host

if TYPE_CHECKING:  # annotations only: images and fit load when asked for
    from gpu_preflight.fit.plan import MemoryPlan
    from gpu_preflight.images.resolve import ImageFacts
    from gpu_preflight.targets.model import Targets

SCHEMA = "gpu-preflight/report/v1"


def check_images(ctx: CheckContext) -> list[Finding]:
    """--image / --dockerfile / --require-cuda: the image gate, imported only when asked for."""
    if not (ctx.images or ctx.require_cuda):
        return []
    from gpu_preflight.checks import image_gate

    return image_gate.check_images(ctx)


# In the order a reader scans the checklist: driver, GPUs, builds, container, memory, toolkit.
CHECKS: tuple[Check, ...] = (
    driver.check_driver,
    environment.check_visible_devices,
    gpus.check_gpus,
    builds.check_builds,
    container.check_container_requirement,
    check_images,
    memory.check_model_memory,
    deep.check_deep_probe,
    toolkit.check_toolkits,
    cuda_versions.check_cuda_versions,
)


def run_checks(context: CheckContext) -> list[Finding]:
    return [finding for check in CHECKS for finding in check(context)]


@dataclass
class Report:
    host: Host
    findings: list[Finding]
    targets: list[dict[str, Any]] = field(default_factory=list)

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
        }


def diagnose(
    host: Host,
    targets: Targets | None = None,
    db: str | None = None,
    model_plan: MemoryPlan | None = None,
    images: tuple[ImageFacts, ...] = (),
    require_cuda: tuple[str, ...] = (),
    container_mode: str | None = None,
) -> Report:
    """Judge ``host`` for ``targets`` (a Targets; None or empty: what is installed) and, with
    a fit ``MemoryPlan``, for the model's memory."""
    items = tuple(targets or ())
    findings = run_checks(
        CheckContext(
            host=host,
            db=db,
            targets=items,
            model_plan=model_plan,
            images=tuple(images),
            require_cuda=tuple(require_cuda),
            container_mode=container_mode,
        )
    )
    # Failures first, then warnings, then the rest; stable within a severity.
    findings.sort(key=lambda f: -f.severity)
    listed = (targets.to_list() if targets else []) + [image.to_dict() for image in images]
    listed += [{"kind": "require-cuda", "value": text} for text in require_cuda]
    return Report(host=host, findings=findings, targets=listed)
