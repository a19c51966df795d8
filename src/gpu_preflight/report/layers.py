"""Which layer of the stack a finding speaks about, decided by its code in one table, and the
order a reader scans doctor's checklist in: the driver first, the model's memory last."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

from gpu_preflight.core.findings import Finding


class Layer(Enum):
    """A checklist group; members in reading order, values are the headings."""

    DRIVER = "Driver"
    GPUS = "GPUs"
    BUILDS = "Framework builds"
    CONTAINER = "Container and images"
    TOOLKIT = "CUDA toolkit"
    MEMORY = "Model memory"
    OTHER = "Other"  # a code this table does not know yet: shown, last, never dropped


# By what a finding is about, not which check emitted it: a build's driver requirement
# (driver-runtime) is about that build; a GPU the driver predates is about that GPU.
LAYER_OF_CODE: dict[str, Layer] = {
    "driver": Layer.DRIVER,
    "no-driver": Layer.DRIVER,
    "driver-library-mismatch": Layer.DRIVER,
    "driver-branch-end-of-life": Layer.DRIVER,
    "gpu": Layer.GPUS,
    "gpu-unknown": Layer.GPUS,
    "no-gpu-visible": Layer.GPUS,
    "visible-devices": Layer.GPUS,
    "driver-dropped-gpu": Layer.GPUS,
    "driver-predates-gpu": Layer.GPUS,
    "gpu-driver-floor": Layer.GPUS,
    "serve-no-gpu": Layer.GPUS,
    "serve-cpu-fallback": Layer.GPUS,
    "arch-coverage": Layer.BUILDS,
    "arch-cuda": Layer.BUILDS,
    "arch-missing": Layer.BUILDS,
    "arch-ptx": Layer.BUILDS,
    "cpu-only-build": Layer.BUILDS,
    "driver-runtime": Layer.BUILDS,
    "mixed-gpus": Layer.BUILDS,
    "target-note": Layer.BUILDS,
    "target-unknown": Layer.BUILDS,
    "target-assumed": Layer.BUILDS,
    "engine-release": Layer.BUILDS,
    "engine-gpu-too-old": Layer.BUILDS,
    "engine-driver": Layer.BUILDS,
    "deep-probe": Layer.BUILDS,
    "deep-kernel": Layer.BUILDS,
    "container-no-gpu": Layer.CONTAINER,
    "container-requirement": Layer.CONTAINER,
    "forward-compat": Layer.CONTAINER,
    "image": Layer.CONTAINER,
    "image-lookup": Layer.CONTAINER,
    "image-platform": Layer.CONTAINER,
    "image-unknown": Layer.CONTAINER,
    "toolkit": Layer.TOOLKIT,
    "toolkit-newer-than-driver": Layer.TOOLKIT,
    "toolkit-without-driver": Layer.TOOLKIT,
    "toolkit-gpu": Layer.TOOLKIT,
    "cuda-version-confusion": Layer.TOOLKIT,
    "host-compiler": Layer.TOOLKIT,  # checks/toolchain.py: extension builds
    "host-compiler-unsupported": Layer.TOOLKIT,
    "toolkit-env-mismatch": Layer.TOOLKIT,
    "extension-cuda": Layer.TOOLKIT,
    "extension-cuda-mismatch": Layer.TOOLKIT,
    "fit": Layer.MEMORY,
    "fit-context-too-long": Layer.MEMORY,
    "fit-memory-unknown": Layer.MEMORY,
    "fit-no-gpu": Layer.MEMORY,
    "fit-out-of-memory": Layer.MEMORY,
    "fit-tensor-parallel": Layer.MEMORY,
    "fit-unsupported-dtype": Layer.MEMORY,
    "serve-does-not-fit": Layer.MEMORY,
    "serve-preflight-skipped": Layer.OTHER,  # about no layer: the checks did not run
    "data-age": Layer.OTHER,  # about the knowledge base itself, not a layer of the stack
}


def layer_of(code: str) -> Layer:
    return LAYER_OF_CODE.get(code, Layer.OTHER)


def group_by_layer(findings: Iterable[Finding]) -> list[tuple[Layer, list[Finding]]]:
    """Non-empty groups in reading order; each keeps the findings' own order (failures first)."""
    groups: dict[Layer, list[Finding]] = {layer: [] for layer in Layer}
    for finding in findings:
        groups[layer_of(finding.code)].append(finding)
    return [(layer, members) for layer, members in groups.items() if members]
