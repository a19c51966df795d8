"""The host document (`gpu-preflight/host/v1`): what a probe saw, without judgement.

Value objects with a JSON round trip. Field names follow the host document's contract
(docs/architecture.md, "Contracts"); fields may be added, never renamed. ``from_dict`` validates
a document written elsewhere (a snapshot) and raises ``UsageError`` with one clear line when it is
not one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from gpu_preflight.core.decode import (
    DecodeError,
    boolean,
    describe,
    integer,
    key,
    lst,
    obj,
    string,
    string_list,
    string_map,
)
from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.limits import MAX_GPU_INDEX, MAX_HOST_GPUS, MAX_HOST_LIST, MAX_MEMORY_MIB

SCHEMA = "gpu-preflight/host/v1"

T = TypeVar("T")


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
class Compiler:
    """A C/C++ compiler nvcc may use as its host compiler (``probe/compilers.py``)."""

    kind: str  # gcc | clang | other: the family its --version names
    version: str | None  # "14.2.0", as --version prints it; None when unreadable
    path: str  # the executable, symlinks resolved
    found_via: list[str] = field(default_factory=list)  # NVCC_CCBIN, NVCC_PREPEND_FLAGS, CUDAHOSTCXX, CC, CXX, PATH


@dataclass
class Framework:
    name: str  # distribution name: torch, jax, jaxlib, tensorflow, cupy-cuda12x, nvidia-cudnn-cu12...
    version: str
    cuda: str | None = None  # the CUDA runtime it bundles or was built for, "X.Y", when known
    variant: str | None = None  # "cu121", "cpu", "rocm6.2"...
    source: str = "metadata"  # metadata | deep
    location: str | None = None
    details: dict[str, Any] = field(default_factory=dict)  # deep-probe results and the like
    installer: str | None = None  # "conda" (the env's conda-meta lists it), else the dist-info's INSTALLER: pip, uv...


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
    # Host compilers the probe found ([] when it looked and found none); None when not probed
    # (older snapshots, XML hosts): written only when known (see to_dict).
    compilers: list[Compiler] | None = None

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

    def os_ids(self) -> tuple[str, ...]:
        """Who installs the driver here, most specific first: ("wsl",) under WSL 2 (the Windows
        host's driver), ("windows",), else the os-release ID and its ID_LIKE values."""
        if self.platform.get("wsl") == "true":
            return ("wsl",)
        if self.driver.platform == "windows" or self.platform.get("system") == "Windows":
            return ("windows",)
        named = [self.platform.get("os_id", ""), *self.platform.get("os_like", "").split()]
        return tuple(name for name in dict.fromkeys(named) if name)

    def add_error(self, probe: str, message: str) -> None:
        self.errors.append(ProbeError(probe, " ".join(str(message).split())[:500]))

    def to_dict(self) -> dict[str, Any]:
        document = {"schema": SCHEMA, **asdict(self)}
        # A field added after v1's first documents: left out while unknown, so that the documents
        # of hosts without it (nearly all) stay as they were.
        if document["container"]["runtime_mode"] is None:
            del document["container"]["runtime_mode"]
        if document["compilers"] is None:
            del document["compilers"]
        return document

    @classmethod
    def from_dict(cls, data: Any, origin: str = "host document") -> Host:
        """A host document written elsewhere, every field checked (``core/decode``); anything
        else raises ``UsageError``: one line with the JSON path of the first bad field."""
        if not isinstance(data, dict):
            raise UsageError(f"{origin}: not a host document ({SCHEMA}): expected a JSON object, got {describe(data)}")
        schema = data.get("schema")
        if schema is None and not ("driver" in data or "gpus" in data):
            raise UsageError(f"{origin}: not a host document ({SCHEMA}){_hint(data)}")
        if schema is not None and schema != SCHEMA:
            raise UsageError(f"{origin}: schema {describe(schema)} is not {SCHEMA!r}{_hint(data)}")
        try:
            return _host(data)
        except DecodeError as exc:
            raise UsageError(f"{origin}: {exc}") from None


def _hint(data: dict[str, Any]) -> str:
    """What the document is instead, when it is something preflight knows."""
    schema = data.get("schema")
    if isinstance(schema, str) and schema.startswith("gpu-preflight/report/"):
        return ": this is a doctor report; its 'host' member is a host document (jq .host)"
    if isinstance(schema, str) and schema.startswith("gpu-preflight/"):
        return f": this is a {schema[len('gpu-preflight/') :][:40]!r} document"
    if data.get("kind") in ("NodeList", "Node", "List") or "items" in data:
        return ": this is Kubernetes output (kubectl); judge nodes with preflight fleet --k8s-nodes FILE"
    if any(isinstance(k, str) and k.startswith("nvidia.com/") for k in data):
        return ": these are Kubernetes node labels; judge them with preflight fleet --k8s-nodes FILE"
    return ": expected the output of preflight probe --json"


# --- the host/v1 decoder: every field's type and range ---------------------------------------------

_CC = re.compile(r"[0-9]{1,3}\.[0-9]{1,3}")
_DRIVER_PLATFORM = re.compile(r"linux|windows")
_VERSION = re.compile(r"[0-9]{1,9}(\.[0-9]{1,9}){0,5}")


def _opt(value: Any, path: str, decode: Callable[[Any, str], T]) -> T | None:
    return None if value is None else decode(value, path)


def _str(value: Any, path: str) -> str:
    return string(value, path)


def _get(data: dict[str, Any], path: str, name: str, decode: Callable[[Any, str], T], default: Any = None) -> Any:
    """``data[name]`` decoded, or ``default`` when absent or null (a value not reported is null)."""
    value = data.get(name)
    return default if value is None else decode(value, key(path, name))


def _mib(value: Any, path: str) -> int:
    return integer(value, path, 0, MAX_MEMORY_MIB, "a whole number of MiB")


def _index(value: Any, path: str) -> int:
    return integer(value, path, 0, MAX_GPU_INDEX, "a device index")


def _cc(value: Any, path: str) -> str:
    return string(value, path, _CC, "a compute capability 'X.Y'")


def _version(value: Any, path: str) -> str:
    return string(value, path, _VERSION, "a version such as '550.54.15'")


def _objects(value: Any, path: str, build: Callable[[dict[str, Any], str], T], limit: int) -> list[T]:
    return [build(obj(item, f"{path}[{n}]"), f"{path}[{n}]") for n, item in enumerate(lst(value, path, limit))]


def _host(data: dict[str, Any]) -> Host:
    p = "$"
    return Host(
        hostname=_get(data, p, "hostname", _str),
        driver=_driver(obj(data["driver"], "$.driver")) if data.get("driver") is not None else Driver(),
        gpus=_get(data, p, "gpus", lambda v, q: _objects(v, q, _gpu, MAX_HOST_GPUS), []),
        toolkits=_get(data, p, "toolkits", lambda v, q: _objects(v, q, _toolkit, MAX_HOST_LIST), []),
        frameworks=_get(data, p, "frameworks", lambda v, q: _objects(v, q, _framework, MAX_HOST_LIST), []),
        container=_container(obj(data["container"], "$.container"))
        if data.get("container") is not None
        else Container(),
        env=_get(data, p, "env", lambda v, q: string_map(v, q, nullable_values=True), {}),
        platform=_get(data, p, "platform", string_map, {}),
        source=_get(data, p, "source", _str, "live"),
        errors=_get(data, p, "errors", lambda v, q: _objects(v, q, _probe_error, MAX_HOST_LIST), []),
        compilers=_get(data, p, "compilers", lambda v, q: _objects(v, q, _compiler, MAX_HOST_LIST), None),
    )


def _driver(data: dict[str, Any]) -> Driver:
    p = "$.driver"
    return Driver(
        version=_get(data, p, "version", _version),
        cuda=_get(data, p, "cuda", _cc),
        source=_get(data, p, "source", _str, "none"),
        kernel_module=_get(data, p, "kernel_module", _version),
        platform=_get(data, p, "platform", _driver_platform),
    )


def _driver_platform(value: Any, path: str) -> str:
    return string(value, path, _DRIVER_PLATFORM, "'linux' or 'windows'")


def _gpu(data: dict[str, Any], p: str) -> Gpu:
    if "index" not in data or "name" not in data:
        raise DecodeError(p, "a GPU object with 'index' and 'name'", data)
    return Gpu(
        index=_index(data["index"], key(p, "index")),
        name=string(data["name"], key(p, "name")),
        compute_capability=_get(data, p, "compute_capability", _cc),
        compute_capability_source=_get(data, p, "compute_capability_source", _str),
        memory_total_mib=_get(data, p, "memory_total_mib", _mib),
        memory_used_mib=_get(data, p, "memory_used_mib", _mib),
        brand=_get(data, p, "brand", _str),
        uuid=_get(data, p, "uuid", _str),
        mig_mode=_get(data, p, "mig_mode", _str),
        pci_bus_id=_get(data, p, "pci_bus_id", _str),
        pci_device_id=_get(data, p, "pci_device_id", _str),
        architecture=_get(data, p, "architecture", _str),
        driver_model=_get(data, p, "driver_model", _str),
        mig_devices=_get(data, p, "mig_devices", lambda v, q: _objects(v, q, _mig_device, MAX_HOST_GPUS), []),
        assumed=_get(data, p, "assumed", boolean, False),
    )


def _mig_device(data: dict[str, Any], p: str) -> MigDevice:
    return MigDevice(
        index=_get(data, p, "index", _index),
        gpu_instance_id=_get(data, p, "gpu_instance_id", _index),
        compute_instance_id=_get(data, p, "compute_instance_id", _index),
        memory_total_mib=_get(data, p, "memory_total_mib", _mib),
        uuid=_get(data, p, "uuid", _str),
    )


def _toolkit(data: dict[str, Any], p: str) -> Toolkit:
    if "source" not in data:
        raise DecodeError(p, "a toolkit object with 'version', 'path' and 'source'", data)
    return Toolkit(
        version=_get(data, p, "version", _version),
        path=_get(data, p, "path", _str),
        source=string(data["source"], key(p, "source")),
        nvcc=_get(data, p, "nvcc", _str),
        found_via=_get(data, p, "found_via", lambda v, q: string_list(v, q, MAX_HOST_LIST), []),
    )


def _compiler(data: dict[str, Any], p: str) -> Compiler:
    if "kind" not in data or "path" not in data:
        raise DecodeError(p, "a compiler object with 'kind', 'version' and 'path'", data)
    return Compiler(
        kind=string(data["kind"], key(p, "kind")),
        version=_get(data, p, "version", _version),
        path=string(data["path"], key(p, "path")),
        found_via=_get(data, p, "found_via", lambda v, q: string_list(v, q, MAX_HOST_LIST), []),
    )


def _framework(data: dict[str, Any], p: str) -> Framework:
    if "name" not in data or "version" not in data:
        raise DecodeError(p, "a framework object with 'name' and 'version'", data)
    return Framework(
        name=string(data["name"], key(p, "name")),
        version=string(data["version"], key(p, "version")),
        cuda=_get(data, p, "cuda", _cc),
        variant=_get(data, p, "variant", _str),
        source=_get(data, p, "source", _str, "metadata"),
        location=_get(data, p, "location", _str),
        details=_get(data, p, "details", lambda v, q: obj(v, q), {}),
        installer=_get(data, p, "installer", _str),
    )


def _container(data: dict[str, Any]) -> Container:
    p = "$.container"
    return Container(
        in_container=_get(data, p, "in_container", boolean, False),
        runtime=_get(data, p, "runtime", _str),
        device_files=_get(data, p, "device_files", lambda v, q: string_list(v, q, MAX_HOST_LIST), []),
        nvidia_env=_get(data, p, "nvidia_env", string_map, {}),
        runtime_mode=_get(data, p, "runtime_mode", _str),
    )


def _probe_error(data: dict[str, Any], p: str) -> ProbeError:
    if "probe" not in data or "message" not in data:
        raise DecodeError(p, "an error object with 'probe' and 'message'", data)
    return ProbeError(probe=string(data["probe"], key(p, "probe")), message=string(data["message"], key(p, "message")))
