"""The container layer: this container's own NVIDIA_REQUIRE_* gate, evaluated per GPU as
libnvidia-container does, and what passing it through a brand/branch exception means (forward
compatibility, which fails with error 804 on GPUs that are not datacenter class)."""

from __future__ import annotations

from typing import Iterator

from gpu_preflight.checks import CheckContext
from gpu_preflight.errors import UsageError
from gpu_preflight.findings import Finding, Severity
from gpu_preflight.versions import Version


def device_facts(host):
    from gpu_preflight.requirements import DeviceFacts, brand_id

    cuda = Version.parse_or_none(host.driver.cuda)
    driver = Version.parse_or_none(host.driver.version)
    return [
        DeviceFacts(cuda, driver, Version.parse_or_none(gpu.compute_capability), brand_id(gpu.brand) if gpu.brand else None)
        for gpu in host.gpus
    ] or [DeviceFacts(cuda, driver)]


def check_container_requirement(ctx: CheckContext) -> Iterator[Finding]:
    env = ctx.host.container.nvidia_env
    if not any(k.startswith("NVIDIA_REQUIRE_") or k == "CUDA_VERSION" for k in env):
        return
    from gpu_preflight.requirements import evaluate, requirements_from_env

    try:
        requirements = requirements_from_env(env)
    except UsageError as exc:  # an image's own value that the runtime would refuse
        yield Finding(code="container-requirement", severity=Severity.FAIL, cause="container-requirement",
                      title="This container's NVIDIA_REQUIRE_* value is invalid", detail=str(exc), evidence=dict(env))
        return
    if requirements.disabled:
        yield Finding(code="container-requirement", severity=Severity.INFO, title="NVIDIA_DISABLE_REQUIRE is set: the container runtime checks no requirement",
                      detail="Nothing stops an image built for a newer CUDA from starting here; the CUDA checks above still apply.", evidence=dict(env))
        return
    if ctx.host.driver.version is None:
        return  # no driver: the no-driver finding already says it all
    evaluation = evaluate(requirements, device_facts(ctx.host))
    evidence = {"requirements": [r.text for r in requirements], "driver": ctx.host.driver.version, "driver_cuda": ctx.host.driver.cuda}
    if not evaluation.satisfied:
        yield Finding(
            code="container-requirement",
            severity=Severity.FAIL,
            cause="container-requirement",
            title="This container's NVIDIA_REQUIRE_* is not met by the host driver",
            detail=f"The NVIDIA container runtime would refuse it: '{evaluation.message}'.",
            evidence=evidence,
            fix=["Upgrade the host driver to one whose CUDA satisfies the image (see the driver fix above), or use an image built for an older CUDA."],
        )
        return
    for outcome in evaluation.exceptions:
        gpu = ctx.host.gpus[outcome.device] if outcome.device is not None and outcome.device < len(ctx.host.gpus) else None
        product = ctx.kb.gpu_product(name=gpu.name, pci_device_id=gpu.pci_device_id) if gpu else None
        eligible = product is not None and product.forward_compat_eligible
        term = str(outcome.passing_term)
        yield Finding(
            code="forward-compat",
            severity=Severity.WARN if eligible else Severity.FAIL,
            cause=None if eligible else "forward-compat-unsupported",
            title=f"GPU {outcome.device}: the container starts only through '{term}', i.e. CUDA forward compatibility",
            detail=("The image's CUDA is newer than this driver; its cuda-compat libraries bridge the gap on datacenter GPUs."
                    if eligible else
                    f"{gpu.name if gpu else 'This GPU'} is not a datacenter GPU: CUDA will fail with error 804 "
                    "('forward compatibility was attempted on non supported HW') although the container started."),
            device=outcome.device,
            evidence={**evidence, "passing_term": term},
            fix=[] if eligible else ["Upgrade the host driver so that its CUDA is at least the image's (nvidia-smi 'CUDA Version')."],
        )
