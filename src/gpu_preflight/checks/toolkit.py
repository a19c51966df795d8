"""Toolkits on disk (nvcc): they compile CUDA code; the driver decides whether it runs."""

from __future__ import annotations

from typing import Iterator

from gpu_preflight.checks import CheckContext
from gpu_preflight.checks.fixes import install_driver
from gpu_preflight.checks.runtime import judge_runtime
from gpu_preflight.findings import Finding, Severity
from gpu_preflight.host import Toolkit
from gpu_preflight.versions import Version


def check_toolkits(ctx: CheckContext) -> Iterator[Finding]:
    host = ctx.host
    if not host.toolkits:
        if host.source == "live":
            yield Finding(
                code="toolkit",
                severity=Severity.INFO,
                title="No CUDA toolkit (nvcc) found",
                detail="Not needed to run PyTorch, JAX or vLLM wheels: they bundle their CUDA runtime. Only compiling CUDA code needs one.",
            )
        return
    driver = Version.parse_or_none(host.driver.version)
    for toolkit in host.toolkits:
        yield _judge(ctx, toolkit, driver)


def _judge(ctx: CheckContext, toolkit: Toolkit, driver: Version | None) -> Finding:
    where = f"{toolkit.path} (found via {', '.join(toolkit.found_via) or toolkit.source})"
    cuda = Version.parse_or_none(toolkit.version)
    evidence = {"toolkit_version": toolkit.version, "path": toolkit.path, "found_via": toolkit.found_via, "nvcc": toolkit.nvcc}
    if cuda is None:
        return Finding(code="toolkit", severity=Severity.WARN, title=f"CUDA toolkit at {where}: version unreadable", evidence=evidence)
    label = f"CUDA toolkit {toolkit.version}"
    if driver is None:
        requirement = ctx.kb.driver_requirement(cuda.truncate(2))
        return Finding(
            code="toolkit-without-driver",
            severity=Severity.WARN,
            cause="no-driver",
            title=f"{label} can compile, but nothing it builds can run here: no driver",
            detail=f"{label} at {where}. nvcc works without a GPU; running its output needs an NVIDIA driver and a GPU.",
            evidence=evidence,
            fix=[install_driver(requirement.native, f"to run CUDA {cuda.truncate(2)} code")] if requirement and requirement.native else [],
        )
    verdict = judge_runtime(ctx.kb, cuda, driver, ctx.host.driver.platform or "linux")
    evidence.update(driver_version=str(driver), status=verdict.status, native_driver=str(verdict.native) if verdict.native else None)
    if verdict.status == "native":
        return Finding(code="toolkit", severity=Severity.PASS, title=f"{label} at {where}", evidence=evidence)
    if verdict.status == "minor-compat":
        return Finding(
            code="toolkit-newer-than-driver",
            severity=Severity.WARN,
            cause="ptx-too-new",
            title=f"{label} is newer than driver {driver} supports natively",
            detail=(
                f"Programs it builds run through CUDA minor-version compatibility (driver >= {verdict.minor_compat}), "
                f"with limits: PTX it emits cannot be JIT-compiled by this driver (build SASS for your GPU with -arch=sm_XX), "
                "and some newer APIs return cudaErrorCallRequiresNewerDriver."
            ),
            evidence=evidence,
            fix=[install_driver(verdict.native, f"for full CUDA {cuda.truncate(2)} support")],
        )
    if verdict.status == "too-old":
        return Finding(
            code="toolkit-newer-than-driver",
            severity=Severity.WARN,
            cause="driver-too-old",
            title=f"{label} can compile, but driver {driver} cannot run what it builds",
            detail=f"CUDA {cuda.truncate(2)} needs driver >= {verdict.native}" + (f" (>= {verdict.minor_compat} through minor-version compatibility)." if verdict.minor_compat else "."),
            evidence=evidence,
            fix=[install_driver(verdict.minor_compat or verdict.native, f"to run CUDA {cuda.truncate(2)} code")],
        )
    return Finding(code="toolkit", severity=Severity.INFO, title=f"{label} at {where}: driver requirement unknown to the knowledge base", evidence=evidence)
