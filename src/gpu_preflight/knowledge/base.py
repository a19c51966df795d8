"""The knowledge base: tables loaded lazily from the data files, and typed lookups over them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any

from gpu_preflight.core.versions import Version, driver_branch
from gpu_preflight.knowledge.arch import ArchList, ArchListError
from gpu_preflight.knowledge.loader import (
    KnowledgeError,
    Row,
    packaged_data_dir,
    read_toml,
    section,
    table,
)
from gpu_preflight.knowledge.model import (
    Architecture,
    CudaCCRange,
    CudaImage,
    DriverBranch,
    DriverRequirement,
    FileMeta,
    GpuProduct,
    ImageInfo,
    KnowledgeMeta,
    MinorCompatFloor,
    RequireCuda,
    Source,
    ToolkitRelease,
    TorchRelease,
    TorchWheel,
    weakest_status,
)

DATA_FILES = (
    "sources.toml",
    "toolkit.toml",
    "minor_compat.toml",
    "driver_branches.toml",
    "architectures.toml",
    "gpus.toml",
    "torch.toml",
    "cuda_images.toml",
    "framework_images.toml",
)

PLATFORMS = ("linux", "windows")
TORCH_PLATFORMS = {
    "linux": "linux-x86_64",
    "linux-x86_64": "linux-x86_64",
    "linux-aarch64": "linux-aarch64",
    "aarch64": "linux-aarch64",
    "windows": "windows-x86_64",
    "windows-x86_64": "windows-x86_64",
}
_TORCH_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.\d+)?[^+]*(?:\+(\w+))?")
_CUDA_VARIANT = re.compile(r"cu(\d+)(\d)")


def _version(value: Version | str) -> Version:
    return value if isinstance(value, Version) else Version.parse(value)


def _version_key(text: str) -> tuple[int, ...]:
    """Data versions such as 2026.11.27 compare numerically (2026.9.1 < 2026.11.27)."""
    try:
        return Version.parse(text).parts
    except ValueError:
        return ()


def _platform(platform: str) -> str:
    if platform not in PLATFORMS:
        raise ValueError(f"platform must be one of {', '.join(PLATFORMS)}: {platform!r}")
    return platform


def variant_cuda(variant: str) -> Version | None:
    """``cu121`` -> 12.1, ``cu130`` -> 13.0; None for ``cpu`` or anything else."""
    m = _CUDA_VARIANT.fullmatch(variant)
    return Version.of(int(m[1]), int(m[2])) if m else None


class KnowledgeBase:
    """All facts the checks rely on, each table read from its data file on first use.

    ``directory`` overrides the packaged data: a file present there replaces the packaged file
    of the same name; a file absent there is read from the package.
    """

    def __init__(self, directory: Path | None = None) -> None:
        if directory is not None and not directory.is_dir():
            raise KnowledgeError(f"{directory}: knowledge-base directory not found (or not a directory)")
        self.directory = directory
        self._files: dict[str, FileMeta] = {}

    # --- reading ---------------------------------------------------------------------------

    def _read(self, name: str) -> dict[str, Any]:
        path, origin = packaged_data_dir() / name, "packaged"
        if self.directory is not None and (self.directory / name).is_file():
            path, origin = self.directory / name, "override"
        data, meta = read_toml(path, origin)
        self._files[name] = meta
        return data

    def _label(self, file: str) -> str:
        """How errors name a file: its full path when it comes from an override directory."""
        meta = self._files.get(file)
        return meta.path if meta is not None and meta.origin == "override" else file

    def _rows(self, data: dict[str, Any], file: str, key: str) -> list[Row]:
        label = self._label(file)
        return [Row(label, key, i, raw, self.sources) for i, raw in enumerate(table(data, label, key))]

    def _section(self, data: dict[str, Any], file: str, key: str) -> Row:
        label = self._label(file)
        return Row(label, key, None, section(data, label, key), self.sources)

    def load_all(self) -> KnowledgeBase:
        """Read and validate every table now (an override directory is checked up front)."""
        for name in (
            "sources",
            "toolkit_releases",
            "minor_compat_floors",
            "driver_branches",
            "architectures",
            "cuda_cc_ranges",
            "gpu_products",
            "torch_releases",
            "torch_wheels",
            "_cuda_tag",
            "require_cuda_values",
            "pytorch_images",
            "vllm_images",
            "ngc_pytorch_images",
        ):
            getattr(self, name)
        return self

    @property
    def meta(self) -> KnowledgeMeta:
        """Data version and date (the newest among the files), and every file's header."""
        self.load_all()
        files = tuple(self._files[name] for name in DATA_FILES)
        return KnowledgeMeta(
            version=max((f.version for f in files), key=_version_key),
            date=max(f.date for f in files),  # ISO dates sort as text
            directory=str(self.directory) if self.directory else None,
            files=files,
        )

    # --- sources ---------------------------------------------------------------------------

    @cached_property
    def sources(self) -> Mapping[str, Source]:
        """Source key -> Source(title, url), read-only."""
        file = "sources.toml"
        data = self._read(file)
        result: dict[str, Source] = {}
        for key, raw in section(data, self._label(file), "source").items():
            row = Row(self._label(file), f"source.{key}", None, raw)
            result[key] = Source(key, row.text("title"), row.string("url", ""))
            row.finish()
        return MappingProxyType(result)

    # --- toolkit releases and driver floors ------------------------------------------------

    @cached_property
    def toolkit_releases(self) -> tuple[ToolkitRelease, ...]:
        file = "toolkit.toml"
        result = []
        for row in self._rows(self._read(file), file, "release"):
            kind = row.text("kind")
            if kind not in ("ga", "update", "rc", "preview", "family"):
                raise row.error(f"kind {kind!r} is not one of ga, update, rc, preview, family")
            result.append(
                ToolkitRelease(
                    version=row.version("version"),
                    label=row.text("label"),
                    kind=kind,
                    linux_min_driver=row.version("linux_min_driver", None),
                    linux_exact=row.boolean("linux_exact", True),
                    windows_min_driver=row.version("windows_min_driver", None),
                    windows_exact=row.boolean("windows_exact", True),
                    branch=row.integer("branch", None),
                    **row.provenance(),
                )
            )
            row.finish()
        return tuple(sorted(result, key=lambda r: r.version))

    def toolkit_release(self, cuda: Version | str) -> ToolkitRelease | None:
        """The Table 3 row of a toolkit release.

        A full version (``12.4.1``) finds that exact row. A short one (``12.4``) names the
        line and finds its GA row (12.4 -> 12.4.0; 13.4 -> 13.4.1, since 13.4.0 was a
        preview). A ``family`` row (13.5.x) answers for every release of its line.
        """
        cuda = _version(cuda)
        line = cuda.truncate(2)
        same_line = [r for r in self.toolkit_releases if r.version.truncate(2) == line]
        if len(cuda.parts) > 2:
            for r in same_line:
                if len(r.version.parts) > 2 and r.version == cuda:
                    return r
        for r in same_line:
            if r.kind == "family" or (len(cuda.parts) <= 2 and r.kind == "ga"):
                return r
        return None

    @cached_property
    def _requirements(self) -> dict:
        """Memo of driver_requirement: a fleet asks the same few questions thousands of times."""
        return {}

    def driver_requirement(self, cuda: Version | str, platform: str = "linux") -> DriverRequirement:
        """The driver a CUDA runtime needs, natively and through minor-version compatibility.

        For a runtime whose update is unknown (``12.4``, as torch reports it) or a release
        without its own Table 3 row (12.3.2, 12.4.127), the native floor is the *highest*
        among the line's rows (12.4 -> 550.54.15, Update 1): a 12.4.x build may need any of
        them, so the highest is the conservative answer. Preview rows (13.4.0) are left out
        of that, as GA supersedes them, and so are unconfirmed rows where confirmed ones
        exist; an exact version still finds its own row.
        """
        key = (_version(cuda).parts, platform)  # parts, not the Version: 12.4 and 12.4.0 differ here
        if key not in self._requirements:
            self._requirements[key] = self._driver_requirement(cuda, platform)
        return self._requirements[key]

    def _driver_requirement(self, cuda: Version | str, platform: str) -> DriverRequirement:
        platform = _platform(platform)
        cuda = _version(cuda)
        line = cuda.truncate(2)
        # A full version finds its own row (or its line's "family" row, e.g. 10.1.243).
        exact_row = self.toolkit_release(cuda) if len(cuda.parts) > 2 else None
        if exact_row is not None:
            candidates = [exact_row]
        else:
            candidates = [r for r in self.toolkit_releases if r.version.truncate(2) == line and r.kind != "preview"]
        with_floor = [r for r in candidates if r.min_driver(platform) is not None]
        # An unconfirmed row (13.0.3's third-party 580.126.20) must not become the line's floor
        # while confirmed rows exist: we state what a source supports, not a guess.
        confirmed = [r for r in with_floor if r.status != "unconfirmed"]
        with_floor = confirmed or with_floor
        chosen = max(with_floor, key=lambda r: r.min_driver(platform), default=None)

        notes: list[str] = []
        status = "confirmed"
        sources: list[str] = []
        if chosen is not None:
            status = chosen.status
            sources += chosen.sources
            if status == "unconfirmed":
                notes.append(f"{chosen.label}: floor not confirmed by NVIDIA's table ({chosen.note or 'third-party'})")
            if exact_row is None and len(with_floor) > 1:
                notes.append(
                    f"highest floor among the CUDA {line} rows ({chosen.label}): the update of this runtime is unknown"
                )
            if exact_row is None and len(cuda.parts) > 2:
                status = "unconfirmed"
                notes.append(f"CUDA {cuda} has no row of its own in Table 3")
        else:
            status = "unconfirmed"
            sources += [s for r in candidates for s in r.sources]
            notes.append(
                f"no {platform} driver floor published for CUDA {cuda}"
                if candidates
                else f"CUDA {cuda} is not a known toolkit release"
            )

        floor = self.minor_compat_floor(cuda.major, platform)
        if floor is not None:
            sources += floor.sources
        if floor is None and chosen is None:
            notes.append("and no minor-version compatibility floor applies")
        return DriverRequirement(
            cuda=cuda,
            platform=platform,
            native=chosen.min_driver(platform) if chosen else None,
            exact=chosen.min_driver_exact(platform) if chosen else False,
            minor_compat=floor.driver if floor else None,
            minor_compat_exact=floor.exact if floor else False,
            release=chosen,
            status=status,
            sources=tuple(dict.fromkeys(sources)),
            note="; ".join(notes),
        )

    @cached_property
    def minor_compat_floors(self) -> tuple[MinorCompatFloor, ...]:
        """One floor per CUDA major and platform."""
        file = "minor_compat.toml"
        result = []
        for row in self._rows(self._read(file), file, "floor"):
            major = row.integer("major")
            common = dict(
                major=major,
                upper_branch_note=row.text("upper_branch_note", ""),
                status=row.status(),
                sources=row.sources(),
                note=row.text("note", ""),
            )
            conflict, chosen = row.conflict()
            for platform in PLATFORMS:
                result.append(
                    MinorCompatFloor(
                        platform=platform,
                        driver=row.version(platform),
                        exact=row.boolean(f"{platform}_exact", True),
                        conflict=conflict,
                        chosen=chosen,
                        **common,
                    )
                )
            row.finish()
        return tuple(result)

    def minor_compat_floor(self, major: int, platform: str = "linux") -> MinorCompatFloor | None:
        """The minor-version compatibility floor of CUDA ``major``.x; None for CUDA <= 10."""
        platform = _platform(platform)
        return next(
            (f for f in self.minor_compat_floors if f.major == major and f.platform == platform),
            None,
        )

    # --- driver branches ---------------------------------------------------------------------

    @cached_property
    def driver_branches(self) -> tuple[DriverBranch, ...]:
        file = "driver_branches.toml"
        result = []
        for row in self._rows(self._read(file), file, "branch"):
            result.append(
                DriverBranch(
                    branch=row.integer("branch"),
                    max_cuda=row.version("max_cuda", None),
                    lifecycle=row.text("lifecycle", ""),
                    status=row.status(),
                    sources=row.sources(),
                    note=row.text("note", ""),
                )
            )
            row.finish()
        return tuple(sorted(result, key=lambda b: b.branch))

    @staticmethod
    def branch_of(driver: Version | str) -> int:
        """The branch of a driver version: its first component (550.54.15 -> 550, Windows
        551.78 -> 551, which the lookups place in R550 as the nearest lower branch)."""
        return driver_branch(_version(driver))

    def driver_branch(self, driver: Version | str) -> DriverBranch | None:
        """The branch of a driver and the highest CUDA it reports.

        A branch missing from the table (Windows numbering such as 551, a developer branch
        such as 616) gets the max CUDA of the nearest lower known branch, flagged
        ``lower_bound``: drivers are backward compatible, so a later branch supports at least
        every CUDA an earlier one does. The same applies to a listed branch whose max CUDA is
        unconfirmed (R620). Below the oldest known branch nothing safe can be said: None.
        """
        branch = self.branch_of(driver)
        row = next((b for b in self.driver_branches if b.branch == branch), None)
        if row is not None and row.max_cuda is not None:
            return row
        lower = next(
            (b for b in reversed(self.driver_branches) if b.branch < branch and b.max_cuda),
            None,
        )
        if row is not None:
            if lower is None:
                return row
            return replace(
                row,
                max_cuda=lower.max_cuda,
                lower_bound=True,
                note=f"{row.note} At least CUDA {lower.max_cuda}, as R{lower.branch} reports.".strip(),
            )
        if lower is None:
            return None
        return DriverBranch(
            branch=branch,
            max_cuda=lower.max_cuda,
            lifecycle="",
            status="derived",
            sources=lower.sources,
            note=(
                f"R{branch} is not in the table; the nearest lower branch R{lower.branch} "
                f"reports CUDA {lower.max_cuda}, so R{branch} supports at least that"
            ),
            known=False,
            lower_bound=True,
        )

    def max_cuda_for_driver(self, driver: Version | str) -> Version | None:
        """The highest CUDA a driver supports natively (a lower bound for unlisted branches)."""
        found = self.driver_branch(driver)
        return found.max_cuda if found else None

    # --- architectures -----------------------------------------------------------------------

    @cached_property
    def _arch_data(self) -> dict[str, Any]:
        return self._read("architectures.toml")

    @cached_property
    def architectures(self) -> tuple[Architecture, ...]:
        file = "architectures.toml"
        result = []
        for row in self._rows(self._arch_data, file, "architecture"):
            result.append(
                Architecture(
                    name=row.text("name"),
                    label=row.text("label"),
                    ccs=row.versions("ccs"),
                    first_cuda=row.version("first_cuda"),
                    last_cuda=row.version("last_cuda", None),
                    removed_in_cuda=row.version("removed_in_cuda", None),
                    first_driver_branch=row.integer("first_driver_branch", None),
                    last_driver_branch=row.integer("last_driver_branch", None),
                    dropped_in_branch=row.integer("dropped_in_branch", None),
                    preview=row.boolean("preview", False),
                    **row.provenance(),
                )
            )
            row.finish()
        seen: set[Version] = set()
        for arch in result:
            if seen & set(arch.ccs):
                raise KnowledgeError(f"{self._label(file)}: compute capability listed twice ({arch.label})")
            seen |= set(arch.ccs)
        return tuple(result)

    @cached_property
    def cuda_cc_ranges(self) -> tuple[CudaCCRange, ...]:
        file = "architectures.toml"
        result = []
        for row in self._rows(self._arch_data, file, "cuda_cc_range"):
            result.append(
                CudaCCRange(
                    cuda_from=row.version("cuda_from"),
                    cuda_to=row.version("cuda_to", None),
                    min_cc=row.version("min_cc"),
                    max_cc=row.version("max_cc"),
                    status=row.status(),
                    sources=row.sources(),
                    note=row.text("note", ""),
                )
            )
            row.finish()
        return tuple(result)

    def architecture_of_cc(self, cc: Version | str) -> Architecture | None:
        cc = _version(cc)
        return next((a for a in self.architectures if cc in a.ccs), None)

    def cuda_supports_cc(self, cuda: Version | str, cc: Version | str) -> bool:
        """Can toolkit ``cuda`` compile for compute capability ``cc``?

        Both tables must agree: the architecture's first / removed-in toolkit, and the
        min / max CC of the toolkit line (where the line is listed). Unknown CCs: False.
        """
        cuda, cc = _version(cuda), _version(cc)
        arch = self.architecture_of_cc(cc)
        if arch is None or not arch.targetable_by(cuda):
            return False
        limits = next((r for r in self.cuda_cc_ranges if r.covers_cuda(cuda)), None)
        return limits is None or limits.min_cc <= cc <= limits.max_cc

    # --- GPU products ------------------------------------------------------------------------

    @cached_property
    def _gpus(self) -> _GpuIndex:
        file = "gpus.toml"
        data = self._read(file)
        classes: dict[str, bool] = {}
        for name, raw in section(data, self._label(file), "class").items():
            row = Row(self._label(file), f"class.{name}", None, raw, self.sources)
            classes[name] = row.boolean("forward_compat_eligible")
            row.status(), row.sources(), row.text("note", "")  # checked, not kept
            row.finish()
        rules = []
        for row in self._rows(data, file, "name_rule"):
            rules.append((self._regex(row, "pattern"), row.string("replace")))
            row.text("why"), row.status(), row.sources()  # checked, not kept
            row.finish()
        index = _GpuIndex(rules)
        for row in self._rows(data, file, "product"):
            product_class = row.text("class")
            if product_class not in classes:
                raise row.error(f"class {product_class!r} is not one of {', '.join(classes)}")
            pci_ids = row.texts("pci_device_ids", ())
            if not all(re.fullmatch(r"[0-9A-F]{4}", p) for p in pci_ids):
                raise row.error("pci_device_ids must be 4 upper-case hex digits (2184)")
            aliases = row.texts("aliases", ())
            pattern = self._regex(row, "pattern", optional=True)
            if pattern is None and not aliases:
                raise row.error("a product needs 'aliases' or a 'pattern' to be found by name")
            product = GpuProduct(
                name=row.text("name"),
                compute_capability=row.version("compute_capability"),
                architecture=row.text("architecture"),
                product_class=product_class,
                brands=row.texts("brands", ()),
                memory_mib=row.integer("memory_mib", None),
                pci_device_ids=pci_ids,
                forward_compat_eligible=classes[product_class],
                **row.provenance(),
            )
            row.finish()
            index.add(product, aliases, pattern)
        return index

    @staticmethod
    def _regex(row: Row, key: str, optional: bool = False) -> Any:
        text = row.text(key, None) if optional else row.text(key)
        if text is None:
            return None
        try:
            return re.compile(text, re.IGNORECASE)
        except re.error as exc:
            raise row.error(f"field '{key}' is not a valid regular expression: {exc}") from None

    @property
    def gpu_products(self) -> tuple[GpuProduct, ...]:
        return tuple(self._gpus.products)

    def normalise_gpu_name(self, name: str) -> str:
        """A GPU name as the product table compares it (see gpus.toml's [[name_rule]])."""
        return self._gpus.normalise(name)

    def gpu_product(self, name: str | None = None, pci_device_id: str | None = None) -> GpuProduct | None:
        """Resolve a GPU from its name (NVML / nvidia-smi / Kubernetes spelling, MIG and
        time-slicing suffixes allowed) or, failing that, its PCI device id (0x218410DE,
        218410DE or 2184) - old drivers call new GPUs "Graphics Device"."""
        return self._gpus.find(name, pci_device_id)

    # --- PyTorch -----------------------------------------------------------------------------

    @cached_property
    def _torch_data(self) -> dict[str, Any]:
        return self._read("torch.toml")

    @cached_property
    def torch_index_template(self) -> str:
        row = self._section(self._torch_data, "torch.toml", "index")
        template = row.text("url_template")
        row.status(), row.sources()
        row.finish()
        if "{variant}" not in template:
            raise row.error("url_template must contain {variant}")
        return template

    @cached_property
    def torch_releases(self) -> tuple[TorchRelease, ...]:
        file = "torch.toml"
        result = []
        for row in self._rows(self._torch_data, file, "release"):
            variants = row.texts("variants")
            for variant in variants:
                if variant != "cpu" and variant_cuda(variant) is None:
                    raise row.error(f"variant {variant!r} is not cuXYZ")
            notes = row.mapping("variant_notes", ())
            if any(v not in variants for v, _ in notes):
                raise row.error("variant_notes names a variant not in 'variants'")
            default_status = row.text("default_pypi_status")
            if default_status not in ("confirmed", "observed", "derived", "third-party", "unconfirmed"):
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
                    status=row.status(),
                    sources=row.sources(),
                    note=row.text("note", ""),
                )
            )
            row.finish()
        return tuple(sorted(result, key=lambda r: r.version))

    @cached_property
    def torch_wheels(self) -> tuple[TorchWheel, ...]:
        """Every (release, variant, platform) whose compiled architectures are known."""
        file = "torch.toml"
        releases = {r.version: r for r in self.torch_releases}
        result = []
        for row in self._rows(self._torch_data, file, "wheel"):
            torch = row.version("torch")
            release = releases.get(torch)
            if release is None:
                raise row.error(f"torch {torch} has no [[release]] row")
            platform = row.text("platform")
            if platform not in set(TORCH_PLATFORMS.values()):
                raise row.error(
                    f"platform {platform!r} is not one of {', '.join(sorted(set(TORCH_PLATFORMS.values())))}"
                )
            try:
                archs = ArchList.parse(row.text("archs"))
            except ArchListError as exc:
                raise row.error(str(exc)) from None
            conflict, chosen = row.conflict()
            common = dict(
                platform=platform,
                archs=archs,
                ptx=archs.has_ptx,
                status=row.status(),
                sources=row.sources(),
                note=row.text("note", ""),
                conflict=conflict,
                chosen=chosen,
            )
            for variant in row.texts("variants"):
                if variant not in release.variants:
                    raise row.error(f"variant {variant!r} is not a variant of torch {torch}")
                result.append(
                    TorchWheel(
                        torch_version=str(torch),
                        variant=variant,
                        cuda=variant_cuda(variant),
                        default_pypi=platform == "linux-x86_64" and release.default_pypi_cuda == variant_cuda(variant),
                        index_url=self.torch_index_template.format(variant=variant),
                        **common,
                    )
                )
            row.finish()
        keys = [(w.torch_version, w.variant, w.platform) for w in result]
        if len(keys) != len(set(keys)):
            raise KnowledgeError(f"{self._label(file)}: a (torch, variant, platform) has two [[wheel]] rows")
        return tuple(result)

    def torch_release(self, torch_version: str) -> TorchRelease | None:
        """The release row of ``2.4.1``, ``2.4``, ``2.4.1+cu121`` (matched by major.minor)."""
        m = _TORCH_VERSION.match(torch_version.strip())
        if not m:
            return None
        wanted = Version.of(int(m[1]), int(m[2]))
        return next((r for r in self.torch_releases if r.version == wanted), None)

    def torch_wheel(
        self, torch_version: str, variant: str | None = None, platform: str = "linux-x86_64"
    ) -> TorchWheel | None:
        """An official torch wheel. ``variant`` None means the ``+cuXYZ`` local version of
        ``torch_version`` if it has one (``2.1.0+cu118``), else the default PyPI wheel, which is
        known for Linux x86_64 only. ``"cpu"`` is the CPU-only build. None for a release or
        variant we do not know; ``archs`` None where the variant exists but its architecture
        list for this platform is not in our sources."""
        release = self.torch_release(torch_version)
        platform = TORCH_PLATFORMS.get(platform, platform)
        if release is None or platform not in TORCH_PLATFORMS.values():
            return None
        local = _TORCH_VERSION.match(torch_version.strip())[3]
        variant = variant or local
        status_floor = "confirmed"
        if variant is None:
            if platform != "linux-x86_64" or release.default_pypi_cuda is None:
                return None
            cuda = release.default_pypi_cuda
            variant = f"cu{cuda.major}{cuda.minor}"
            status_floor = release.default_pypi_status
        if variant == "cpu":
            return TorchWheel(
                torch_version=torch_version,
                variant="cpu",
                platform=platform,
                cuda=None,
                archs=ArchList(()),
                ptx=False,
                default_pypi=False,
                index_url=self.torch_index_template.format(variant="cpu"),
                status="derived",
                sources=release.sources,
                note="CPU-only build: no CUDA at all",
            )
        if variant not in release.variants:
            return None
        wheel = next(
            (
                w
                for w in self.torch_wheels
                if w.torch_version == str(release.version) and w.variant == variant and w.platform == platform
            ),
            None,
        )
        if wheel is None:
            return TorchWheel(
                torch_version=torch_version,
                variant=variant,
                platform=platform,
                cuda=variant_cuda(variant),
                archs=None,
                ptx=False,
                default_pypi=platform == "linux-x86_64" and release.default_pypi_cuda == variant_cuda(variant),
                index_url=self.torch_index_template.format(variant=variant),
                status="unconfirmed",
                sources=release.sources,
                note="; ".join(
                    filter(
                        None,
                        [
                            f"compiled architectures of torch {release.version} {variant} on {platform} are not in our sources",
                            release.variant_note(variant),
                        ],
                    )
                ),
            )
        return replace(
            wheel,
            torch_version=torch_version,
            status=weakest_status(wheel.status, status_floor),
            note="; ".join(filter(None, [wheel.note, release.variant_note(variant)])),
        )

    def torch_variants_for(self, torch_version: str, platform: str = "linux-x86_64") -> tuple[TorchWheel, ...]:
        """Every published CUDA variant of a release (archs None where unknown for the platform)."""
        release = self.torch_release(torch_version)
        if release is None:
            return ()
        wheels = (self.torch_wheel(torch_version, v, platform) for v in release.variants)
        return tuple(w for w in wheels if w is not None)

    # --- container images --------------------------------------------------------------------

    @cached_property
    def _cuda_image_data(self) -> dict[str, Any]:
        return self._read("cuda_images.toml")

    @cached_property
    def _cuda_tag(self) -> tuple[re.Pattern[str], tuple[str, ...], str]:
        row = self._section(self._cuda_image_data, "cuda_images.toml", "tag")
        pattern = self._regex(row, "pattern")
        if not {"cuda", "flavor", "os"} <= set(pattern.groupindex):
            raise row.error("pattern needs named groups cuda, flavor, os (and optional cudnn)")
        row.mapping("flavors")
        row.status()
        sources = row.sources()
        note = row.text("note", "")
        row.finish()
        return pattern, sources, note

    @cached_property
    def require_cuda_values(self) -> tuple[RequireCuda, ...]:
        file = "cuda_images.toml"
        result = []
        for row in self._rows(self._cuda_image_data, file, "require_cuda"):
            conflict, chosen = row.conflict()
            result.append(
                RequireCuda(
                    cuda=row.version("cuda"),
                    value=row.string("value"),
                    path=row.text("path"),
                    commit=row.text("commit"),
                    status=row.status(),
                    sources=row.sources(),
                    conflict=conflict,
                    chosen=chosen,
                )
            )
            row.finish()
        return tuple(result)

    def require_cuda_for(self, cuda: Version | str) -> str | None:
        """The exact NVIDIA_REQUIRE_CUDA of the nvidia/cuda images of this CUDA version."""
        found = self._require_row(_version(cuda))
        return found.value if found else None

    def _require_row(self, cuda: Version) -> RequireCuda | None:
        return next((r for r in self.require_cuda_values if r.cuda == cuda), None)

    def cuda_image(self, tag: str) -> CudaImage | None:
        """Parse an nvidia/cuda tag (``12.4.1-runtime-ubuntu22.04``, with or without the
        ``nvidia/cuda:`` prefix); None when it does not follow the grammar."""
        pattern, tag_sources, _ = self._cuda_tag
        m = pattern.match(tag.strip())
        if not m:
            return None
        cuda = Version.parse(m["cuda"])
        found = self._require_row(cuda)
        note = "" if found else f"NVIDIA_REQUIRE_CUDA of CUDA {cuda} images is not in the table"
        return CudaImage(
            tag=tag.strip(),
            cuda=cuda,
            flavor=m["flavor"],
            cudnn=m.groupdict().get("cudnn"),
            os=m["os"],
            require_cuda=found.value if found else None,
            status=found.status if found else "unconfirmed",
            sources=tuple(dict.fromkeys(tag_sources + (found.sources if found else ()))),
            note=note,
        )

    @cached_property
    def _framework_data(self) -> dict[str, Any]:
        return self._read("framework_images.toml")

    @cached_property
    def _pytorch_tag(self) -> tuple[re.Pattern[str], tuple[str, ...]]:
        row = self._section(self._framework_data, "framework_images.toml", "pytorch_tag")
        pattern = self._regex(row, "pattern")
        if not {"torch", "cuda", "cudnn", "flavor"} <= set(pattern.groupindex):
            raise row.error("pattern needs named groups torch, cuda, cudnn, flavor")
        row.status(), row.text("note", "")
        sources = row.sources()
        row.finish()
        return pattern, sources

    def _images(self, key: str, image: str) -> tuple[ImageInfo, ...]:
        file = "framework_images.toml"
        result = []
        for row in self._rows(self._framework_data, file, key):
            result.append(
                ImageInfo(
                    image=image,
                    tag=row.text("tag"),
                    cuda=row.version("cuda", None),
                    torch=row.text("torch", None),
                    status=row.status(),
                    sources=row.sources(),
                    note=row.text("note", ""),
                )
            )
            row.finish()
        return tuple(result)

    @cached_property
    def pytorch_images(self) -> tuple[ImageInfo, ...]:
        """pytorch/pytorch tags seen in real Dockerfiles (any tag of the grammar parses)."""
        observed = []
        for image in self._images("pytorch_image", "pytorch/pytorch"):
            parsed = self._parse_pytorch_tag(image.tag)
            if parsed is None:
                raise KnowledgeError(
                    f"{self._label('framework_images.toml')}: [[pytorch_image]] tag {image.tag!r} "
                    "does not follow [pytorch_tag]"
                )
            observed.append(replace(parsed, status=image.status, sources=image.sources))
        return tuple(observed)

    @cached_property
    def vllm_images(self) -> tuple[ImageInfo, ...]:
        return self._images("vllm", "vllm/vllm-openai")

    @cached_property
    def ngc_pytorch_images(self) -> tuple[ImageInfo, ...]:
        return self._images("ngc_pytorch", "nvcr.io/nvidia/pytorch")

    def _parse_pytorch_tag(self, tag: str) -> ImageInfo | None:
        pattern, sources = self._pytorch_tag
        m = pattern.match(tag.strip())
        if not m:
            return None
        cuda = Version.parse(m["cuda"])
        release = self.torch_release(m["torch"])
        variant = f"cu{cuda.major}{cuda.minor}"
        note = ""
        if release is None:
            note = f"torch {m['torch']} is not a release we know"
        elif variant not in release.variants:
            note = f"torch {release.version} has no official {variant} wheel"
        return ImageInfo(
            image="pytorch/pytorch",
            tag=m.group(0).split(":")[-1],
            cuda=cuda,
            torch=m["torch"],
            status="derived",
            sources=sources,
            note=note,
            cudnn=m["cudnn"],
            flavor=m["flavor"],
        )

    def pytorch_image(self, tag: str) -> ImageInfo | None:
        """A pytorch/pytorch tag: torch, CUDA, cuDNN and flavor read from the tag itself;
        status "observed" for tags seen in real Dockerfiles, "derived" for the rest."""
        parsed = self._parse_pytorch_tag(tag)
        if parsed is None:
            return None
        seen = next((i for i in self.pytorch_images if i.tag == parsed.tag), None)
        return seen or parsed

    def vllm_image(self, tag: str) -> ImageInfo | None:
        """A vllm/vllm-openai release (``v0.20.0``, ``0.20.0`` or the full reference)."""
        tag = tag.strip().split(":")[-1]
        tag = tag if tag.startswith("v") else f"v{tag}"
        return next((i for i in self.vllm_images if i.tag == tag), None)

    def ngc_pytorch_image(self, tag: str) -> ImageInfo | None:
        """An NGC PyTorch release (``25.12-py3``, ``25.12`` or ``nvcr.io/nvidia/pytorch:25.12-py3``)."""
        tag = tag.strip().split(":")[-1]
        tag = tag if tag.endswith("-py3") else f"{tag}-py3"
        return next((i for i in self.ngc_pytorch_images if i.tag == tag), None)


class _GpuIndex:
    """Products in file order, found by normalised alias, then by pattern, then by PCI id."""

    def __init__(self, rules: list[tuple[re.Pattern[str], str]]) -> None:
        self.rules = rules
        self.products: list[GpuProduct] = []
        self.patterns: list[tuple[re.Pattern[str], GpuProduct]] = []
        self.aliases: dict[str, GpuProduct] = {}
        self.pci: dict[str, GpuProduct] = {}

    def add(self, product: GpuProduct, aliases: tuple[str, ...], pattern: re.Pattern[str] | None) -> None:
        self.products.append(product)
        for alias in aliases:
            self.aliases.setdefault(self.normalise(alias), product)
        if pattern is not None:
            self.patterns.append((pattern, product))
        for pci in product.pci_device_ids:
            self.pci.setdefault(pci, product)

    def normalise(self, name: str) -> str:
        text = name.strip().upper()
        for pattern, replacement in self.rules:
            text = pattern.sub(replacement, text)
        return text.strip()

    def find(self, name: str | None, pci_device_id: str | None) -> GpuProduct | None:
        if name and name.strip():
            key = self.normalise(name)
            if key in self.aliases:
                return replace(self.aliases[key], matched_by="name")
            for pattern, product in self.patterns:
                if pattern.fullmatch(key):
                    return replace(product, matched_by="pattern")
        device = _pci_device(pci_device_id) if pci_device_id else None
        if device in self.pci:
            return replace(self.pci[device], matched_by="pci")
        return None


def _pci_device(value: str) -> str | None:
    """``0x218410DE`` / ``218410DE`` / ``2184`` -> ``2184`` (the device part; vendor 10DE)."""
    text = value.strip().upper().removeprefix("0X")
    if re.fullmatch(r"[0-9A-F]{4}10DE", text):
        return text[:4]
    if re.fullmatch(r"[0-9A-F]{4}", text):
        return text
    return None
