"""Toolkits on disk (nvcc): they compile CUDA code; the driver decides whether it runs.
Warnings only: a toolkit is not what runs a model, but what it builds must run somewhere."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from gpu_preflight.checks.context import CheckContext
from gpu_preflight.checks.fixes import branch_blocker, install_driver
from gpu_preflight.checks.runtime import judge_runtime
from gpu_preflight.core.findings import Finding, Severity
from gpu_preflight.core.host import Toolkit
from gpu_preflight.core.versions import Version


def check_toolkits(ctx: CheckContext) -> Iterator[Finding]:
    host = ctx.host
    if not host.toolkits:
        if host.source == "live":
            yield Finding(
                code="toolkit",
                severity=Severity.INFO,
                title="No CUDA toolkit (nvcc) found",
                detail=(
                    "Not needed to run PyTorch, JAX or vLLM wheels: they bundle their CUDA runtime. Only compiling "
                    "CUDA code needs one."
                ),
            )
        return
    if ctx.images and not ctx.targets:
        yield from _not_the_images(ctx)
        return
    driver = Version.parse_or_none(host.driver.version)
    for toolkit in host.toolkits:
        untargetable = list(_gpus_it_cannot_build_for(ctx, toolkit))
        finding = _judge(ctx, toolkit, driver)
        if untargetable and len(untargetable) == len(ctx.visible_gpus) and finding.fix:
            # a newer driver does not help a toolkit that cannot build for any GPU here
            finding = replace(
                finding,
                detail=f"{finding.detail} A newer driver alone does not help: this toolkit cannot build for "
                "any GPU here.".strip(),
                fix=list(untargetable[0].fix),
            )
        yield finding
        yield from untargetable


def _not_the_images(ctx: CheckContext) -> Iterator[Finding]:
    """The user asked about images: the toolkits of the machine running preflight are not theirs."""
    images = ", ".join(image.label for image in ctx.images)
    for toolkit in ctx.host.toolkits:
        yield Finding(
            code="toolkit",
            severity=Severity.INFO,
            title=f"CUDA toolkit {toolkit.version} at {toolkit.path} is on this machine, not in the image",
            detail=f"Not judged: what runs is {images}, whose own CUDA is judged with the images.",
            evidence={"toolkit_version": toolkit.version, "path": toolkit.path},
        )


def _gpus_it_cannot_build_for(ctx: CheckContext, toolkit: Toolkit) -> Iterator[Finding]:
    """Each visible GPU outside what the toolkit's CUDA line can target at all (nvcc 13.0 and
    Pascal: CUDA 13.0 removed CC < 7.5), with the last toolkit that can."""
    cuda = Version.parse_or_none(toolkit.version)
    if cuda is None:
        return
    line = cuda.truncate(2)
    for gpu in ctx.visible_gpus:
        cc = Version.parse_or_none(gpu.compute_capability)
        arch = ctx.kb.architecture_of_cc(cc) if cc else None
        if arch is None or arch.targetable_by(line):
            continue
        removed = arch.removed_in_cuda is not None and line >= arch.removed_in_cuda
        if removed:
            detail = (
                f"CUDA {arch.removed_in_cuda} removed {arch.name} (CC {cc}): nvcc {line} cannot build for it at all, "
                "whatever the driver."
            )
            fix = f"Use a CUDA {arch.last_cuda} toolkit (the last that builds for {arch.name}) to compile for this GPU."
        else:
            detail = f"{arch.name} (CC {cc}) needs CUDA >= {arch.first_cuda}: nvcc {line} predates it."
            fix = f"Use a CUDA >= {arch.first_cuda} toolkit to compile for this GPU."
        yield Finding(
            code="toolkit-gpu",
            severity=Severity.WARN,
            cause="gpu-too-old" if removed else "no-kernel-image",
            title=f"GPU {gpu.index}: CUDA toolkit {toolkit.version} cannot build for {gpu.name} ({arch.name}, CC {cc})",
            detail=detail,
            device=gpu.index,
            evidence={
                "toolkit_version": toolkit.version,
                "path": toolkit.path,
                "compute_capability": str(cc),
                "architecture": arch.name,
                "removed_in_cuda": str(arch.removed_in_cuda) if arch.removed_in_cuda else None,
                "last_cuda": str(arch.last_cuda) if arch.last_cuda else None,
            },
            fix=[fix],
        )


def _judge(ctx: CheckContext, toolkit: Toolkit, driver: Version | None) -> Finding:
    where = f"{toolkit.path} (found via {', '.join(toolkit.found_via) or toolkit.source})"
    cuda = Version.parse_or_none(toolkit.version)
    evidence = {
        "toolkit_version": toolkit.version,
        "path": toolkit.path,
        "found_via": toolkit.found_via,
        "nvcc": toolkit.nvcc,
    }
    if cuda is None:
        return Finding(
            code="toolkit",
            severity=Severity.WARN,
            title=f"CUDA toolkit at {where}: version unreadable",
            evidence=evidence,
        )
    line, label = cuda.truncate(2), f"CUDA toolkit {toolkit.version}"
    if toolkit.source == "nvcc":
        cuda = line  # nvcc's own version (13.0.88) is not a toolkit release number (13.0.2)
    if driver is None:
        requirement = ctx.kb.driver_requirement(line)
        fix, _ = _driver_fix(ctx, requirement.native, f"to run CUDA {line} code")
        return Finding(
            code="toolkit-without-driver",
            severity=Severity.WARN,
            cause="no-driver",
            title=f"{label} can compile, but nothing it builds can run here: no driver",
            detail=(
                f"{label} at {where}. nvcc works without a GPU; running its output needs an NVIDIA driver and a GPU."
            ),
            evidence=evidence,
            fix=fix,
        )
    verdict = judge_runtime(ctx.kb, cuda, driver, ctx.host.driver.platform or "linux")
    evidence.update(
        driver_version=str(driver), status=verdict.status, native_driver=str(verdict.native) if verdict.native else None
    )
    if verdict.status == "native":
        return Finding(code="toolkit", severity=Severity.PASS, title=f"{label} at {where}", evidence=evidence)
    if verdict.status == "unknown":
        return Finding(
            code="toolkit",
            severity=Severity.INFO,
            title=f"{label} at {where}: driver requirement unknown to the knowledge base",
            detail=f"Unknown: the driver CUDA {line} needs (no release row, no minor-version compatibility floor for "
            f"{line.major}.x). Still judged: which GPUs here it can build for.",
            evidence=evidence,
        )
    fix, blocker = _driver_fix(
        ctx, verdict.native, f"for CUDA {line}", verdict.minor_compat, verdict.branch, verdict.platform
    )
    if verdict.status == "minor-compat":
        return Finding(
            code="toolkit-newer-than-driver",
            severity=Severity.WARN,
            title=f"{label} is newer than driver {driver} supports natively",
            detail=(
                f"Programs it builds run through CUDA minor-version compatibility (driver >= {verdict.minor_compat}), "
                "with limits: PTX it emits cannot be JIT-compiled by this driver "
                "(build SASS for your GPU with -arch=sm_XX), "
                "and some newer APIs return cudaErrorCallRequiresNewerDriver."
            ),
            evidence=evidence,
            fix=fix,
        )
    return Finding(
        code="toolkit-newer-than-driver",
        severity=Severity.WARN,
        cause="driver-too-old",
        title=f"{label} can compile, but driver {driver} cannot run what it builds",
        detail=f"CUDA {line} needs driver >= {verdict.native}"
        + (f" (>= {verdict.minor_compat} through minor-version compatibility)" if verdict.minor_compat else "")
        + (f"; {blocker}: use a toolkit for an older CUDA." if blocker else "."),
        evidence=evidence,
        fix=fix,
    )


def _driver_fix(
    ctx: CheckContext,
    minimum: Version | None,
    reason: str,
    minor_compat: Version | None = None,
    branch: int | None = None,
    platform: str = "linux",
) -> tuple[list[str], str | None]:
    if minimum is None:
        return [], None
    blocker = branch_blocker(ctx.kb, ctx.host.gpus, branch or minimum.major)
    return ([], blocker) if blocker else ([install_driver(minimum, reason, minor_compat, branch, platform)], None)
