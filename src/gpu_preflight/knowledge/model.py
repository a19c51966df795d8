"""Value objects returned by the knowledge base: frozen, typed, no dicts leaking out.

Every object that carries a fact also carries one ``provenance`` (provenance.py): its status,
sources, note and any conflict between sources.
"""

from __future__ import annotations

from dataclasses import dataclass

from gpu_preflight.core.versions import Version
from gpu_preflight.knowledge.arch_list import ArchList
from gpu_preflight.knowledge.provenance import Provenance


@dataclass(frozen=True)
class Source:
    key: str
    title: str
    url: str
    date: str = ""  # ISO date the source was published or read at (its commit date), where recorded


@dataclass(frozen=True)
class FileMeta:
    """The ``[meta]`` header of one data file and where it was read from."""

    name: str  # "toolkit.toml"
    version: str
    date: str
    description: str
    origin: str  # "packaged" | "override"
    path: str
    rows: int


@dataclass(frozen=True)
class KnowledgeMeta:
    """The data set as a whole: the newest version and date among its files."""

    version: str
    date: str
    directory: str | None  # the override directory (``--db`` / ``$GPU_PREFLIGHT_DB``), if any
    files: tuple[FileMeta, ...]


@dataclass(frozen=True)
class ToolkitRelease:
    """One CUDA toolkit release and the driver bundled with it (NVIDIA "Table 3")."""

    version: Version  # 12.4.1; a "family" row stands for every X.Y.z (13.5)
    label: str  # "CUDA 12.4 Update 1 (12.4.1)"
    kind: str  # ga | update | rc | preview | family
    linux_min_driver: Version | None  # None: not published / N/A
    linux_exact: bool  # False when only a branch is known (615 = "R615")
    windows_min_driver: Version | None
    windows_exact: bool
    branch: int | None
    provenance: Provenance

    def min_driver(self, platform: str = "linux") -> Version | None:
        return self.windows_min_driver if platform == "windows" else self.linux_min_driver

    def min_driver_exact(self, platform: str = "linux") -> bool:
        return self.windows_exact if platform == "windows" else self.linux_exact


@dataclass(frozen=True)
class MinorCompatFloor:
    """The lowest driver on which any CUDA ``major``.x application runs (minor-version compat)."""

    major: int
    platform: str  # linux | windows
    driver: Version
    exact: bool  # False: branch only (13.x: ">= 580")
    upper_branch_note: str
    provenance: Provenance


@dataclass(frozen=True)
class DriverRequirement:
    """What a CUDA runtime needs from the driver.

    ``native`` is the driver that supports the runtime fully (the toolkit's bundled driver);
    ``minor_compat`` the floor of the major's minor-version compatibility (limited features:
    no JIT of newer PTX), None for CUDA <= 10.x. Either is None when no source gives it, and
    its provenance then says "unconfirmed".
    """

    cuda: Version
    platform: str
    native: Version | None
    exact: bool  # native is a patch-level version, not just a branch
    minor_compat: Version | None
    minor_compat_exact: bool
    release: ToolkitRelease | None  # the Table 3 row the native floor comes from
    provenance: Provenance


@dataclass(frozen=True)
class DriverBranch:
    """A driver branch (R550) and the highest CUDA its drivers report."""

    branch: int
    max_cuda: Version | None
    lifecycle: str
    provenance: Provenance
    known: bool = True  # False: the branch is not in the table (see lower_bound)
    lower_bound: bool = False  # max_cuda is the nearest lower known branch's (at least this)


@dataclass(frozen=True)
class Architecture:
    """A group of compute capabilities with one support window (toolkits and driver branches)."""

    name: str  # family as NVML reports it: "Ampere", "Ada Lovelace"
    label: str  # "Ampere GA10x (A10, A40, RTX 30xx, RTX A-series)"
    ccs: tuple[Version, ...]
    first_cuda: Version
    last_cuda: Version | None  # None: ongoing
    removed_in_cuda: Version | None
    first_driver_branch: int | None
    last_driver_branch: int | None  # None: ongoing
    dropped_in_branch: int | None
    preview: bool
    provenance: Provenance

    def targetable_by(self, cuda: Version) -> bool:
        """Can toolkit ``cuda`` compile for these CCs (its X.Y line is inside the window)?"""
        line = cuda.truncate(2)
        if line < self.first_cuda:
            return False
        return self.removed_in_cuda is None or line < self.removed_in_cuda


@dataclass(frozen=True)
class CudaCCRange:
    """The lowest and highest compute capability a toolkit line can target."""

    cuda_from: Version
    cuda_to: Version | None  # None: and every later line
    min_cc: Version
    max_cc: Version
    provenance: Provenance

    def covers_cuda(self, cuda: Version) -> bool:
        line = cuda.truncate(2)
        return self.cuda_from <= line and (self.cuda_to is None or line <= self.cuda_to)


@dataclass(frozen=True)
class DriverFloor:
    """A minimum Linux driver NVIDIA states for one product, inside its architecture's branches
    (HGX B200: 570.133.20, while Blackwell starts at R570)."""

    driver: Version
    scope: str  # the product as NVIDIA's statement names it ("HGX B200")
    provenance: Provenance


@dataclass(frozen=True)
class GpuProduct:
    """A GPU product resolved from an NVML / nvidia-smi / Kubernetes name or a PCI id."""

    name: str
    compute_capability: Version
    architecture: str
    product_class: str  # datacenter | workstation | consumer | embedded | virtual
    brands: tuple[str, ...]  # NVML brands observed, current first
    memory_mib: int | None  # typical: what the driver reported on a real board
    pci_device_ids: tuple[str, ...]
    forward_compat_eligible: bool
    provenance: Provenance
    matched_by: str = ""  # "name" | "pattern" | "pci": how the lookup found it
    driver_floor: DriverFloor | None = None  # gpus.toml [[driver_floor]]

    @property
    def brand(self) -> str | None:
        """The NVML brand current drivers report (brands change with the driver, e.g. Tesla T4)."""
        return self.brands[0] if self.brands else None


@dataclass(frozen=True)
class TorchRelease:
    version: Version  # "2.6"
    stable_cuda: tuple[Version, ...]
    experimental_cuda: tuple[Version, ...]
    variants: tuple[str, ...]  # ("cu118", "cu124", "cu126")
    variant_notes: tuple[tuple[str, str], ...]
    default_pypi_cuda: Version | None  # CUDA of the plain `pip install torch` on Linux x86_64
    default_pypi_status: str
    provenance: Provenance

    def variant_note(self, variant: str) -> str:
        return dict(self.variant_notes).get(variant, "")


@dataclass(frozen=True)
class TorchWheel:
    """One official torch wheel: its bundled CUDA and the architectures compiled into it."""

    torch_version: str  # as asked: "2.4.1" or "2.4"
    variant: str  # "cu121" | "cpu"
    platform: str  # linux-x86_64 | linux-aarch64 | windows-x86_64
    cuda: Version | None  # None for cpu
    archs: ArchList | None  # None: not known for this variant / platform
    default_pypi: bool  # this is what a plain `pip install torch` gets (Linux x86_64)
    index_url: str
    provenance: Provenance


@dataclass(frozen=True)
class RequireCuda:
    """The exact NVIDIA_REQUIRE_CUDA value of the nvidia/cuda images of one CUDA version."""

    cuda: Version
    value: str
    path: str
    commit: str
    provenance: Provenance


@dataclass(frozen=True)
class FirstTermRule:
    """The NVIDIA_REQUIRE_CUDA term every nvidia/cuda image starts with (``cuda>=MAJOR.MINOR``),
    before its brand / driver-branch exceptions: all that is known of a version the table lacks."""

    template: str  # "cuda>={major}.{minor}"
    provenance: Provenance

    def value(self, cuda: Version) -> str:
        return self.template.format(major=cuda.major, minor=cuda.truncate(2).parts[1])


@dataclass(frozen=True)
class CudaImage:
    """An nvidia/cuda tag, parsed, with the requirement its images declare."""

    tag: str
    cuda: Version
    flavor: str  # base | runtime | devel
    cudnn: str | None  # "cudnn", "cudnn8" ...
    os: str  # "ubuntu22.04"
    require_cuda: str | None  # None: this CUDA version is not in the table
    provenance: Provenance
    first_term_only: bool = False  # require_cuda is the rule's first term: the exceptions are unknown


@dataclass(frozen=True)
class ImageInfo:
    """A framework / serving image (pytorch/pytorch, vllm/vllm-openai, NGC PyTorch)."""

    image: str  # "vllm/vllm-openai"
    tag: str
    cuda: Version | None
    torch: str | None  # may be a pre-release such as "2.10.0a0+b4e4ee81d3"
    provenance: Provenance
    cudnn: str | None = None
    flavor: str | None = None
