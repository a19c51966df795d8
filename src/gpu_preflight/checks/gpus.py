"""Each GPU on its own line: what it is, and whether this driver branch still supports it."""

from __future__ import annotations

from collections.abc import Iterator

from gpu_preflight.checks.context import CheckContext
from gpu_preflight.checks.fixes import install_driver
from gpu_preflight.core.findings import Finding, Severity
from gpu_preflight.core.host import Gpu
from gpu_preflight.core.versions import Version
from gpu_preflight.knowledge import Architecture


def check_gpus(ctx: CheckContext) -> Iterator[Finding]:
    host = ctx.host
    if not host.gpus:
        if host.driver.version is not None:
            yield Finding(
                code="no-gpu-visible",
                severity=Severity.FAIL,
                cause="no-driver",
                title=f"Driver {host.driver.version} is loaded but no GPU is visible",
                detail=(
                    "NVML lists no devices: the GPU may have fallen off the bus, be bound to another driver (vfio), "
                    "or be hidden from this container."
                ),
                fix=[
                    "Check 'nvidia-smi' and 'dmesg | grep -i -E \"nvrm|xid\"' on the host.",
                    "In a container: pass the device (docker run --gpus all).",
                ],
            )
        return
    for gpu in host.gpus:
        yield from _check_gpu(ctx, gpu)


def _check_gpu(ctx: CheckContext, gpu: Gpu) -> Iterator[Finding]:
    cc = Version.parse_or_none(gpu.compute_capability)
    arch = ctx.kb.architecture_of_cc(cc) if cc else None
    evidence = {
        "name": gpu.name,
        "compute_capability": gpu.compute_capability,
        "compute_capability_source": gpu.compute_capability_source,
        "architecture": arch.name if arch else gpu.architecture,
        "memory_total_mib": gpu.memory_total_mib,
        "memory_used_mib": gpu.memory_used_mib,
        "uuid": gpu.uuid,
    }
    if cc is None:
        yield Finding(
            code="gpu-unknown",
            severity=Severity.WARN,
            title=f"GPU {gpu.index}: {gpu.name}: compute capability unknown",
            detail="The driver did not report it and the knowledge base does not know this product name"
            + (f" or PCI device id {gpu.pci_device_id}" if gpu.pci_device_id else "")
            + ": architecture checks for this GPU are skipped.",
            device=gpu.index,
            evidence=evidence,
            fix=["Run with --deep (torch reports the capability), or update the knowledge base (--db)."],
        )
        return
    unsupported = _branch_support(ctx, gpu, cc, arch) or _product_floor(ctx, gpu)
    if unsupported:
        yield unsupported
        return
    memory = f", {gpu.memory_total_mib} MiB" if gpu.memory_total_mib else ""
    used = f" ({gpu.memory_used_mib} MiB in use)" if gpu.memory_used_mib else ""
    mig = " MIG enabled," if gpu.mig_mode == "Enabled" else ""
    yield Finding(
        code="gpu",
        severity=Severity.PASS,
        title=f"GPU {gpu.index}: {gpu.name} — compute capability {cc}{f' ({arch.name})' if arch else ''}{memory}{used}",
        detail=(f"{mig} {len(gpu.mig_devices)} MIG device(s)." if mig else "")
        + (" Assumed (what-if), not measured." if gpu.assumed else ""),
        device=gpu.index,
        evidence=evidence,
    )


def _branch_support(ctx: CheckContext, gpu: Gpu, cc: Version, arch: Architecture | None) -> Finding | None:
    """Each architecture has a window of driver branches: a branch older than its first cannot
    drive it (Ada needs R520+), and one newer than its last neither (Kepler ends at R470;
    Maxwell, Pascal and Volta at R580), so upgrading the driver is then not a fix."""
    driver = Version.parse_or_none(ctx.host.driver.version)
    if arch is None or driver is None:
        return None
    # The branch, not the number: a Windows R580 driver is numbered 581.xx and still drives Pascal.
    branch = ctx.kb.branch_of(driver, ctx.driver_platform)
    if branch is None:
        return None  # a Windows driver older than every known branch: no window to compare with
    first, last = arch.first_driver_branch, arch.last_driver_branch
    evidence = {
        "driver_version": str(driver),
        "architecture": arch.name,
        "first_driver_branch": first,
        "last_driver_branch": last,
    }
    if last is not None and branch > last:
        return Finding(
            code="driver-dropped-gpu",
            severity=Severity.FAIL,
            cause="gpu-too-old",
            title=f"GPU {gpu.index}: {gpu.name} ({arch.name}, CC {cc}) is not supported by driver branch R{branch}",
            detail=(
                f"The last driver branch that supports {arch.name} GPUs is R{last}. A newer driver is not a fix for "
                "this GPU."
            ),
            device=gpu.index,
            evidence=evidence,
            fix=[
                f"Install a driver from branch R{last} (Ubuntu: sudo apt install nvidia-driver-{last}), and "
                "frameworks built for a CUDA it supports.",
                "Or run on a newer GPU.",
            ],
        )
    if first is not None and branch < first:
        return Finding(
            code="driver-predates-gpu",
            severity=Severity.FAIL,
            cause="driver-too-old",
            title=(
                f"GPU {gpu.index}: {gpu.name} ({arch.name}, CC {cc}) needs driver branch R{first} or newer, not "
                f"R{branch}"
            ),
            detail=f"{arch.name} GPUs arrived with CUDA {arch.first_cuda}; older driver branches do not know them.",
            device=gpu.index,
            evidence=evidence,
            fix=[install_driver(Version.of(first), f"for {arch.name} GPUs")],
        )
    return None


def _product_floor(ctx: CheckContext, gpu: Gpu) -> Finding | None:
    """A product whose own minimum driver NVIDIA states, stricter than its architecture's first
    branch (HGX B200: 570.133.20, so 570.124.06 of the same R570 branch does not drive it)."""
    driver = Version.parse_or_none(ctx.host.driver.version)
    if driver is None or ctx.driver_platform != "linux":  # the floors NVIDIA states are Linux drivers
        return None
    product = ctx.kb.gpu_product(name=gpu.name, pci_device_id=gpu.pci_device_id)
    floor = product.driver_floor if product else None
    if product is None or floor is None or driver >= floor.driver:
        return None
    return Finding(
        code="gpu-driver-floor",
        severity=Severity.FAIL,
        cause="driver-too-old",
        title=f"GPU {gpu.index}: {gpu.name} needs driver {floor.driver} or newer, not {driver}",
        detail=(
            f"NVIDIA states a minimum driver for {floor.scope}: {floor.driver}, newer than the first driver branch "
            f"of its architecture. {floor.provenance.note}".rstrip()
        ),
        device=gpu.index,
        evidence={
            "driver_version": str(driver),
            "product": product.name,
            "min_driver": str(floor.driver),
            "scope": floor.scope,
            "sources": list(floor.provenance.sources),
        },
        fix=[install_driver(floor.driver, f"for {floor.scope}")],
    )
