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


def build_for_torch(kb: KnowledgeBase, target: TorchTarget, platform: str) -> Build:
    """A ``TorchTarget`` as a Build: the official wheel it names, from the knowledge base."""
    label = f"torch {target.torch_version or target.specifier or '(any)'}" + (
        f"+{target.variant}" if target.variant else ""
    )
    if not target.pinned or target.torch_version is None:
        pinned = target.specifier or "no version"
        return Build(
            label,
            target.source,
            None,
            unknown=f"{target.source} does not pin one torch release ({pinned}); pin one (torch==X.Y.Z) to judge it",
        )
    if target.variant and not target.variant.startswith("cu") and target.variant != "cpu":
        return Build(label, target.source, None, unknown=f"{target.variant} builds are not for NVIDIA GPUs")
    wheel = kb.torch_wheel(target.torch_version, target.variant, platform)
    if wheel is None:
        release = kb.torch_release(target.torch_version)
        known = (
            f"known variants of {release.version}: {', '.join(release.variants)}"
            if release
            else "release not in the knowledge base"
        )
        return Build(
            label,
            target.source,
            None,
            torch_version=target.torch_version,
            unknown=f"no official wheel {label} for {platform} ({known})",
        )
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
        wheel = kb.torch_wheel(release, framework.variant, platform)
        if archs is None and wheel is not None and wheel.cuda == Version.parse_or_none(framework.cuda):
            archs, archs_source = wheel.archs, "knowledge-base"
        cuda = Version.parse_or_none(framework.cuda)
        notes = () if archs else ("compiled architectures unknown (a source build?): run with --deep to read them",)
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
