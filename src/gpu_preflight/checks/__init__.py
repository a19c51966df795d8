"""Checks: pure functions of (host, knowledge) that yield findings. They never touch the machine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

from gpu_preflight.findings import Finding
from gpu_preflight.host import Host


@dataclass
class CheckContext:
    host: Host
    db: str | None = None
    targets: tuple = ()  # TorchTarget / CudaTarget; empty: judge what is installed
    model_plan: object = None  # a fit.MemoryPlan for --model
    images: tuple = ()  # images.ImageFacts of --image / --dockerfile / --image-config
    require_cuda: tuple = ()  # --require-cuda values (already validated)
    container_mode: str | None = None  # "cdi": containers get GPUs through CDI (no NVIDIA_REQUIRE_* gate)
    _kb: object = field(default=None, repr=False)

    @property
    def kb(self):
        """The knowledge base, loaded on first use."""
        if self._kb is None:
            from gpu_preflight.knowledge import load_knowledge

            self._kb = load_knowledge(self.db)
        return self._kb


    @property
    def visible_gpus(self) -> list:
        """The GPUs CUDA programs will see: all, or those CUDA_VISIBLE_DEVICES keeps, in its order."""
        value = self.host.env.get("CUDA_VISIBLE_DEVICES")
        if value is None:
            return list(self.host.gpus)
        from gpu_preflight.checks.environment import resolve_visible_devices

        return resolve_visible_devices(value, self.host.gpus).visible


Check = Callable[[CheckContext], Iterable[Finding]]


def all_checks() -> list[Check]:
    from gpu_preflight.checks import (
        compat,
        container,
        deep,
        driver,
        environment,
        gpus,
        memory,
        toolkit,
        versions,
    )

    return [
        driver.check_driver,
        environment.check_visible_devices,
        gpus.check_gpus,
        compat.check_builds,
        container.check_container_requirement,
        check_images,
        memory.check_model_memory,
        deep.check_deep_probe,
        toolkit.check_toolkits,
        versions.check_cuda_versions,
    ]


def check_images(ctx: CheckContext) -> Iterable[Finding]:
    """--image / --dockerfile / --require-cuda (images/judge.py), imported only when asked for."""
    if not (ctx.images or ctx.require_cuda):
        return ()
    from gpu_preflight.images import check_images as judge_images

    return judge_images(ctx)


def run_checks(context: CheckContext) -> list[Finding]:
    findings: list[Finding] = []
    for check in all_checks():
        findings.extend(check(context))
    return findings
