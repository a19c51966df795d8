"""Inference engines judged like torch: each engine target (``--engine-pkg``, an engine pin in a
requirements file, ``pip install vllm`` in a Dockerfile, an engine image) is resolved with the
knowledge base to the build that will run (its CUDA runtime and its own kernels' architectures),
that build goes through the same rules as a torch wheel (checks/builds.py: driver against
runtime, architecture coverage, forward compatibility), and the engine's own floors are added
(vLLM: compute capability >= 7.0, 7.5 from its CUDA 13 builds; Ollama: its driver floors).

Fixes name the install command for this host: another build of the same release that runs on
this driver (vLLM's cu129 wheel), the driver that runs the default build, an older release
whose default build runs here, or an engine that still has kernels for an old GPU.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from gpu_preflight.checks.build import Build
from gpu_preflight.checks.builds import judge_build
from gpu_preflight.checks.context import CheckContext
from gpu_preflight.checks.fixes import install_driver
from gpu_preflight.checks.runtime import judge_runtime
from gpu_preflight.core.findings import Finding, Severity
from gpu_preflight.core.host import Gpu
from gpu_preflight.core.versions import Version
from gpu_preflight.knowledge.engines import EngineBuild, EngineRelease
from gpu_preflight.targets.model import EngineTarget

if TYPE_CHECKING:
    from gpu_preflight.images.resolve import ImageFacts

# Findings of judge_build about a GPU's architecture: replaced by the engine's own floor where it fails.
_ARCH_CODES = ("arch-missing", "arch-ptx", "arch-cuda")


def check_engines(ctx: CheckContext) -> Iterator[Finding]:
    for target in ctx.engines:
        yield from judge_engine(ctx, target)
    for image in ctx.images:
        if image.engine is not None:
            yield from judge_engine(ctx, image.engine, image)


def judge_engine(ctx: CheckContext, target: EngineTarget, image: ImageFacts | None = None) -> Iterator[Finding]:
    """Everything said about one engine target on this host."""
    release = ctx.kb.engine_release(target.engine, target.version)
    evidence: dict[str, Any] = {"target": target.engine, "version": target.version, "source": target.source}
    if release is None:
        known = ", ".join(e.key for e in ctx.kb.engines)
        what = (
            f"{target.engine} {target.version} is not a release number"
            if ctx.kb.engine(target.engine)
            else f"{target.engine} is not in the knowledge base (known engines: {known})"
        )
        yield Finding(
            code="target-unknown",
            severity=Severity.WARN,
            title=f"{target.engine} {target.version or ''}: cannot be judged".replace("  ", " "),
            detail=what,
            evidence=evidence,
        )
        return
    name = release.engine.name
    label = f"{name} {release.version if target.version else '(unpinned)'}"
    evidence.update(
        rule=release.rule_version,
        torch=release.torch,
        status=release.provenance.status,
        sources=list(release.provenance.sources),
    )
    builds = _builds(ctx, release, target)
    if not builds:
        known = ", ".join(b.variant for b in release.builds)
        yield Finding(
            code="target-unknown",
            severity=Severity.WARN,
            title=f"{label}: no {target.variant} build known",
            detail=f"Known builds of {name} {release.rule_version}: {known}.",
            evidence=evidence,
        )
        return
    chosen = builds[0]
    yield _release_finding(release, chosen, target, label, evidence)
    floor_failed: set[int] = set()
    for finding in _floors(ctx, release, label, evidence):
        if finding.device is not None:
            floor_failed.add(finding.device)
        yield finding
    # An engine image ships the engine's CUDA as its own: the image gate judges it against the driver.
    image_judges_cuda = target.bundled and image is not None and (image.cuda is not None or image.env is not None)
    build = Build(
        label=f"{label} ({chosen.variant}, CUDA {chosen.cuda})",
        source=target.source,
        cuda=chosen.cuda,
        archs=chosen.archs,
        archs_source="knowledge-base" if chosen.archs else None,
        notes=tuple(n for n in target.notes if n),
    )
    for finding in judge_build(ctx, build):
        if finding.code in _ARCH_CODES and finding.device in floor_failed:
            continue  # the engine's own floor already says why, more plainly
        if finding.code == "driver-runtime" and image_judges_cuda:
            continue  # the image gate judges the image's CUDA against the driver
        if finding.code == "driver-runtime" and finding.severity >= Severity.WARN:
            finding.fix.extend(_runtime_fixes(ctx, release, chosen, native=finding.severity == Severity.WARN))
        elif finding.code in _ARCH_CODES and finding.severity == Severity.FAIL and finding.device is not None:
            finding.fix.extend(_gpu_fixes(ctx, release, _cc_of(ctx.visible_gpus, finding.device)))
        yield finding


def _builds(ctx: CheckContext, release: EngineRelease, target: EngineTarget) -> list[EngineBuild]:
    """The builds in the order they are judged: the one that will run first."""
    if target.variant:
        return [b for b in release.builds if b.variant == target.variant]
    if release.engine.selection == "install":
        return [release.default_build]
    # The engine loads (or the user downloads) the build that runs here: the first that does.
    ordered = sorted(release.builds, key=lambda b: not b.default)
    working = [b for b in ordered if _runs_here(ctx, b)]
    return working + [b for b in ordered if b not in working]


def _runs_here(ctx: CheckContext, build: EngineBuild, native: bool = False) -> bool:
    """The build runs on this driver (``native``: without minor-version compatibility) and has
    code for every visible GPU."""
    driver = Version.parse_or_none(ctx.host.driver.version)
    if driver is not None:
        runtime = judge_runtime(ctx.kb, build.cuda, driver, ctx.driver_platform)
        if not runtime.runs or (native and runtime.status != "native"):
            return False
    ccs = [cc for g in ctx.visible_gpus if (cc := Version.parse_or_none(g.compute_capability))]
    return build.archs is None or all(build.archs.covers(cc) for cc in ccs)


def _release_finding(
    release: EngineRelease, build: EngineBuild, target: EngineTarget, label: str, evidence: dict[str, Any]
) -> Finding:
    parts = [f"torch {release.torch}"] if release.torch else []
    parts.append(f"{build.variant} build (CUDA {build.cuda})")
    if build.archs:
        parts.append(f"kernels for {build.archs}")
    if release.engine.selection == "runtime" and len(release.builds) > 1 and not target.variant:
        parts.append(f"the build that runs here, of {', '.join(b.variant for b in release.builds)}")
    unconfirmed = release.provenance.status == "unconfirmed"
    detail = release.provenance.note
    if release.provenance.conflict:
        detail += f" Sources disagree: {release.provenance.conflict} Taken: {release.provenance.chosen}"
    return Finding(
        code="engine-release",
        severity=Severity.WARN if unconfirmed else Severity.INFO,
        title=f"{label}: "
        + ", ".join(parts)
        + (
            f" (unconfirmed: judged by the rule of {release.engine.name} {release.rule_version})" if unconfirmed else ""
        ),
        detail=detail,
        evidence={**evidence, "build": build.variant, "cuda": str(build.cuda), "archs": str(build.archs or "")},
    )


def _floors(ctx: CheckContext, release: EngineRelease, label: str, evidence: dict[str, Any]) -> Iterator[Finding]:
    """The engine's own floors: compute capability per GPU, and its documented driver floors."""
    for gpu in ctx.visible_gpus:
        cc = Version.parse_or_none(gpu.compute_capability)
        if cc is None or release.min_cc is None or cc >= release.min_cc:
            continue
        yield Finding(
            code="engine-gpu-too-old",
            severity=Severity.FAIL,
            cause="gpu-too-old",
            title=f"GPU {gpu.index}: {label} needs compute capability >= {release.min_cc}; {gpu.name} is {cc}",
            detail=f"{release.engine.name} has no kernels for GPUs below compute capability {release.min_cc}: "
            "it fails at start-up or with 'no kernel image is available for execution on the device'.",
            device=gpu.index,
            evidence={**evidence, "gpu": gpu.name, "compute_capability": str(cc), "min_cc": str(release.min_cc)},
            fix=_gpu_fixes(ctx, release, cc),
        )
    driver = Version.parse_or_none(ctx.host.driver.version)
    if driver is None:
        return
    floors = [(release.min_driver, "")] if release.min_driver else []
    low = [g for g in ctx.visible_gpus if _below(g, release.low_cc_below)]
    if release.low_cc_min_driver and low:
        floors.append((release.low_cc_min_driver, f" for GPUs below compute capability {release.low_cc_below}"))
    for floor, scope in floors:
        if floor is None or driver >= floor:
            continue
        yield Finding(
            code="engine-driver",
            severity=Severity.FAIL,
            cause="driver-too-old",
            title=f"{label} needs NVIDIA driver >= {floor}{scope}; this host has {driver}",
            detail=f"{release.engine.name}'s documented driver floor{scope}.",
            evidence={**evidence, "driver": str(driver), "min_driver": str(floor)},
            fix=[install_driver(floor, f"for {release.engine.name}", platform=ctx.driver_platform)],
        )


def _below(gpu: Gpu, cc_floor: Version | None) -> bool:
    cc = Version.parse_or_none(gpu.compute_capability)
    return cc is not None and cc_floor is not None and cc < cc_floor


def _runtime_fixes(ctx: CheckContext, release: EngineRelease, chosen: EngineBuild, native: bool) -> list[str]:
    """Beside a newer driver: another build of this release that runs on this driver (``native``:
    without minor-version compatibility), else the newest older release with a build that does."""
    driver = Version.parse_or_none(ctx.host.driver.version)
    if driver is None:
        return []
    name, version = release.engine.name, release.version
    for build in release.builds:
        if build is not chosen and _runs_here(ctx, build, native):
            return [
                f"Or keep the driver and install {name} {version}'s {build.variant} build (CUDA {build.cuda}): "
                f"{build.install_command(version)}"
            ]
    for older in reversed(ctx.kb.engine_releases):
        if older.engine is not release.engine or Version.parse(older.version) >= Version.parse(release.rule_version):
            continue
        for build in older.builds:
            if _runs_here(ctx, build, native):
                return [
                    f"Or keep the driver and use {_release_name(older)} ({build.variant}, CUDA {build.cuda}): "
                    f"{build.install_command(older.version)}"
                ]
    return []


def _gpu_fixes(ctx: CheckContext, release: EngineRelease, cc: Version | None) -> list[str]:
    """For a GPU the engine has no kernels for: an older release of it that has, else the engines
    whose builds still cover this compute capability."""
    if cc is None:
        return []
    name = release.engine.name
    older = [
        r
        for r in ctx.kb.engine_releases
        if r.engine is release.engine
        and (r.min_cc is None or cc >= r.min_cc)
        and any(b.archs is not None and b.archs.covers(cc) for b in r.builds)
    ]
    if older:
        best = older[-1]
        build = next(b for b in best.builds if b.archs is not None and b.archs.covers(cc))
        return [
            f"Use {_release_name(best)} ({build.variant}), the newest release known with kernels for CC {cc}: "
            f"{build.install_command(best.version)}"
        ]
    others = _engines_covering(ctx.kb.engine_releases, cc, exclude=release.engine.key)
    if others:
        return [f"No {name} release known has kernels for CC {cc}; engines that do: {', '.join(others)}."]
    return [f"No engine release in the knowledge base has kernels for CC {cc}."]


def _engines_covering(releases: Sequence[EngineRelease], cc: Version, exclude: str) -> list[str]:
    newest: dict[str, str] = {}
    for r in releases:
        if r.engine.key == exclude or (r.min_cc is not None and cc < r.min_cc):
            continue
        covering = [b for b in r.builds if b.archs is not None and b.archs.covers(cc)]
        if covering:
            newest[r.engine.key] = f"{_release_name(r)} ({covering[0].variant})"
    return list(newest.values())


def _release_name(release: EngineRelease) -> str:
    """``vLLM 0.11.1``; ``llama.cpp (any build)`` for a rule that starts at 0 (no release number known)."""
    if release.version.strip("0.") == "":
        return f"{release.engine.name} (any build)"
    return f"{release.engine.name} {release.version}"


def _cc_of(gpus: Sequence[Gpu], index: int) -> Version | None:
    gpu = next((g for g in gpus if g.index == index), None)
    return Version.parse_or_none(gpu.compute_capability) if gpu else None
