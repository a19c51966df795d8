"""torch.toml: PyTorch releases, their official wheel variants (+cu121), the CUDA of the default
PyPI wheel, and the architectures each wheel is compiled for."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from gpu_preflight.core.versions import Version, variant_cuda, variant_for_cuda, variant_problem
from gpu_preflight.knowledge.arch_list import ArchList, ArchListError
from gpu_preflight.knowledge.files import DataFiles
from gpu_preflight.knowledge.model import TorchRelease, TorchWheel
from gpu_preflight.knowledge.provenance import STATUSES, Provenance, weakest_status
from gpu_preflight.knowledge.row import KnowledgeError

TORCH_FILE = "torch.toml"
# Platform names as callers give them -> the wheel platform of the data file.
TORCH_PLATFORMS = {
    "linux": "linux-x86_64",
    "linux-x86_64": "linux-x86_64",
    "linux-aarch64": "linux-aarch64",
    "aarch64": "linux-aarch64",
    "windows": "windows-x86_64",
    "windows-x86_64": "windows-x86_64",
}
WHEEL_PLATFORMS = frozenset(TORCH_PLATFORMS.values())
DEFAULT_WHEEL_PLATFORM = "linux-x86_64"  # the only platform whose default PyPI wheel is known
_TORCH_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.\d+)?[^+]*(?:\+(\w+))?")


@dataclass(frozen=True)
class PlatformDefault:
    """The CUDA of the plain PyPI wheel of one release on a platform other than Linux x86_64
    (a ``[[default_wheel]]`` row: linux-aarch64's CPU-only wheel up to 2.10, cu130 from 2.11)."""

    torch: Version  # "2.11"
    platform: str
    cuda: Version | None  # None: the plain PyPI wheel there is the CPU-only build (``variant = "cpu"``)
    provenance: Provenance


@dataclass(frozen=True)
class TorchTables:
    """Everything torch.toml says, read together: wheels need their releases and the index URL."""

    index_template: str  # "https://download.pytorch.org/whl/{variant}"
    releases: tuple[TorchRelease, ...]  # oldest first
    wheels: tuple[TorchWheel, ...]  # every (release, variant, platform) whose architectures are known
    platform_defaults: tuple[PlatformDefault, ...] = ()  # default PyPI wheels beyond Linux x86_64

    def platform_default(self, release: TorchRelease, platform: str) -> PlatformDefault | None:
        return next((d for d in self.platform_defaults if d.torch == release.version and d.platform == platform), None)

    def index_url(self, variant: str) -> str:
        return self.index_template.format(variant=variant)


def read_torch_tables(files: DataFiles) -> TorchTables:
    index_template = _read_index_template(files)
    releases = _read_releases(files)
    defaults = _read_platform_defaults(files, releases)
    wheels = _read_wheels(files, releases, index_template, defaults)
    return TorchTables(index_template, releases, wheels, defaults)


def _read_platform_defaults(files: DataFiles, releases: tuple[TorchRelease, ...]) -> tuple[PlatformDefault, ...]:
    by_version = {r.version: r for r in releases}
    result = []
    for row in files.rows(TORCH_FILE, "default_wheel"):
        torch = row.version("torch")
        release = by_version.get(torch)
        if release is None:
            raise row.error(f"torch {torch} has no [[release]] row")
        platform = row.text("platform")
        if platform not in WHEEL_PLATFORMS or platform == DEFAULT_WHEEL_PLATFORM:
            raise row.error(f"platform {platform!r}: the Linux x86_64 default is the release row's default_pypi_cuda")
        variant = row.text("variant", None)
        if variant not in (None, "cpu"):
            raise row.error(f"variant {variant!r}: only 'cpu' (a CUDA build is given as cuda = \"X.Y\")")
        cuda = None if variant == "cpu" else row.version("cuda")
        if cuda is not None and variant_for_cuda(cuda) not in release.variants:
            raise row.error(f"CUDA {cuda} is not a published variant of torch {torch}")
        result.append(PlatformDefault(torch, platform, cuda, row.provenance()))
        row.finish()
    keys = [(d.torch, d.platform) for d in result]
    if len(keys) != len(set(keys)):
        raise KnowledgeError(f"{files.label(TORCH_FILE)}: a (torch, platform) has two [[default_wheel]] rows")
    return tuple(result)


def _read_index_template(files: DataFiles) -> str:
    row = files.section(TORCH_FILE, "index")
    template = row.text("url_template")
    row.provenance()  # checked, not kept: every wheel carries its own
    row.finish()
    if "{variant}" not in template:
        raise row.error("url_template must contain {variant}")
    return template


def _read_releases(files: DataFiles) -> tuple[TorchRelease, ...]:
    result = []
    for row in files.rows(TORCH_FILE, "release"):
        variants = row.texts("variants")
        for variant in variants:
            if variant != "cpu" and (variant_problem(variant) or variant_cuda(variant) is None):
                raise row.error(f"variant {variant!r} is not cuXYZ")
        notes = row.mapping("variant_notes", ())
        if any(v not in variants for v, _ in notes):
            raise row.error("variant_notes names a variant not in 'variants'")
        default_status = row.text("default_pypi_status")
        if default_status not in STATUSES:
            raise row.error(f"default_pypi_status {default_status!r} is not a status")
        result.append(
            TorchRelease(
                version=row.version("version"),
                stable_cuda=row.versions("stable_cuda"),
                experimental_cuda=row.versions("experimental_cuda"),
                variants=variants,
                variant_notes=notes,
                default_pypi_cuda=row.version("default_pypi_cuda", None),
                default_pypi_status=default_status,
                provenance=row.provenance(),
            )
        )
        row.finish()
    return tuple(sorted(result, key=lambda r: r.version))


def _read_wheels(
    files: DataFiles,
    releases: tuple[TorchRelease, ...],
    index_template: str,
    defaults: tuple[PlatformDefault, ...] = (),
) -> tuple[TorchWheel, ...]:
    by_version = {r.version: r for r in releases}
    result = []
    for row in files.rows(TORCH_FILE, "wheel"):
        torch = row.version("torch")
        release = by_version.get(torch)
        if release is None:
            raise row.error(f"torch {torch} has no [[release]] row")
        platform = row.text("platform")
        if platform not in WHEEL_PLATFORMS:
            raise row.error(f"platform {platform!r} is not one of {', '.join(sorted(WHEEL_PLATFORMS))}")
        try:
            archs = ArchList.parse(row.text("archs"))
        except ArchListError as exc:
            raise row.error(str(exc)) from None
        provenance = row.provenance()
        for variant in row.texts("variants"):
            if variant not in release.variants:
                raise row.error(f"variant {variant!r} is not a variant of torch {torch}")
            result.append(
                TorchWheel(
                    torch_version=str(torch),
                    variant=variant,
                    platform=platform,
                    cuda=variant_cuda(variant),
                    archs=archs,
                    default_pypi=_is_default_pypi(release, variant, platform, defaults),
                    index_url=index_template.format(variant=variant),
                    provenance=provenance,
                )
            )
        row.finish()
    keys = [(w.torch_version, w.variant, w.platform) for w in result]
    if len(keys) != len(set(keys)):
        raise KnowledgeError(f"{files.label(TORCH_FILE)}: a (torch, variant, platform) has two [[wheel]] rows")
    return tuple(result)


def _is_default_pypi(
    release: TorchRelease, variant: str, platform: str, defaults: tuple[PlatformDefault, ...] = ()
) -> bool:
    if platform == DEFAULT_WHEEL_PLATFORM:
        return release.default_pypi_cuda == variant_cuda(variant)
    return any(
        d.torch == release.version and d.platform == platform and d.cuda == variant_cuda(variant) for d in defaults
    )


def _split(torch_version: str) -> tuple[Version, str | None] | None:
    """``2.4.1+cu121`` -> (2.4, "cu121"); ``2.4`` -> (2.4, None); None when not a torch version."""
    m = _TORCH_VERSION.match(torch_version.strip())
    return (Version.of(int(m[1]), int(m[2])), m[3]) if m else None


def find_torch_release(tables: TorchTables, torch_version: str) -> TorchRelease | None:
    """The release row of ``2.4.1``, ``2.4``, ``2.4.1+cu121`` (matched by major.minor)."""
    split = _split(torch_version)
    if split is None:
        return None
    return next((r for r in tables.releases if r.version == split[0]), None)


def find_torch_wheel(tables: TorchTables, torch_version: str, variant: str | None, platform: str) -> TorchWheel | None:
    """An official torch wheel. ``variant`` None means the ``+cuXYZ`` local version of
    ``torch_version`` if it has one (``2.1.0+cu118``), else the default PyPI wheel, which is known
    for Linux x86_64 only. ``"cpu"`` is the CPU-only build. None for a release or variant we do not
    know; ``archs`` None where the variant exists but its architecture list for this platform is
    not in our sources."""
    split = _split(torch_version)
    release = find_torch_release(tables, torch_version)
    platform = TORCH_PLATFORMS.get(platform, platform)
    if split is None or release is None or platform not in WHEEL_PLATFORMS:
        return None
    variant = variant or split[1]
    status_floor = "confirmed"
    default_note = ""
    if variant is None:
        if platform == DEFAULT_WHEEL_PLATFORM and release.default_pypi_cuda is not None:
            variant = variant_for_cuda(release.default_pypi_cuda)
            status_floor = release.default_pypi_status
        elif (other := tables.platform_default(release, platform)) is not None:
            variant = variant_for_cuda(other.cuda) if other.cuda else "cpu"
            status_floor = other.provenance.status
            default_note = f"default PyPI wheel on {platform}: {other.provenance.note}".rstrip(": ")
        else:
            return None
    if variant == "cpu":
        return TorchWheel(
            torch_version=torch_version,
            variant="cpu",
            platform=platform,
            cuda=None,
            archs=ArchList(()),
            default_pypi=bool(default_note),
            index_url=tables.index_url("cpu"),
            provenance=Provenance(
                weakest_status("derived", status_floor),
                release.provenance.sources,
                "; ".join(filter(None, ["CPU-only build: no CUDA at all", default_note])),
            ),
        )
    if variant not in release.variants:
        return None
    wheel = next(
        (
            w
            for w in tables.wheels
            if w.torch_version == str(release.version) and w.variant == variant and w.platform == platform
        ),
        None,
    )
    if wheel is None:
        unknown = f"compiled architectures of torch {release.version} {variant} on {platform} are not in our sources"
        return TorchWheel(
            torch_version=torch_version,
            variant=variant,
            platform=platform,
            cuda=variant_cuda(variant),
            archs=None,
            default_pypi=_is_default_pypi(release, variant, platform, tables.platform_defaults),
            index_url=tables.index_url(variant),
            provenance=Provenance(
                "unconfirmed",
                release.provenance.sources,
                "; ".join(filter(None, [unknown, release.variant_note(variant), default_note])),
            ),
        )
    provenance = replace(
        wheel.provenance,
        status=weakest_status(wheel.provenance.status, status_floor),
        note="; ".join(filter(None, [wheel.provenance.note, release.variant_note(variant), default_note])),
    )
    return replace(wheel, torch_version=torch_version, provenance=provenance)


def torch_variants_for(tables: TorchTables, torch_version: str, platform: str) -> tuple[TorchWheel, ...]:
    """Every published CUDA variant of a release (archs None where unknown for the platform)."""
    release = find_torch_release(tables, torch_version)
    if release is None:
        return ()
    wheels = (find_torch_wheel(tables, torch_version, v, platform) for v in release.variants)
    return tuple(w for w in wheels if w is not None)
