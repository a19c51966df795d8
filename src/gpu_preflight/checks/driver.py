"""The driver layer: is one loaded, does its user-space library match the kernel module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gpu_preflight.checks.context import CheckContext
from gpu_preflight.checks.fixes import RELOAD_MODULES, install_driver
from gpu_preflight.core.findings import Finding, Severity
from gpu_preflight.core.host import Host
from gpu_preflight.core.versions import Version
from gpu_preflight.knowledge.driver_lifecycle import recommended_branch

GPU_ACCESS_FIXES = [
    "docker: run with --gpus all (or --runtime=nvidia) after installing the NVIDIA Container Toolkit on the host.",
    "Kubernetes: request the GPU in the pod spec (resources.limits: nvidia.com/gpu: 1) on a node with the NVIDIA "
    "device plugin.",
]


def check_driver(ctx: CheckContext) -> Iterator[Finding]:
    host = ctx.host
    driver = host.driver
    mismatch = _library_mismatch(host)
    if mismatch:
        yield mismatch
        return
    if driver.version is None and host.gpus:
        # an nvidia-smi dump that lists GPUs proves a driver ran; its version was just not kept
        yield Finding(
            code="driver",
            severity=Severity.WARN,
            title="Driver version unknown: the source lists GPUs but not the driver version",
            detail=f"Reported by {driver.source}. Checks that compare the driver with a CUDA runtime are skipped.",
            evidence={"source": driver.source},
        )
        return
    if driver.version is None:
        yield _missing_driver(ctx)
        return
    version = Version.parse_or_none(driver.version)
    number = ctx.kb.branch_of(version, ctx.driver_platform) if version else None
    branch = f"R{number}" if number is not None else "unknown branch"
    cuda = driver.cuda or _kb_max_cuda(ctx, version)
    detail = f"Reported by {driver.source}."
    if driver.cuda is None and cuda:
        detail += (
            f" This driver does not report its highest CUDA; {cuda} is the {branch} branch's, from the knowledge base."
        )
    yield Finding(
        code="driver",
        severity=Severity.PASS,
        title=f"NVIDIA driver {driver.version} ({branch}), supports CUDA up to {cuda or 'unknown'}",
        detail=detail,
        evidence={"driver_version": driver.version, "driver_cuda": cuda, "source": driver.source},
    )


def _library_mismatch(host: Host) -> Finding | None:
    driver = host.driver
    nvml_says = next((e.message for e in host.errors if "mismatch" in e.message.lower()), None)
    differs = (
        driver.version
        and driver.kernel_module
        and Version.parse_or_none(driver.version) != Version.parse_or_none(driver.kernel_module)
    )
    if not (differs or nvml_says):
        return None
    evidence: dict[str, Any] = {"library_version": driver.version, "kernel_module_version": driver.kernel_module}
    if nvml_says:
        evidence["nvml"] = nvml_says
    return Finding(
        code="driver-library-mismatch",
        severity=Severity.FAIL,
        cause="driver-library-mismatch",
        title="Driver/library version mismatch: the loaded kernel module differs from the user-space driver",
        detail=(
            f"User-space driver libraries {driver.version or '(unknown)'} but the loaded kernel module is "
            f"{driver.kernel_module or '(unknown)'}. This happens after a driver upgrade without a reboot; "
            "nothing CUDA can start until they match."
        ),
        evidence=evidence,
        fix=[
            "Reboot the machine (the new kernel module loads at boot).",
            f"Or, with no GPU process running: {RELOAD_MODULES}",
        ],
    )


def _missing_driver(ctx: CheckContext) -> Finding:
    host = ctx.host
    evidence: dict[str, Any] = {e.probe: e.message for e in host.errors if e.probe in ("nvml", "nvidia-smi")}
    evidence["device_files"] = host.container.device_files
    container = host.container
    # nvidia/cuda-based images set NVIDIA_VISIBLE_DEVICES: such a container expected a GPU.
    expects_gpu = container.nvidia_env.get("NVIDIA_VISIBLE_DEVICES", "void") not in ("void", "none", "")
    if container.in_container and not container.device_files and expects_gpu:
        return Finding(
            code="container-no-gpu",
            severity=Severity.FAIL,
            cause="container-no-gpu",
            title=f"Running in a {container.runtime or 'container'} without GPU access",
            detail=(
                "No /dev/nvidia* device files and no driver libraries are visible inside this container: it was "
                "started without the GPU."
            ),
            evidence={**evidence, "runtime": container.runtime, "nvidia_env": container.nvidia_env},
            fix=GPU_ACCESS_FIXES
            + [
                "If this host has no NVIDIA GPU at all, nothing CUDA can run here; use --assume-gpu / --snapshot to "
                "ask what-if questions."
            ],
        )
    fixes: list[str] = []
    toolkit_floor = _toolkit_driver_floor(ctx)
    if toolkit_floor:
        fixes.append(
            install_driver(toolkit_floor[1], f"to run what the installed CUDA {toolkit_floor[0]} toolkit builds")
        )
    elif (branch := recommended_branch(ctx.kb.driver_branches, 0, ctx.today)) is not None:
        # nothing here names a floor: the oldest branch NVIDIA maintains today, worded for this OS
        fixes.append(install_driver(Version.of(branch.branch)))
    else:
        fixes.append("Install the NVIDIA driver for your GPU (NVIDIA's driver installation guide), then reboot.")
    if container.in_container:
        fixes.append(
            f"This runs in a {container.runtime + ' ' if container.runtime else ''}container: if the host has a GPU, "
            "restart it with GPU access (docker run --gpus all, with the NVIDIA Container Toolkit on the host)."
        )
    fixes.append(
        "If this machine has no NVIDIA GPU, nothing CUDA can run here; ask what-if questions with --assume-gpu / "
        "--assume-driver or judge another machine with --snapshot."
    )
    return Finding(
        code="no-driver",
        severity=Severity.FAIL,
        cause="no-driver",
        title="No NVIDIA driver is loaded: nothing can run on a GPU",
        detail="Neither NVML nor nvidia-smi answered, and no kernel module is loaded (/proc/driver/nvidia is absent).",
        evidence=evidence,
        fix=fixes,
    )


def _toolkit_driver_floor(ctx: CheckContext) -> tuple[str, Version] | None:
    """(toolkit X.Y, minimum driver) for the newest toolkit on disk, when the knowledge base knows it."""
    versions = [v for t in ctx.host.toolkits if t.version and (v := Version.parse_or_none(t.version))]
    if not versions:
        return None
    newest = max(versions)
    requirement = ctx.kb.driver_requirement(newest.truncate(2))
    return (str(newest.truncate(2)), requirement.native) if requirement.native else None


def _kb_max_cuda(ctx: CheckContext, version: Version | None) -> str | None:
    cuda = ctx.kb.max_cuda_for_driver(version, ctx.driver_platform) if version else None
    return str(cuda.truncate(2)) if cuda else None
