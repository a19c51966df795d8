"""CUDA_VISIBLE_DEVICES: which GPUs CUDA programs will actually see, in which order.

CUDA reads the list left to right and stops at the first entry it cannot resolve; an empty
value or ``-1`` hides every GPU. NVML (and so the probe) ignores the variable and sees all.
"""

from __future__ import annotations

from dataclasses import dataclass

from gpu_preflight.core.host import Gpu


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
