"""The CUDA_VISIBLE_DEVICES check: a value that hides GPUs or stops early (core/visible_devices.py
resolves it as CUDA does)."""

from __future__ import annotations

from collections.abc import Iterator

from gpu_preflight.checks.context import CheckContext
from gpu_preflight.core.findings import Finding, Severity
from gpu_preflight.core.visible_devices import resolve_visible_devices


def check_visible_devices(ctx: CheckContext) -> Iterator[Finding]:
    value = ctx.host.env.get("CUDA_VISIBLE_DEVICES")
    gpus = ctx.host.gpus
    if value is None or not gpus:
        return
    result = resolve_visible_devices(value, gpus)
    evidence = {"CUDA_VISIBLE_DEVICES": value, "visible": [g.index for g in result.visible], "ignored": result.ignored}
    if not result.visible:
        yield Finding(
            code="visible-devices",
            severity=Severity.FAIL,
            cause="no-driver",
            title=f"CUDA_VISIBLE_DEVICES={value!r} hides every GPU from CUDA programs",
            detail=f"{len(gpus)} GPU(s) are installed, but CUDA will report none.",
            evidence=evidence,
            fix=[
                "unset CUDA_VISIBLE_DEVICES",
                "or list the GPUs to use: CUDA_VISIBLE_DEVICES=" + ",".join(str(g.index) for g in gpus),
            ],
        )
        return
    mapping = ", ".join(f"cuda:{i} = GPU {g.index} ({g.name})" for i, g in enumerate(result.visible))
    if result.ignored:
        yield Finding(
            code="visible-devices",
            severity=Severity.WARN,
            title=f"CUDA_VISIBLE_DEVICES={value!r}: CUDA stops at {result.ignored[0]!r} and ignores the rest",
            detail=f"Entries it cannot resolve end the list: {', '.join(result.ignored)}. CUDA will see {mapping}.",
            evidence=evidence,
            fix=["CUDA_VISIBLE_DEVICES=" + ",".join(str(g.index) for g in result.visible) + " (only GPUs that exist)"],
        )
        return
    yield Finding(
        code="visible-devices",
        severity=Severity.INFO,
        title=f"CUDA_VISIBLE_DEVICES={value!r}: CUDA sees {len(result.visible)} of {len(gpus)} GPU(s)",
        detail=(
            f"{mapping}. Indices follow CUDA's order, which matches nvidia-smi's only with "
            "CUDA_DEVICE_ORDER=PCI_BUS_ID."
        ),
        evidence=evidence,
    )
