"""What each target needs from the host, as one value: a CUDA runtime and the compiled
architectures. A ``--torch`` spec, a ``--cuda`` runtime and an installed framework all become a
Build, so one set of rules judges them all."""

from __future__ import annotations

from dataclasses import dataclass, field

from gpu_preflight.core.host import Framework, Host
from gpu_preflight.core.versions import Version
from gpu_preflight.knowledge import ArchList, ArchListError


@dataclass(frozen=True)
class Build:
    label: str  # "torch 2.1.0+cu118", "CUDA 12.4 runtime"
    source: str  # where the user asked for it: "--torch 2.1.0+cu118", "installed", "requirements.txt:3"
    cuda: Version | None  # None: no CUDA at all (CPU-only build)
    archs: ArchList | None = None  # None: unknown; judged by the CUDA's targetable range instead
    archs_source: str | None = None  # knowledge-base | torch.cuda.get_arch_list()
    torch_version: str | None = None  # release, for suggesting other wheels of it
    installed: bool = False  # found on the host rather than asked for
    notes: tuple[str, ...] = field(default_factory=tuple)  # what is uncertain about this build
    unknown: str | None = None  # why the build could not be identified (then nothing else is judged)

    @property
    def cpu_only(self) -> bool:
        return self.cuda is None and self.unknown is None


def build_for_torch(kb, target, platform: str) -> Build:
    """A ``TorchTarget`` (targets.py) as a Build."""
    label = f"torch {target.torch_version or target.specifier or '(any)'}" + (
        f"+{target.variant}" if target.variant else ""
    )
    if not target.pinned or target.torch_version is None:
        return Build(
            label,
            target.source,
            None,
            unknown=f"{target.source} does not pin one torch release ({target.specifier or 'no version'}); pin one (torch==X.Y.Z) to judge it",
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
    notes = tuple(filter(None, (*target.notes, wheel.note if wheel.status == "unconfirmed" else "")))
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


def build_for_cuda(target) -> Build:
    """A ``CudaTarget`` (targets.py) as a Build."""
    return Build(f"CUDA {target.cuda} runtime", target.source, target.cuda)


def build_for_framework(kb, framework: Framework, platform: str) -> Build | None:
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


def _deep_archs(deep: dict) -> ArchList | None:
    try:
        return ArchList.parse(deep["arch_list"]) if deep.get("arch_list") else None
    except ArchListError:
        return None


def resolve_builds(kb, host: Host, targets) -> list[Build]:
    """The builds to judge: the targets when any were given, else what is installed."""
    platform = host.wheel_platform()
    if targets:
        return [build_for_torch(kb, t, platform) if hasattr(t, "torch_version") else build_for_cuda(t) for t in targets]
    builds = (
        build_for_framework(kb, f, platform)
        for f in host.frameworks
        if f.name in JUDGED_FRAMEWORKS or f.name.startswith("cupy")
    )
    return [b for b in builds if b is not None]


JUDGED_FRAMEWORKS = ("torch", "jaxlib", "tensorflow")
