"""The Build value object: what a target needs from the host, as one value (a CUDA runtime and
the compiled architectures), and how each kind of target becomes one. A ``--torch`` spec, a
``--cuda`` runtime and an installed framework all become a Build, so one set of rules
(checks/builds.py) judges them all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gpu_preflight.core.host import Framework, Host
from gpu_preflight.core.versions import Version
from gpu_preflight.knowledge import ArchList, ArchListError
from gpu_preflight.targets.model import CudaTarget, TorchTarget

if TYPE_CHECKING:
    from gpu_preflight.knowledge import KnowledgeBase
    from gpu_preflight.knowledge.model import TorchRelease

# Installed frameworks judged as builds (besides cupy-cudaXY): the ones that bundle a CUDA runtime.
JUDGED_FRAMEWORKS = ("torch", "jaxlib", "tensorflow")


@dataclass(frozen=True)
class Build:
    label: str  # "torch 2.1.0+cu118", "CUDA 12.4 runtime"
    source: str  # where the user asked for it: "--torch 2.1.0+cu118", "installed", "requirements.txt:3"
    cuda: Version | None  # None: no CUDA at all (a CPU-only build, unless ``unknown`` says why)
    archs: ArchList | None = None  # None: unknown; judged by the CUDA's targetable range instead
    archs_source: str | None = None  # knowledge-base | torch.cuda.get_arch_list()
    torch_version: str | None = None  # release, for suggesting other wheels of it
    installed: bool = False  # found on the host rather than asked for
    notes: tuple[str, ...] = field(default_factory=tuple)  # what is uncertain about this build
    unknown: str | None = None  # why the build could not be identified (then nothing else is judged)
    assumed: str | None = None  # what had to be assumed to judge it (said as a warning, then judged)
    pin: str | None = None  # the install line that makes an unpinned target reproducible


def build_for_torch(kb: KnowledgeBase, target: TorchTarget, platform: str) -> Build:
    """A ``TorchTarget`` as a Build: the official wheel it names, from the knowledge base."""
    label = f"torch {target.torch_version or target.specifier or '(any)'}" + (
        f"+{target.variant}" if target.variant else ""
    )
    if target.variant and not target.variant.startswith("cu") and target.variant != "cpu":
        return Build(
            label,
            target.source,
            None,
            unknown=f"{target.variant} builds are not for NVIDIA GPUs: it will not use the GPUs here, so it has no "
            "CUDA runtime or architectures to judge; still judged: the driver and each GPU on their own.",
        )
    if not target.pinned or target.torch_version is None:
        return _unpinned(kb, target, label, platform)
    wheel = kb.torch_wheel(target.torch_version, target.variant, platform)
    if wheel is None:
        return _unknown_wheel(kb, target, target.torch_version, label, platform)
    unconfirmed = wheel.provenance.note if wheel.provenance.status == "unconfirmed" else ""
    notes = tuple(filter(None, (*target.notes, unconfirmed)))
    label = f"torch {target.torch_version}+{wheel.variant}" + (
        " (default PyPI wheel)" if target.variant is None and wheel.default_pypi else ""
    )
    return Build(
        label,
        target.source,
        wheel.cuda,
        wheel.archs,
        "knowledge-base" if wheel.archs else None,
        torch_version=target.torch_version,
        notes=notes,
    )


def _unpinned(kb: KnowledgeBase, target: TorchTarget, label: str, platform: str) -> Build:
    """A bare ``torch`` or a range: pip installs the newest release it admits at build time,
    judged as the newest such release the knowledge base knows."""
    wanted = target.specifier or "no version"
    release = newest_admitted(kb, target.specifier)
    wheel = kb.torch_wheel(str(release.version), target.variant, platform) if release else None
    if release is None or wheel is None:
        missing = (
            f"its default wheel for {platform} is not in the knowledge base"
            if release
            else "no release known to the knowledge base satisfies it"
        )
        return Build(
            label,
            target.source,
            None,
            unknown=(
                f"{target.source} does not pin one torch release ({wanted}) and {missing}. Unknown: its CUDA "
                "runtime and architectures; still judged: the driver and each GPU on their own. Pin one "
                "(torch==X.Y.Z) to judge it."
            ),
        )
    from gpu_preflight.checks.fixes import torch_wheel_command

    newest = release is kb.torch_releases[-1]
    what = f"torch {release.version}'s {'default PyPI wheel' if target.variant is None else 'wheel'}"
    assumed = (
        f"{target.source} does not pin one torch release ({wanted}): judged as the wheel pip installs at build "
        f"time, as of the knowledge base {what}, the {wheel.variant} build (CUDA {wheel.cuda} runtime)"
        + ("; a newer release may be out by the time it is built" if newest else "")
        + ". Pin it to make the build reproducible."
    )
    return Build(
        f"torch{target.specifier} (unpinned: {release.version}+{wheel.variant} today)",
        target.source,
        wheel.cuda,
        wheel.archs,
        "knowledge-base" if wheel.archs else None,
        torch_version=str(release.version),
        notes=tuple(n for n in target.notes if "does not pin one release" not in n),  # the assumption says it
        assumed=assumed,
        pin=torch_wheel_command(f"{release.version}.*", wheel.variant),
    )


def newest_admitted(kb: KnowledgeBase, specifier: str) -> TorchRelease | None:
    """The newest release in the knowledge base that ``specifier`` (PEP 440, "" for any) admits;
    None when none does or the specifier is not PEP 440 (Poetry's ``^2.1``)."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        spec = SpecifierSet(specifier)
    except InvalidSpecifier:
        return None
    for release in reversed(kb.torch_releases):
        line = f"{release.version.major}.{release.version.minor}"
        if any(spec.contains(f"{line}.{patch}", prereleases=True) for patch in (0, 1, 9, 99)):
            return release
    return None


def _unknown_wheel(kb: KnowledgeBase, target: TorchTarget, version: str, label: str, platform: str) -> Build:
    """No official wheel in the knowledge base: judge what the input itself still says (the
    ``+cuXYZ`` label, a release newer than the table), and say what stays unknown."""
    release = kb.torch_release(version)
    cuda = target.cuda
    unknown_archs = f"its compiled architecture list is unknown, so each GPU is judged by what CUDA {cuda} can target"
    if cuda is not None:
        if release is None:
            why = f"torch {version} is not in the knowledge base"
        else:
            why = (
                f"torch {release.version} has no official {target.variant} wheel (its variants: "
                f"{', '.join(release.variants)}), so this is a build of its own"
            )
        return Build(
            label,
            target.source,
            cuda,
            torch_version=version,
            notes=target.notes,
            assumed=f"{why}: its CUDA runtime is read from the local version label +{target.variant} "
            f"(CUDA {cuda}); {unknown_archs}.",
        )
    newest = kb.torch_releases[-1] if kb.torch_releases else None
    line = Version.parse_or_none(version)
    if target.variant is None and release is None and newest and line and line.truncate(2) > newest.version:
        wheel = kb.torch_wheel(str(newest.version), None, platform)
        if wheel is not None and wheel.cuda is not None:
            cuda = wheel.cuda
            return Build(
                f"torch {version} (default PyPI wheel, assumed +{wheel.variant})",
                target.source,
                cuda,
                torch_version=version,
                notes=target.notes,
                assumed=f"torch {version} is newer than the knowledge base (newest known: {newest.version}): "
                f"judged as the newest known default wheel, {newest.version}'s {wheel.variant} (CUDA {cuda} "
                f"runtime), unconfirmed for {version}; its compiled architecture list is unknown, so each GPU is "
                f"judged by what CUDA {cuda} can target.",
            )
    if release is None:
        known = "release not in the knowledge base"
    elif target.variant is None:
        known = f"its default PyPI wheel for {platform} is not in our sources; pin a variant"
        known += f" such as +{release.variants[-1]}"
    else:
        known = f"known variants of {release.version}: {', '.join(release.variants)}"
    return Build(
        label,
        target.source,
        None,
        torch_version=version,
        unknown=(
            f"no official wheel {label} for {platform} ({known}). Unknown: its CUDA runtime and architectures; "
            "still judged: the driver and each GPU on their own."
        ),
    )


def build_for_cuda(target: CudaTarget) -> Build:
    """A ``CudaTarget`` as a Build: a runtime, architectures unknown."""
    return Build(f"CUDA {target.cuda} runtime", target.source, target.cuda)


def build_for_framework(kb: KnowledgeBase, framework: Framework, platform: str) -> Build | None:
    """An installed framework; torch's architectures from --deep when it ran, else from the
    knowledge base for official wheels."""
    label = f"{framework.name} {framework.version}"
    if framework.name == "torch":
        deep = framework.details.get("deep") or {}
        archs, archs_source = _deep_archs(deep), "torch.cuda.get_arch_list()"
        if framework.variant == "cpu":
            return Build(label, "installed", None, torch_version=framework.version.split("+")[0], installed=True)
        if framework.variant and not framework.variant.startswith("cu"):
            return None  # ROCm and friends: not ours to judge
        release = framework.version.split("+")[0]
        # conda's builds are made by other scripts than the pip wheels, with other architectures
        wheel = kb.torch_wheel(release, framework.variant, platform) if framework.installer != "conda" else None
        if archs is None and wheel is not None and wheel.cuda == Version.parse_or_none(framework.cuda):
            archs, archs_source = wheel.archs, "knowledge-base"
        cuda = Version.parse_or_none(framework.cuda)
        unknown = "installed by conda, not a pip wheel" if framework.installer == "conda" else "a source build?"
        notes = () if archs else (f"compiled architectures unknown ({unknown}): run with --deep to read them",)
        return Build(
            label,
            "installed",
            cuda,
            archs,
            archs_source if archs else None,
            torch_version=release,
            installed=True,
            notes=notes,
        )
    cuda = Version.parse_or_none(framework.cuda)
    if cuda is None or len(cuda.parts) < 2:
        return None  # only a major is known (cupy-cuda12x): nothing precise to judge
    return Build(label, "installed", cuda, installed=True)


def _deep_archs(deep: dict[str, Any]) -> ArchList | None:
    try:
        return ArchList.parse(deep["arch_list"]) if deep.get("arch_list") else None
    except ArchListError:
        return None


def resolve_builds(kb: KnowledgeBase, host: Host, targets: Sequence[TorchTarget | CudaTarget]) -> list[Build]:
    """The builds to judge: the targets when any were given, else what is installed."""
    platform = host.wheel_platform()
    if targets:
        return [build_for_torch(kb, t, platform) if isinstance(t, TorchTarget) else build_for_cuda(t) for t in targets]
    builds = (
        build_for_framework(kb, f, platform)
        for f in host.frameworks
        if f.name in JUDGED_FRAMEWORKS or f.name.startswith("cupy")
    )
    return [b for b in builds if b is not None]
