"""The knowledge base: every table read from its data file on first use, and the typed lookups
over them. Each table's reading and lookups live in its own module; this is where they meet."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from gpu_preflight.core.versions import Version
from gpu_preflight.knowledge.architectures import (
    ARCHITECTURES_FILE,
    cuda_supports_cc,
    find_architecture,
    read_architectures,
    read_cuda_cc_ranges,
)
from gpu_preflight.knowledge.driver_branches import (
    DRIVER_BRANCHES_FILE,
    branch_of,
    find_driver_branch,
    read_driver_branches,
)
from gpu_preflight.knowledge.driver_requirements import driver_requirement
from gpu_preflight.knowledge.files import DataFiles
from gpu_preflight.knowledge.gpus import GPUS_FILE, GpuIndex, read_gpu_index
from gpu_preflight.knowledge.host_compilers import (
    HOST_COMPILERS_FILE,
    HostCompilerRange,
    HostCompilerRule,
    find_host_compiler_rule,
    read_host_compiler_ranges,
)
from gpu_preflight.knowledge.minor_compat import MINOR_COMPAT_FILE, read_minor_compat_floors
from gpu_preflight.knowledge.model import (
    Architecture,
    CudaCCRange,
    CudaImage,
    DriverBranch,
    DriverRequirement,
    FirstTermRule,
    GpuProduct,
    ImageInfo,
    KnowledgeMeta,
    MinorCompatFloor,
    RequireCuda,
    Source,
    ToolkitRelease,
    TorchRelease,
    TorchWheel,
)
from gpu_preflight.knowledge.sources import SOURCES_FILE
from gpu_preflight.knowledge.toolkit import TOOLKIT_FILE, read_toolkit_releases
from gpu_preflight.knowledge.torch_wheels import (
    DEFAULT_WHEEL_PLATFORM,
    TORCH_FILE,
    TorchTables,
    find_torch_release,
    find_torch_wheel,
    read_torch_tables,
    torch_variants_for,
)

if TYPE_CHECKING:  # the image, engine and install tables' modules load when a lookup needs them
    from gpu_preflight.knowledge.driver_install import DriverInstall
    from gpu_preflight.knowledge.engines import Engine, EngineRelease, EngineTables
    from gpu_preflight.knowledge.tag_grammar import TagGrammar

# The tables' file names, in this order; the lazily imported readers' *_FILE constants are
# written out (tests/knowledge/test_data_files.py checks the list against data/).
DATA_FILES = (
    SOURCES_FILE,
    TOOLKIT_FILE,
    MINOR_COMPAT_FILE,
    DRIVER_BRANCHES_FILE,
    "driver_install.toml",  # DRIVER_INSTALL_FILE
    ARCHITECTURES_FILE,
    GPUS_FILE,
    TORCH_FILE,
    "cuda_images.toml",  # CUDA_IMAGES_FILE
    "framework_images.toml",  # FRAMEWORK_IMAGES_FILE
    "engines.toml",  # ENGINES_FILE
    HOST_COMPILERS_FILE,
)


def _version(value: Version | str) -> Version:
    return value if isinstance(value, Version) else Version.parse(value)


def _version_key(text: str) -> tuple[int, ...]:
    """Data versions such as 2026.11.27 compare numerically (2026.9.1 < 2026.11.27)."""
    try:
        return Version.parse(text).parts
    except ValueError:
        return ()


class KnowledgeBase:
    """All facts the checks rely on, each table read from its data file on first use.

    ``directory`` overrides the packaged data: a file present there replaces the packaged file
    of the same name; a file absent there is read from the package.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self.files = DataFiles(directory)
        self.directory = directory
        # A fleet asks the same few driver questions thousands of times: (CUDA parts, platform) ->
        # answer. Parts, not the Version: 12.4 and 12.4.0 are equal but ask different questions.
        self._requirements: dict[tuple[tuple[int, ...], str], DriverRequirement] = {}
        # suggest_wheel asks every release's variants, and the plan's what-if asks again: (release, platform) -> wheels.
        self._variants: dict[tuple[str, str], tuple[TorchWheel, ...]] = {}

    def load_all(self) -> KnowledgeBase:
        """Read and validate every table now (an override directory is checked up front)."""
        _ = (
            self.sources,
            self.toolkit_releases,
            self.minor_compat_floors,
            self.driver_branches,
            self.driver_installs,
            self.architectures,
            self.cuda_cc_ranges,
            self._gpus,
            self._torch,
            self._cuda_tag,
            self.require_cuda_values,
            self.cuda_image_first_term,
            self.pytorch_images,
            self.vllm_images,
            self.ngc_pytorch_images,
            self._engines,
            self.host_compiler_ranges,
        )  # each table is read and validated on first access
        return self

    @property
    def meta(self) -> KnowledgeMeta:
        """Data version and date (the newest among the files), and every file's header."""
        self.load_all()
        files = tuple(self.files.meta(name) for name in DATA_FILES)
        return KnowledgeMeta(
            version=max((f.version for f in files), key=_version_key),
            date=max(f.date for f in files),  # ISO dates sort as text
            directory=str(self.directory) if self.directory else None,
            files=files,
        )

    @property
    def sources(self) -> Mapping[str, Source]:
        """Source key -> Source(title, url), read-only."""
        return self.files.sources

    # --- toolkit releases, driver floors and branches ---------------------------------------

    @cached_property
    def toolkit_releases(self) -> tuple[ToolkitRelease, ...]:
        return read_toolkit_releases(self.files)

    @cached_property
    def minor_compat_floors(self) -> tuple[MinorCompatFloor, ...]:
        return read_minor_compat_floors(self.files)

    def driver_requirement(self, cuda: Version | str, platform: str = "linux") -> DriverRequirement:
        """The driver a CUDA runtime needs, natively and through minor-version compatibility
        (see requirements.driver_requirement)."""
        cuda = _version(cuda)
        key = (cuda.parts, platform)
        if key not in self._requirements:
            self._requirements[key] = driver_requirement(
                self.toolkit_releases, self.minor_compat_floors, cuda, platform
            )
        return self._requirements[key]

    @cached_property
    def driver_branches(self) -> tuple[DriverBranch, ...]:
        return read_driver_branches(self.files)

    @cached_property
    def driver_installs(self) -> tuple[DriverInstall, ...]:
        from gpu_preflight.knowledge.driver_install import read_driver_installs

        return read_driver_installs(self.files)

    def driver_install(self, os_ids: tuple[str, ...], version_id: str | None = None) -> DriverInstall | None:
        """How to install a driver branch on this OS (os-release ID, then ID_LIKE; "wsl", "windows")."""
        from gpu_preflight.knowledge.driver_install import find_driver_install

        return find_driver_install(self.driver_installs, os_ids, version_id)

    def branch_of(self, driver: Version | str, platform: str = "linux") -> int | None:
        """The branch of a driver: Linux 550.54.15 -> 550; Windows 551.78 -> 550 (the nearest
        known branch at or below, since Windows numbers run ahead of the branch)."""
        return branch_of(self.driver_branches, _version(driver), platform)

    def driver_branch(self, driver: Version | str, platform: str = "linux") -> DriverBranch | None:
        """The branch of a driver and the highest CUDA it reports (see driver_branches.find_driver_branch)."""
        return find_driver_branch(self.driver_branches, _version(driver), platform)

    def max_cuda_for_driver(self, driver: Version | str, platform: str = "linux") -> Version | None:
        """The highest CUDA a driver supports natively (a lower bound for unlisted branches)."""
        found = self.driver_branch(driver, platform)
        return found.max_cuda if found else None

    # --- architectures and GPU products -----------------------------------------------------

    @cached_property
    def architectures(self) -> tuple[Architecture, ...]:
        return read_architectures(self.files)

    @cached_property
    def cuda_cc_ranges(self) -> tuple[CudaCCRange, ...]:
        return read_cuda_cc_ranges(self.files)

    def architecture_of_cc(self, cc: Version | str) -> Architecture | None:
        return find_architecture(self.architectures, _version(cc))

    def cuda_supports_cc(self, cuda: Version | str, cc: Version | str) -> bool:
        """Can toolkit ``cuda`` compile for compute capability ``cc``? (see architectures.cuda_supports_cc)"""
        return cuda_supports_cc(self.architectures, self.cuda_cc_ranges, _version(cuda), _version(cc))

    @cached_property
    def _gpus(self) -> GpuIndex:
        return read_gpu_index(self.files)

    @property
    def gpu_products(self) -> tuple[GpuProduct, ...]:
        return tuple(self._gpus.products)

    def gpu_product(self, name: str | None = None, pci_device_id: str | None = None) -> GpuProduct | None:
        """Resolve a GPU from its name (NVML / nvidia-smi / Kubernetes spelling, MIG and
        time-slicing suffixes allowed) or, failing that, its PCI device id (0x218410DE,
        218410DE or 2184) - old drivers call new GPUs "Graphics Device"."""
        return self._gpus.find(name, pci_device_id)

    # --- PyTorch ----------------------------------------------------------------------------

    @cached_property
    def _torch(self) -> TorchTables:
        return read_torch_tables(self.files)

    @property
    def torch_releases(self) -> tuple[TorchRelease, ...]:
        return self._torch.releases

    @property
    def torch_wheels(self) -> tuple[TorchWheel, ...]:
        """Every (release, variant, platform) whose compiled architectures are known."""
        return self._torch.wheels

    def torch_release(self, torch_version: str) -> TorchRelease | None:
        """The release row of ``2.4.1``, ``2.4``, ``2.4.1+cu121`` (matched by major.minor)."""
        return find_torch_release(self._torch, torch_version)

    def torch_wheel(
        self, torch_version: str, variant: str | None = None, platform: str = DEFAULT_WHEEL_PLATFORM
    ) -> TorchWheel | None:
        """An official torch wheel (see torch_wheels.find_torch_wheel)."""
        return find_torch_wheel(self._torch, torch_version, variant, platform)

    def torch_variants_for(self, torch_version: str, platform: str = DEFAULT_WHEEL_PLATFORM) -> tuple[TorchWheel, ...]:
        """Every published CUDA variant of a release (archs None where unknown for the platform)."""
        key = (torch_version, platform)
        if key not in self._variants:
            self._variants[key] = torch_variants_for(self._torch, torch_version, platform)
        return self._variants[key]

    # --- container images -------------------------------------------------------------------

    @cached_property
    def _cuda_tag(self) -> TagGrammar:
        from gpu_preflight.knowledge.cuda_images import read_cuda_tag

        return read_cuda_tag(self.files)

    @cached_property
    def require_cuda_values(self) -> tuple[RequireCuda, ...]:
        from gpu_preflight.knowledge.cuda_images import read_require_cuda

        return read_require_cuda(self.files)

    def cuda_image(self, tag: str) -> CudaImage | None:
        """Parse an nvidia/cuda tag (``12.4.1-runtime-ubuntu22.04``, with or without the
        ``nvidia/cuda:`` prefix); None when it does not follow the grammar."""
        from gpu_preflight.knowledge.cuda_images import parse_cuda_image

        return parse_cuda_image(self._cuda_tag, self.require_cuda_values, tag, self.cuda_image_first_term)

    @cached_property
    def cuda_image_first_term(self) -> FirstTermRule:
        """``cuda>={major}.{minor}``: what every nvidia/cuda image's NVIDIA_REQUIRE_CUDA starts with."""
        from gpu_preflight.knowledge.cuda_images import read_first_term_rule

        return read_first_term_rule(self.files)

    @cached_property
    def _pytorch_tag(self) -> TagGrammar:
        from gpu_preflight.knowledge.framework_images import read_pytorch_tag

        return read_pytorch_tag(self.files)

    @cached_property
    def pytorch_images(self) -> tuple[ImageInfo, ...]:
        """pytorch/pytorch tags seen in real Dockerfiles (any tag of the grammar parses)."""
        from gpu_preflight.knowledge.framework_images import read_pytorch_images

        return read_pytorch_images(self.files, self._pytorch_tag, self._torch)

    @cached_property
    def vllm_images(self) -> tuple[ImageInfo, ...]:
        from gpu_preflight.knowledge.framework_images import VLLM, read_images

        return read_images(self.files, "vllm", VLLM)

    @cached_property
    def ngc_pytorch_images(self) -> tuple[ImageInfo, ...]:
        from gpu_preflight.knowledge.framework_images import NGC_PYTORCH, read_images

        return read_images(self.files, "ngc_pytorch", NGC_PYTORCH)

    def pytorch_image(self, tag: str) -> ImageInfo | None:
        """A pytorch/pytorch tag: torch, CUDA, cuDNN and flavor read from the tag itself;
        status "observed" for tags seen in real Dockerfiles, "derived" for the rest."""
        from gpu_preflight.knowledge.framework_images import find_pytorch_image

        return find_pytorch_image(self._pytorch_tag, self._torch, self.pytorch_images, tag)

    def vllm_image(self, tag: str) -> ImageInfo | None:
        """A vllm/vllm-openai release (``v0.20.0``, ``0.20.0`` or the full reference)."""
        from gpu_preflight.knowledge.framework_images import find_vllm_image

        return find_vllm_image(self.vllm_images, tag)

    def ngc_pytorch_image(self, tag: str) -> ImageInfo | None:
        """An NGC PyTorch release (``25.12-py3``, ``25.12`` or ``nvcr.io/nvidia/pytorch:25.12-py3``)."""
        from gpu_preflight.knowledge.framework_images import find_ngc_pytorch_image

        return find_ngc_pytorch_image(self.ngc_pytorch_images, tag)

    # --- inference engines ------------------------------------------------------------------

    @cached_property
    def _engines(self) -> EngineTables:
        from gpu_preflight.knowledge.engines import read_engine_tables

        return read_engine_tables(self.files)

    @property
    def engines(self) -> tuple[Engine, ...]:
        return tuple(self._engines.engines.values())

    @property
    def engine_releases(self) -> tuple[EngineRelease, ...]:
        """Every engine rule as the release it starts, per engine oldest first (``preflight db``)."""
        return self._engines.releases()

    def engine(self, name: str) -> Engine | None:
        """An engine by key, display name or PyPI name (``vllm``, ``SGLang``, ``llama-cpp``)."""
        from gpu_preflight.knowledge.engines import find_engine

        return find_engine(self._engines, name)

    def engine_release(self, engine: str, version: str | None = None) -> EngineRelease | None:
        """The rule an engine release is judged by (see engines.find_engine_release)."""
        from gpu_preflight.knowledge.engines import find_engine_release

        return find_engine_release(self._engines, engine, version)

    def engine_for_image(self, repository: str) -> Engine | None:
        """The engine whose releases an image repository's tags are."""
        from gpu_preflight.knowledge.engines import engine_for_image

        return engine_for_image(self._engines, repository)

    # --- host compilers nvcc accepts --------------------------------------------------------

    @cached_property
    def host_compiler_ranges(self) -> tuple[HostCompilerRange, ...]:
        return read_host_compiler_ranges(self.files)

    def host_compilers(self, cuda: Version | str) -> HostCompilerRule | None:
        """The GCC/Clang range toolkit ``cuda``'s nvcc accepts (see host_compilers.find_host_compiler_rule)."""
        return find_host_compiler_rule(self.host_compiler_ranges, _version(cuda))
