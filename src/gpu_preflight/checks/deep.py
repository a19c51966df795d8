"""Installed frameworks: is the build a CUDA build, can this driver run its CUDA runtime, and
(with --deep) did a real kernel launch work."""

from __future__ import annotations

from typing import Iterator

from gpu_preflight.checks import CheckContext
from gpu_preflight.checks.fixes import install_driver, torch_wheel_command
from gpu_preflight.checks.runtime import judge_runtime
from gpu_preflight.findings import Finding, Severity
from gpu_preflight.host import Framework
from gpu_preflight.versions import Version

# Frameworks judged on their own; the nvidia-* runtime wheels are their parts, shown as evidence.
JUDGED = ("torch", "jaxlib", "tensorflow", "cupy")


def check_frameworks(ctx: CheckContext) -> Iterator[Finding]:
    for framework in ctx.host.frameworks:
        if not framework.name.startswith(JUDGED):
            continue
        if framework.variant == "cpu":
            yield _cpu_only(ctx, framework)
            continue
        cuda = Version.parse_or_none(framework.cuda)
        if cuda is not None and len(cuda.parts) >= 2:
            finding = _runtime(ctx, framework, cuda)
            if finding:
                yield finding
        deep = framework.details.get("deep")
        if deep is not None:
            yield from _deep(ctx, framework, deep)


def _cpu_only(ctx: CheckContext, framework: Framework) -> Finding:
    fix = []
    wheel = _best_cuda_wheel(ctx, framework.version)
    if wheel:
        fix.append(torch_wheel_command(wheel.torch_version, wheel.variant))
    return Finding(
        code="cpu-only-build",
        severity=Severity.WARN,
        cause="cpu-only-build",
        title=f"{framework.name} {framework.version} is a CPU-only build: it will not use any GPU",
        detail="'Torch not compiled with CUDA enabled' is what it says when asked for cuda.",
        evidence={"framework": framework.name, "version": framework.version, "location": framework.location},
        fix=fix or ["Install a CUDA build of the framework (for torch: https://pytorch.org/get-started/locally/)."],
    )


def _best_cuda_wheel(ctx: CheckContext, version: str):
    """The CUDA wheel of this torch release that the host's driver runs natively, newest CUDA first."""
    release = version.split("+")[0]
    wheels = [w for w in ctx.kb.torch_variants_for(release) if w.cuda is not None]
    driver = Version.parse_or_none(ctx.host.driver.version)
    if driver is not None:
        wheels = [w for w in wheels if judge_runtime(ctx.kb, w.cuda, driver).status == "native"]
    return max(wheels, key=lambda w: w.cuda, default=None)


def _runtime(ctx: CheckContext, framework: Framework, cuda: Version) -> Finding | None:
    driver = Version.parse_or_none(ctx.host.driver.version)
    if driver is None:
        return None  # the no-driver finding already says it all
    verdict = judge_runtime(ctx.kb, cuda, driver, ctx.host.driver.platform or "linux")
    label = f"{framework.name} {framework.version} (CUDA {cuda})"
    evidence = {"framework": framework.name, "version": framework.version, "framework_cuda": str(cuda), "driver_version": str(driver), "status": verdict.status}
    if verdict.status == "native":
        return Finding(code="framework-runtime", severity=Severity.PASS, title=f"{label} runs on driver {driver}", evidence=evidence)
    if verdict.status == "minor-compat":
        return Finding(
            code="framework-runtime",
            severity=Severity.WARN,
            cause="ptx-too-new",
            title=f"{label} runs on driver {driver} through CUDA minor-version compatibility",
            detail=f"Driver {driver} is older than CUDA {cuda} needs natively ({verdict.native}). Kernels compiled for your GPU run; PTX that needs JIT compilation and some newer APIs do not.",
            evidence=evidence,
            fix=[install_driver(verdict.native, f"for full CUDA {cuda} support")],
        )
    if verdict.status == "too-old":
        return Finding(
            code="framework-runtime",
            severity=Severity.FAIL,
            cause="driver-too-old",
            title=f"{label} needs a newer driver than {driver}",
            detail=f"CUDA {cuda} needs driver >= {verdict.native}" + (f", or >= {verdict.minor_compat} through minor-version compatibility." if verdict.minor_compat else "."),
            evidence=evidence,
            fix=[install_driver(verdict.minor_compat or verdict.native, f"to run CUDA {cuda}")],
        )
    return None


def _deep(ctx: CheckContext, framework: Framework, deep: dict) -> Iterator[Finding]:
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
