"""``--deep`` results: what a real torch import and kernel launch showed (probe/deep.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gpu_preflight.checks.context import CheckContext
from gpu_preflight.core.findings import Finding, Severity
from gpu_preflight.core.host import Framework


def check_deep_probe(ctx: CheckContext) -> Iterator[Finding]:
    for framework in ctx.host.frameworks:
        deep = framework.details.get("deep")
        if deep is not None:
            yield from _deep(ctx, framework, deep)
        elif "deep_error" in framework.details:
            yield Finding(
                code="deep-probe",
                severity=Severity.FAIL,
                title=f"Importing {framework.name} in a child process failed",
                detail=framework.details["deep_error"],
                evidence={"framework": framework.name},
            )


def _deep(ctx: CheckContext, framework: Framework, deep: dict[str, Any]) -> Iterator[Finding]:
    evidence = {"framework": framework.name, "deep": deep}
    if "error" in deep or "crashed" in deep:
        yield Finding(
            code="deep-probe",
            severity=Severity.FAIL,
            title=f"Importing or using {framework.name} failed",
            detail=deep.get("crashed") or deep.get("error", ""),
            evidence=evidence,
        )
        return
    if deep.get("cuda") and ctx.host.gpus and not deep.get("cuda_available"):
        yield Finding(
            code="deep-probe",
            severity=Severity.FAIL,
            title=f"{framework.name}.cuda.is_available() is False although {len(ctx.host.gpus)} GPU(s) are present",
            evidence=evidence,
        )
    for device in deep.get("devices", []):
        if device.get("kernel_ok") is False:
            error = device.get("kernel_error", "")
            yield Finding(
                code="deep-kernel",
                severity=Severity.FAIL,
                cause="no-kernel-image" if "no kernel image" in error.lower() else None,
                title=f"GPU {device.get('index')}: a kernel launch failed: {error[:160]}",
                device=device.get("index"),
                evidence=evidence,
            )
        elif device.get("kernel_ok"):
            yield Finding(
                code="deep-kernel",
                severity=Severity.PASS,
                title=f"GPU {device.get('index')}: {framework.name} launched a kernel on {device.get('name')}",
                device=device.get("index"),
                evidence={"arch_list": deep.get("arch_list")},
            )
