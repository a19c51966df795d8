"""The heart of doctor: will each build run on this host, per GPU, and what is the smallest fix.

For every build (a ``--torch`` wheel, a ``--cuda`` runtime, an installed framework):
  1. the driver against the CUDA runtime (native, minor-version compatibility, or too old),
  2. each GPU's compute capability against the compiled architectures (SASS, PTX through JIT),
     telling a new GPU the build lacks (no-kernel-image) from an old GPU it dropped (gpu-too-old),
  3. on mixed hosts, the CUDA_VISIBLE_DEVICES value that keeps only the GPUs that work.
Fixes come smallest first: upgrade the driver before changing the wheel, and never suggest a
driver branch the GPU cannot use.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from gpu_preflight.checks.build import Build, resolve_builds
from gpu_preflight.checks.context import CheckContext
from gpu_preflight.checks.fixes import (
    branch_blocker,
    install_driver,
    torch_wheel_command,
)
from gpu_preflight.checks.runtime import RuntimeVerdict, judge_runtime
from gpu_preflight.core.findings import Finding, Severity
from gpu_preflight.core.host import Gpu
from gpu_preflight.core.versions import Version, driver_branch


@dataclass(frozen=True)
class GpuVerdict:
    gpu: Gpu
    cc: Version
    ok: bool
    finding: Finding | None  # None when covered by SASS (summarised once per build)
    via: str | None = None


def check_builds(ctx: CheckContext) -> Iterator[Finding]:
    if not ctx.targets and (ctx.images or ctx.require_cuda or ctx.engines):
        return  # the user named images or engines: what is installed here is not what will run
    for build in resolve_builds(ctx.kb, ctx.host, ctx.targets):
        yield from judge_build(ctx, build)


def judge_build(ctx: CheckContext, build: Build) -> Iterator[Finding]:
    """Everything said about one build: the driver against its CUDA, then each visible GPU."""
    evidence: dict[str, Any] = {"target": build.label, "source": build.source}
    if build.unknown:
        yield Finding(
            code="target-unknown",
            severity=Severity.WARN,
            title=f"{build.label}: cannot be judged",
            detail=build.unknown,
            evidence=evidence,
        )
        return
    if build.assumed:
        yield Finding(
            code="target-assumed",
            severity=Severity.WARN,
            title=f"{build.label}: judged on an assumption",
            detail=build.assumed,
            evidence=evidence,
            fix=[build.pin] if build.pin else [],
        )
    cuda = build.cuda
    if cuda is None:  # a CPU-only build (an unidentified one returned above)
        yield _cpu_only(ctx, build, evidence)
        return
    driver = Version.parse_or_none(ctx.host.driver.version)
    runtime = judge_runtime(ctx.kb, cuda, driver, ctx.driver_platform) if driver else None
    gpus = [(g, cc) for g in ctx.visible_gpus if (cc := Version.parse_or_none(g.compute_capability))]
    verdicts = [_judge_gpu(ctx, build, cuda, gpu, cc, runtime) for gpu, cc in gpus]
    if runtime is not None:
        yield _runtime_finding(ctx, build, runtime, evidence)
    yield from (v.finding for v in verdicts if v.finding)
    covered = [v for v in verdicts if v.ok and v.finding is None]
    if covered:
        yield Finding(
            code="arch-coverage",
            severity=Severity.PASS,
            title=f"{build.label} has code for "
            + ", ".join(f"GPU {v.gpu.index} (CC {v.cc}, {v.via})" for v in covered),
            evidence={
                **evidence,
                "archs": str(build.archs) if build.archs else None,
                "archs_source": build.archs_source,
            },
        )
    working = [v.gpu.index for v in verdicts if v.ok]
    if working and len(working) < len(verdicts):
        value = ",".join(str(i) for i in working)
        yield Finding(
            code="mixed-gpus",
            severity=Severity.INFO,
            title=f"{build.label} can run on GPU(s) {value} only",
            detail=(
                "Hide the others from CUDA so frameworks do not pick them. Indices follow nvidia-smi's order; set "
                "CUDA_DEVICE_ORDER=PCI_BUS_ID so CUDA uses the same."
            ),
            evidence={**evidence, "working_gpus": working},
            fix=[f"export CUDA_DEVICE_ORDER=PCI_BUS_ID CUDA_VISIBLE_DEVICES={value}"],
        )
    for note in build.notes:
        yield Finding(code="target-note", severity=Severity.INFO, title=f"{build.label}: {note}", evidence=evidence)


def _cpu_only(ctx: CheckContext, build: Build, evidence: dict[str, Any]) -> Finding:
    wheel = suggest_wheel(ctx, build.torch_version) if build.torch_version else None
    return Finding(
        code="cpu-only-build",
        severity=Severity.WARN if build.installed else Severity.FAIL,
        cause="cpu-only-build",
        title=f"{build.label} is a CPU-only build: it will not use any GPU",
        detail="Asked for CUDA it says 'Torch not compiled with CUDA enabled'.",
        evidence=evidence,
        fix=[wheel] if wheel else ["Install a CUDA build (https://pytorch.org/get-started/locally/)."],
    )


def _runtime_finding(ctx: CheckContext, build: Build, runtime: RuntimeVerdict, evidence: dict[str, Any]) -> Finding:
    cuda, driver = runtime.cuda, runtime.driver
    evidence = {
        **evidence,
        "cuda": str(cuda),
        "driver": str(driver),
        "mode": runtime.status,
        "native_driver": _str(runtime.native),
        "minor_compat_driver": _str(runtime.minor_compat),
    }
    if runtime.status == "native":
        return Finding(
            code="driver-runtime",
            severity=Severity.PASS,
            title=f"{build.label}: driver {driver} supports CUDA {cuda} natively",
            evidence=evidence,
        )
    if runtime.status == "unknown":
        return Finding(
            code="driver-runtime",
            severity=Severity.WARN,
            title=f"{build.label}: the driver CUDA {cuda} needs is not in the knowledge base",
            detail=(
                f"Unknown: the driver floor of CUDA {cuda}, and no minor-version compatibility floor covers "
                f"CUDA {cuda.major}.x. Still judged: each GPU against what CUDA {cuda} can target."
            ),
            evidence=evidence,
        )
    upgrade, blocker = driver_upgrade(ctx, runtime)
    if runtime.family_floor:
        return _family_floor_finding(build, runtime, evidence, upgrade, blocker)
    if runtime.status == "minor-compat":
        return Finding(
            code="driver-runtime",
            severity=Severity.WARN,
            title=f"{build.label}: runs on driver {driver} through CUDA minor-version compatibility",
            detail=(
                f"CUDA {cuda} natively needs driver >= {runtime.native}; any {cuda.major}.x runs on "
                f">= {runtime.minor_compat}, but PTX newer than the driver cannot be JIT-compiled and some newer "
                "APIs return cudaErrorCallRequiresNewerDriver."
            ),
            evidence=evidence,
            fix=[upgrade] if upgrade else [],
        )
    forward, no_forward = _forward_compat(ctx, runtime)
    fixes = [f for f in (upgrade, forward) if f]
    if build.torch_version:
        wheel = suggest_wheel(ctx, build.torch_version)
        if wheel:
            fixes.append(f"Or keep the driver and use a wheel built for an older CUDA: {wheel}")
    return Finding(
        code="driver-runtime",
        severity=Severity.FAIL,
        cause="driver-too-old",
        title=f"{build.label}: driver {driver} is too old for CUDA {cuda}",
        detail=(
            f"CUDA {cuda} needs driver >= {runtime.native}"
            + (f" (>= {runtime.minor_compat} through minor-version compatibility)" if runtime.minor_compat else "")
            + "; it fails with 'CUDA driver version is insufficient for CUDA runtime version' (error 35)."
            + "".join(f" {note[0].upper()}{note[1:]}." for note in (blocker, no_forward) if note)
        ),
        evidence=evidence,
        fix=fixes,
    )


def _family_floor_finding(
    build: Build, runtime: RuntimeVerdict, evidence: dict[str, Any], upgrade: str | None, blocker: str | None
) -> Finding:
    """CUDA newer than the driver table (13.5): its own floor is unknown, its major's is not."""
    cuda, driver, floor = runtime.cuda, runtime.driver, runtime.minor_compat
    unknown = (
        f"The knowledge base has no {runtime.platform.capitalize()} driver floor for CUDA {cuda} (a release "
        f"newer than its table, or one whose table gives none), so it is judged by the floor every CUDA "
        f"{cuda.major}.x runtime runs on through minor-version compatibility (>= {floor})"
    )
    evidence = {**evidence, "judged_by": "minor-version compatibility floor of the CUDA major"}
    if runtime.runs:
        return Finding(
            code="driver-runtime",
            severity=Severity.WARN,
            title=f"{build.label}: driver {driver} runs CUDA {cuda} at least through minor-version compatibility",
            detail=f"{unknown}. Whether it runs natively is unknown; through minor-version compatibility PTX "
            "newer than the driver cannot be JIT-compiled and some newer APIs return "
            "cudaErrorCallRequiresNewerDriver.",
            evidence=evidence,
        )
    return Finding(
        code="driver-runtime",
        severity=Severity.FAIL,
        cause="driver-too-old",
        title=f"{build.label}: driver {driver} is too old for CUDA {cuda}",
        detail=f"{unknown}, and driver {driver} is below it: it fails with 'CUDA driver version is insufficient "
        "for CUDA runtime version' (error 35)." + (f" {blocker[0].upper()}{blocker[1:]}." if blocker else ""),
        evidence=evidence,
        fix=[upgrade] if upgrade else [],
    )


def _judge_gpu(
    ctx: CheckContext, build: Build, cuda: Version, gpu: Gpu, cc: Version, runtime: RuntimeVerdict | None
) -> GpuVerdict:
    """One GPU against the build's compiled architectures (``cuda``: the build's CUDA)."""
    evidence: dict[str, Any] = {"target": build.label, "gpu": gpu.name, "compute_capability": str(cc)}
    if build.archs is None:
        return _judge_gpu_by_cuda(ctx, cuda, gpu, cc, evidence)
    coverage = build.archs.covers(cc)
    evidence.update(archs=str(build.archs), archs_source=build.archs_source, covered_by=coverage.via)
    if coverage.kind == "sass":
        return GpuVerdict(gpu, cc, True, None, coverage.via)
    if coverage.kind == "ptx":
        jit_blocked = runtime is not None and runtime.status == "minor-compat"
        return GpuVerdict(
            gpu,
            cc,
            not jit_blocked,
            Finding(
                code="arch-ptx",
                severity=Severity.FAIL if jit_blocked else Severity.WARN,
                cause="ptx-too-new" if jit_blocked else None,
                title=f"GPU {gpu.index}: {build.label} has no SASS for CC {cc}, only {coverage.via} PTX"
                + (" that this driver cannot JIT-compile" if jit_blocked else " (JIT-compiled at first load)"),
                detail=coverage.note,
                device=gpu.index,
                evidence=evidence,
                fix=_arch_fixes(ctx, build, cc),
            ),
            coverage.via,
        )
    oldest = min(build.archs.targets, key=lambda t: t.cc, default=None)
    dropped_by = oldest if oldest is not None and cc < oldest.cc else None  # the build starts above this GPU
    return GpuVerdict(
        gpu,
        cc,
        False,
        Finding(
            code="arch-missing",
            severity=Severity.FAIL,
            cause="gpu-too-old" if dropped_by else "no-kernel-image",
            title=f"GPU {gpu.index}: {build.label} has no code for {gpu.name} (CC {cc})",
            detail=(
                f"Its oldest target is {dropped_by.name}: the build dropped this GPU's architecture."
                if dropped_by
                else f"{coverage.note}: the build predates this GPU and fails with "
                "'no kernel image is available for execution on the device'."
            )
            + f" Compiled: {build.archs}.",
            device=gpu.index,
            evidence=evidence,
            fix=_arch_fixes(ctx, build, cc),
        ),
    )


def _judge_gpu_by_cuda(ctx: CheckContext, cuda: Version, gpu: Gpu, cc: Version, evidence: dict[str, Any]) -> GpuVerdict:
    """No architecture list: judge by what the CUDA release can target at all."""
    arch = ctx.kb.architecture_of_cc(cc)
    if arch is None or arch.targetable_by(cuda):
        return GpuVerdict(gpu, cc, True, None, f"CUDA {cuda} targets CC {cc}" if arch else "architecture unknown")
    dropped = arch.removed_in_cuda is not None and cuda.truncate(2) >= arch.removed_in_cuda
    evidence.update(architecture=arch.name, first_cuda=str(arch.first_cuda), removed_in_cuda=_str(arch.removed_in_cuda))
    return GpuVerdict(
        gpu,
        cc,
        False,
        Finding(
            code="arch-cuda",
            severity=Severity.FAIL,
            cause="gpu-too-old" if dropped else "no-kernel-image",
            title=f"GPU {gpu.index}: CUDA {cuda} cannot target {gpu.name} ({arch.name}, CC {cc})",
            detail=(
                f"CUDA {arch.removed_in_cuda} removed {arch.name}; the last CUDA for it is "
                f"{arch.last_cuda or 'the previous major'}."
                if dropped
                else f"{arch.name} needs CUDA >= {arch.first_cuda}."
            ),
            device=gpu.index,
            evidence=evidence,
            fix=[
                f"Use a CUDA {arch.last_cuda or '12.x'} build for this GPU."
                if dropped
                else f"Use CUDA >= {arch.first_cuda} (and a driver for it)."
            ],
        ),
    )


def _arch_fixes(ctx: CheckContext, build: Build, cc: Version) -> list[str]:
    if not build.torch_version:
        return []
    wheel = suggest_wheel(ctx, build.torch_version, ccs=[cc], any_driver=True)
    return [wheel] if wheel else [f"No official torch wheel known to the knowledge base has code for CC {cc}."]


def driver_upgrade(ctx: CheckContext, runtime: RuntimeVerdict) -> tuple[str | None, str | None]:
    """(``Install driver >= X`` fix, None), or (None, why no driver can fix it here)."""
    needed = runtime.needed
    if needed is None:
        return None, None
    blocker = branch_blocker(ctx.kb, ctx.visible_gpus, runtime.branch or driver_branch(needed))
    if blocker:
        return None, blocker
    return install_driver(
        needed if runtime.exact else Version.of(needed.major),
        minor_compat=None if runtime.family_floor else runtime.minor_compat,
        branch=runtime.branch,
        platform=runtime.platform,
    ), None


def _forward_compat(ctx: CheckContext, runtime: RuntimeVerdict) -> tuple[str | None, str | None]:
    """Forward compatibility crosses CUDA majors, and only on datacenter GPUs (else error 804):
    (the fix, None) where every GPU is eligible, (None, why not) where some is not."""
    products = [ctx.kb.gpu_product(name=g.name, pci_device_id=g.pci_device_id) for g in ctx.visible_gpus]
    if not products or runtime.minor_compat is None or runtime.driver >= runtime.minor_compat:
        return None, None
    cuda = runtime.cuda
    package = f"cuda-compat-{cuda.major}-{cuda.minor}"
    targetable = [
        a.targetable_by(cuda) for p in products if p and (a := ctx.kb.architecture_of_cc(p.compute_capability))
    ]
    if not all(targetable):
        return None, None  # CUDA itself dropped (or predates) a GPU here: compat libraries cannot help
    if all(p is not None and p.forward_compat_eligible for p in products):
        return (
            f"Or keep the driver and install {package} (forward compatibility, datacenter GPUs only), "
            "with LD_LIBRARY_PATH=/usr/local/cuda/compat.",
            None,
        )
    names = ", ".join(sorted({g.name for g in ctx.visible_gpus}))
    return (
        None,
        f"forward compatibility ({package}) is not an option here: {names} is not a datacenter GPU "
        "(it would fail with error 804)",
    )


def suggest_wheel(
    ctx: CheckContext, torch_version: str, ccs: list[Version] | None = None, any_driver: bool = False
) -> str | None:
    """The official torch wheel that is the smallest change: code for every GPU here (else for
    ``ccs``), runs on this driver (natively before through minor-version compatibility; with
    ``any_driver``, else the least driver upgrade), the same release before others, newer
    releases before older."""
    driver = Version.parse_or_none(ctx.host.driver.version)
    platform = ctx.host.wheel_platform()
    release = ctx.kb.torch_release(torch_version)
    every_gpu = [cc for g in ctx.visible_gpus if (cc := Version.parse_or_none(g.compute_capability))]
    for wanted in [every_gpu, ccs] if ccs else [every_gpu]:
        candidates = []
        for candidate in ctx.kb.torch_releases:
            for wheel in ctx.kb.torch_variants_for(str(candidate.version), platform):
                if not (wheel.cuda and wheel.archs and all(wheel.archs.covers(cc).kind == "sass" for cc in wanted)):
                    continue
                runtime = judge_runtime(ctx.kb, wheel.cuda, driver, ctx.driver_platform) if driver else None
                needs_upgrade = runtime if runtime is not None and not runtime.runs else None
                upgrade = needs_upgrade is not None
                if upgrade and not any_driver:
                    continue
                limited = runtime is not None and runtime.status == "minor-compat"
                # without a driver to judge by, the wheel a plain `pip install torch` gets is the natural pick
                rank = (
                    candidate is not release,
                    upgrade,
                    limited,
                    driver is None and not wheel.default_pypi,
                    needs_upgrade.native if needs_upgrade else Version.of(0),
                    -candidate.version.major,
                    -candidate.version.minor,
                    -wheel.cuda.major,
                    -wheel.cuda.minor,
                )
                candidates.append((rank, candidate, wheel, needs_upgrade))
        if candidates:
            _, candidate, wheel, runtime = min(candidates, key=lambda c: c[0])
            version = torch_version.split("+")[0]
            exact = candidate is release and re.fullmatch(r"\d+\.\d+\.\d+", version)  # not 2.7.0a0: no index has it
            command = torch_wheel_command(version if exact else f"{candidate.version}.*", wheel.variant, ctx.host)
            return command + (f" (needs driver >= {runtime.native})" if runtime and runtime.native else "")
    return None


def _str(value: object) -> str | None:
    return str(value) if value is not None else None
