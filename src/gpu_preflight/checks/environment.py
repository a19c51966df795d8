"""CUDA_VISIBLE_DEVICES: which GPUs CUDA programs will actually see, in which order.

CUDA reads the list left to right and stops at the first entry it cannot resolve; an empty
value or ``-1`` hides every GPU. NVML (and so the probe) ignores the variable and sees all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from gpu_preflight.checks import CheckContext
from gpu_preflight.findings import Finding, Severity
from gpu_preflight.host import Gpu


@dataclass(frozen=True)
class Visibility:
    visible: list[Gpu]  # in CUDA's order: visible[0] is cuda:0
    ignored: list[str]  # entries from the first unresolvable one on


def resolve_visible_devices(value: str, gpus: list[Gpu]) -> Visibility:
    visible: list[Gpu] = []
    entries = [e.strip() for e in value.split(",")]
    for position, entry in enumerate(entries):
        gpu = _resolve(entry, gpus)
        if gpu is None or gpu in visible:
            return Visibility(visible, [e for e in entries[position:] if e])
        visible.append(gpu)
    return Visibility(visible, [])


def _resolve(entry: str, gpus: list[Gpu]) -> Gpu | None:
    if entry.isdigit():
        return next((g for g in gpus if g.index == int(entry)), None)
    if entry.startswith(("GPU-", "MIG-")):
        # a unique UUID prefix is enough, as for CUDA
        matches = [g for g in gpus if g.uuid and g.uuid.startswith(entry)]
        return matches[0] if len(matches) == 1 else None
    return None


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
            fix=["unset CUDA_VISIBLE_DEVICES", "or list the GPUs to use: CUDA_VISIBLE_DEVICES=" + ",".join(str(g.index) for g in gpus)],
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
        detail=f"{mapping}. Indices follow CUDA's order, which matches nvidia-smi's only with CUDA_DEVICE_ORDER=PCI_BUS_ID.",
        evidence=evidence,
    )
