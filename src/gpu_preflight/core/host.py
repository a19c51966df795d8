"""The host document (`gpu-preflight/host/v1`): what a probe saw, without judgement.

Value objects with a JSON round trip. Field names follow the host document's contract
(docs/architecture.md, "Contracts"); fields may be added, never renamed. ``from_dict`` validates
a document written elsewhere (a snapshot) and raises ``UsageError`` with one clear line when it is
not one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, TypeVar

from gpu_preflight.core.errors import UsageError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

SCHEMA = "gpu-preflight/host/v1"

D = TypeVar("D", bound="DataclassInstance")


@dataclass
class Driver:
    version: str | None = None  # user-space driver (NVML / nvidia-smi), e.g. "550.54.15"
    cuda: str | None = None  # the driver's highest CUDA, "X.Y" (nvidia-smi "CUDA Version")
    source: str = "none"  # nvml | nvidia-smi | nvidia-smi-xml | snapshot | assumed | none
    kernel_module: str | None = None  # /proc/driver/nvidia/version, compared by a later check
    platform: str | None = None  # "linux" | "windows": decides which driver table applies


@dataclass
class MigDevice:
    index: int | None = None
    gpu_instance_id: int | None = None
    compute_instance_id: int | None = None
    memory_total_mib: int | None = None
    uuid: str | None = None


@dataclass
class Gpu:
    index: int
    name: str
    compute_capability: str | None = None  # "X.Y"
    compute_capability_source: str | None = None  # nvml | knowledge-base (from the product name)
    memory_total_mib: int | None = None
    memory_used_mib: int | None = None
    brand: str | None = None  # NVML brand as the host reports it ("GeForce", "Tesla", "NVIDIA"...)
    uuid: str | None = None
    mig_mode: str | None = None  # "Enabled" | "Disabled" | None when not applicable
    pci_bus_id: str | None = None
    pci_device_id: str | None = None  # "0x218210DE": resolves names older drivers don't know
    architecture: str | None = None  # as the driver reports it (XML v12+, NVML), not looked up
    driver_model: str | None = None  # Windows: "WDDM" | "TCC"
    mig_devices: list[MigDevice] = field(default_factory=list)
    assumed: bool = False  # from --assume-gpu: memory and brand may be typical, not measured


@dataclass
class Toolkit:
    version: str | None  # full version, e.g. "13.0.88"
    path: str | None  # the toolkit's root directory, or the nvcc found on PATH when no root is known
    source: str  # how the version was read: nvcc | version.json | version.txt
    nvcc: str | None = None  # path of its nvcc, when it has one
    found_via: list[str] = field(default_factory=list)  # PATH, CUDA_HOME, CUDA_PATH, /usr/local/cuda...


@dataclass
class Framework:
    name: str  # distribution name: torch, jax, jaxlib, tensorflow, cupy-cuda12x, nvidia-cudnn-cu12...
    version: str
    cuda: str | None = None  # the CUDA runtime it bundles or was built for, "X.Y", when known
    variant: str | None = None  # "cu121", "cpu", "rocm6.2"...
    source: str = "metadata"  # metadata | deep
    location: str | None = None
    details: dict[str, Any] = field(default_factory=dict)  # deep-probe results and the like


@dataclass
class Container:
    in_container: bool = False
    runtime: str | None = None  # docker | podman | kubernetes | containerd | lxc | wsl...
    device_files: list[str] = field(default_factory=list)  # /dev/nvidia*
    nvidia_env: dict[str, str] = field(default_factory=dict)  # NVIDIA_* variables
    # nvidia-container-runtime's mode on this host ("legacy" | "cdi" | "auto" | "csv"), from its
    # config.toml: "cdi" means containers get GPUs from a CDI spec, with no NVIDIA_REQUIRE_* gate.
    # Written only when known (see Host.to_dict).
    runtime_mode: str | None = None


@dataclass
class ProbeError:
    probe: str
    message: str


@dataclass
class Host:
    hostname: str | None = None
    driver: Driver = field(default_factory=Driver)
    gpus: list[Gpu] = field(default_factory=list)
    toolkits: list[Toolkit] = field(default_factory=list)
    frameworks: list[Framework] = field(default_factory=list)
    container: Container = field(default_factory=Container)
    env: dict[str, str | None] = field(default_factory=dict)  # CUDA_VISIBLE_DEVICES, LD_LIBRARY_PATH
    platform: dict[str, str] = field(default_factory=dict)  # system, machine, python
    source: str = "live"  # live | snapshot | nvidia-smi-xml | k8s-labels ...
    errors: list[ProbeError] = field(default_factory=list)

    def wheel_platform(self) -> str:
        """The torch wheel platform of this host: linux-x86_64 unless it says otherwise."""
        if self.driver.platform == "windows" or self.platform.get("system") == "Windows":
            return "windows-x86_64"
        if self.platform.get("machine") in ("aarch64", "arm64"):
            return "linux-aarch64"
        return "linux-x86_64"

    def image_platform(self) -> str:
        """The container image platform this host pulls: linux/arm64 on aarch64, else linux/amd64."""
        return "linux/arm64" if self.wheel_platform() == "linux-aarch64" else "linux/amd64"

    def add_error(self, probe: str, message: str) -> None:
        self.errors.append(ProbeError(probe, " ".join(str(message).split())[:500]))

    def to_dict(self) -> dict[str, Any]:
        document = {"schema": SCHEMA, **asdict(self)}
        # A field added after v1's first documents: left out while unknown, so that the documents
        # of hosts without it (nearly all) stay as they were.
        if document["container"]["runtime_mode"] is None:
            del document["container"]["runtime_mode"]
        return document

    @classmethod
    def from_dict(cls, data: Any, origin: str = "host document") -> Host:
        if not isinstance(data, dict):
            raise UsageError(f"{origin}: not a host document (expected a JSON object)")
        schema = data.get("schema")
        if schema is not None and schema != SCHEMA:
            raise UsageError(f"{origin}: schema {str(schema)[:60]!r} is not {SCHEMA!r}")
        try:
            return _build(cls, data)
        except (TypeError, ValueError, KeyError) as exc:
            raise UsageError(f"{origin}: malformed host document: {exc}") from None


# Fields holding another dataclass ([one] for a list of them); every other field is a scalar.
_NESTED: dict[tuple[str, str], type[DataclassInstance] | list[type[DataclassInstance]]] = {
    ("Host", "driver"): Driver,
    ("Host", "container"): Container,
    ("Host", "gpus"): [Gpu],
    ("Host", "toolkits"): [Toolkit],
    ("Host", "frameworks"): [Framework],
    ("Host", "errors"): [ProbeError],
    ("Gpu", "mig_devices"): [MigDevice],
}

_SCALARS = {
    "str": (str,),
    "int": (int,),
    "bool": (bool,),
}


def _build(cls: type[D], data: Any) -> D:
    """Build a dataclass from a dict, checking each field's type; unknown keys are ignored
    (newer writers may add fields)."""
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__} must be an object, got {type(data).__name__}")
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        nested = _NESTED.get((cls.__name__, f.name))
        if isinstance(nested, list):
            if not isinstance(value, list):
                raise ValueError(f"{f.name} must be a list")
            value = [_build(nested[0], item) for item in value]
        elif nested is not None:
            value = _build(nested, value)
        else:
            value = _check_scalar(cls.__name__, f.name, str(f.type), value)
        kwargs[f.name] = value
    return cls(**kwargs)


def _check_scalar(owner: str, name: str, annotation: str, value: Any) -> Any:
    if value is None:
        if "None" in annotation:
            return None
        raise ValueError(f"{owner}.{name} must not be null")
    if annotation.startswith("dict"):
        if not isinstance(value, dict):
            raise ValueError(f"{owner}.{name} must be an object")
        return value
    if annotation.startswith("list"):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{owner}.{name} must be a list of strings")
        return value
    base = annotation.split("|")[0].strip()
    expected = _SCALARS.get(base)
    if expected and (not isinstance(value, expected) or (base == "int" and isinstance(value, bool))):
        raise ValueError(f"{owner}.{name} must be {base}, got {type(value).__name__}")
    return value
