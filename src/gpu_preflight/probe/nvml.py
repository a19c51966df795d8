"""Read the driver and GPUs through NVML (the official `nvidia-ml-py` bindings).

NVML can hang on a wedged GPU, so the parent never calls it: ``probe_nvml`` runs this module as
a child process with a timeout (``python -m gpu_preflight.probe.nvml``), which prints one JSON
object. ``query`` is the child's work and takes the bindings as an argument so tests can hand
it a fake module.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import sys
from collections.abc import Callable
from typing import Any

from gpu_preflight.core.host import Driver, Gpu, Host, MigDevice
from gpu_preflight.probe.isolated import run_isolated
from gpu_preflight.probe.nvml_bindings import (
    as_text,
    call_or_none,
    cuda_version,
    helper_environment,
    import_bindings,
    mib,
)

# One NVML call whose failure becomes an ``errors`` entry: attempt(what, function, *args).
Attempt = Callable[..., Any]

# nvidia-smi's spelling of NVML brands, keyed by the bindings' constant suffix.
BRAND_NAMES = {
    "UNKNOWN": "Unknown",
    "QUADRO": "Quadro",
    "TESLA": "Tesla",
    "NVS": "NVS",
    "GRID": "GRID",
    "GEFORCE": "GeForce",
    "TITAN": "Titan",
    "NVIDIA_VAPPS": "NVIDIA Virtual Applications",
    "NVIDIA_VPC": "NVIDIA Virtual PC",
    "NVIDIA_VCS": "NVIDIA Virtual Compute Server",
    "NVIDIA_VWS": "NVIDIA RTX Virtual Workstation",
    "NVIDIA_CLOUD_GAMING": "NVIDIA Cloud Gaming",
    "QUADRO_RTX": "Quadro RTX",
    "NVIDIA_RTX": "NVIDIA RTX",
    "NVIDIA": "NVIDIA",
    "GEFORCE_RTX": "GeForce RTX",
    "TITAN_RTX": "Titan RTX",
}

LIBRARY_NAMES = {"linux": "libnvidia-ml.so.1", "win32": "nvml.dll", "darwin": None}

_LIB_VERSION = re.compile(r"libnvidia-ml\.so\.(\d+(?:\.\d+)+)$")


def library_present() -> str | None:
    """The NVML library's path when this process can load it (cheap: no NVML call is made)."""
    name = LIBRARY_NAMES.get(sys.platform, LIBRARY_NAMES["linux"])
    if name is None:
        return None
    try:
        ctypes.CDLL(name)
    except OSError:
        return None
    return _loaded_library_path() or name


def _loaded_library_path() -> str | None:
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                if "libnvidia-ml.so" in line:
                    return line.split()[-1]
    except OSError:
        pass
    return None


def library_version(path: str | None) -> str | None:
    """User-space driver version from the library's file name (libnvidia-ml.so.550.54.15)."""
    if path:
        match = _LIB_VERSION.search(os.path.realpath(path))
        if match:
            return match.group(1)
    return None


def _constant_names(nvml: Any, prefix: str) -> dict[int, str]:
    names: dict[int, str] = {}
    for attr in dir(nvml):
        if attr.startswith(prefix) and attr != prefix + "COUNT":
            names.setdefault(getattr(nvml, attr), attr[len(prefix) :])
    return names


def query(nvml: Any) -> dict[str, Any]:
    """Everything NVML says about the driver and GPUs, as JSON-ready data. Each call that fails
    becomes an entry in ``errors``; only a failed init stops the query."""
    out: dict[str, Any] = {"driver": {}, "gpus": [], "errors": []}

    def attempt(what: str, call: Callable[..., Any], *args: Any) -> Any:
        try:
            return call(*args)
        except Exception as exc:  # noqa: BLE001 - NVMLError and its many subclasses; a missing function too
            out["errors"].append({"probe": f"nvml.{what}", "message": as_text(exc)})
            return None

    try:
        nvml.nvmlInit()
    except Exception as exc:  # noqa: BLE001 - NVMLError and its subclasses, or whatever fake bindings raise
        out["init_error"] = as_text(exc)
        return out
    try:
        out["driver"]["version"] = attempt("driver_version", lambda: as_text(nvml.nvmlSystemGetDriverVersion()))
        cuda = attempt("cuda_driver_version", nvml.nvmlSystemGetCudaDriverVersion)
        if cuda:
            out["driver"]["cuda"] = cuda_version(cuda)
        brands = _constant_names(nvml, "NVML_BRAND_")
        archs = _constant_names(nvml, "NVML_DEVICE_ARCH_")
        count = attempt("device_count", nvml.nvmlDeviceGetCount) or 0
        for index in range(count):
            handle = attempt(f"gpu{index}.handle", nvml.nvmlDeviceGetHandleByIndex, index)
            if handle is not None:
                out["gpus"].append(_query_gpu(nvml, handle, index, attempt, brands, archs))
    finally:
        try:
            nvml.nvmlShutdown()
        except Exception:  # noqa: BLE001 - shutting down: nothing left to report
            pass
    return out


def _query_gpu(
    nvml: Any, handle: Any, index: int, attempt: Attempt, brands: dict[int, str], archs: dict[int, str]
) -> dict[str, Any]:
    gpu: dict[str, Any] = {"index": index}
    gpu["name"] = attempt(f"gpu{index}.name", lambda: as_text(nvml.nvmlDeviceGetName(handle)))
    gpu["uuid"] = attempt(f"gpu{index}.uuid", lambda: as_text(nvml.nvmlDeviceGetUUID(handle)))
    cc = attempt(f"gpu{index}.compute_capability", nvml.nvmlDeviceGetCudaComputeCapability, handle)
    if cc:
        gpu["compute_capability"] = f"{cc[0]}.{cc[1]}"
        gpu["compute_capability_source"] = "nvml"
    memory = attempt(f"gpu{index}.memory", nvml.nvmlDeviceGetMemoryInfo, handle)
    if memory is not None:
        gpu["memory_total_mib"] = mib(memory.total)
        gpu["memory_used_mib"] = mib(memory.used)
    brand = attempt(f"gpu{index}.brand", nvml.nvmlDeviceGetBrand, handle)
    if brand is not None:
        suffix = brands.get(brand, "UNKNOWN")
        gpu["brand"] = BRAND_NAMES.get(suffix, suffix.replace("_", " ").title())
    arch = attempt(f"gpu{index}.architecture", nvml.nvmlDeviceGetArchitecture, handle)
    if arch is not None and archs.get(arch, "UNKNOWN") != "UNKNOWN":
        gpu["architecture"] = archs[arch].title()
    pci = attempt(f"gpu{index}.pci", nvml.nvmlDeviceGetPciInfo, handle)
    if pci is not None:
        gpu["pci_bus_id"] = as_text(pci.busId)
        gpu["pci_device_id"] = f"0x{pci.pciDeviceId & 0xFFFFFFFF:08X}"
    mig = call_or_none(nvml.nvmlDeviceGetMigMode, handle)  # not supported on most GPUs: not an error
    if mig is not None:
        gpu["mig_mode"] = "Enabled" if mig[0] else "Disabled"
        if mig[0]:
            gpu["mig_devices"] = _query_mig(nvml, handle)
    return gpu


def _query_mig(nvml: Any, handle: Any) -> list[dict[str, Any]]:
    devices = []
    for slot in range(call_or_none(nvml.nvmlDeviceGetMaxMigDeviceCount, handle) or 0):
        mig = call_or_none(nvml.nvmlDeviceGetMigDeviceHandleByIndex, handle, slot)
        if mig is None:
            continue
        memory = call_or_none(nvml.nvmlDeviceGetMemoryInfo, mig)
        devices.append(
            {
                "index": slot,
                "gpu_instance_id": call_or_none(nvml.nvmlDeviceGetGpuInstanceId, mig),
                "compute_instance_id": call_or_none(nvml.nvmlDeviceGetComputeInstanceId, mig),
                "memory_total_mib": mib(memory.total) if memory else None,
                "uuid": as_text(u) if (u := call_or_none(nvml.nvmlDeviceGetUUID, mig)) else None,
            }
        )
    return devices


def probe_nvml(host: Host, timeout: float) -> bool:
    """Fill ``host`` from NVML. False when NVML could not answer (the caller may fall back to
    nvidia-smi); the reason is recorded in ``host.errors``."""
    library = library_present()
    if library is None:
        host.add_error("nvml", "NVML library (libnvidia-ml) not found: no NVIDIA driver installed in this environment")
        return False
    outcome = run_isolated([sys.executable, "-m", "gpu_preflight.probe.nvml"], timeout, env=helper_environment())
    if not outcome.ok:
        host.add_error("nvml", outcome.describe_failure())
        return False
    try:
        data = json.loads(outcome.stdout)
    except ValueError:
        host.add_error("nvml", "NVML helper printed something that is not JSON")
        return False
    if "init_error" in data:
        # e.g. "Driver/library version mismatch": keep the library's own version for the check
        host.add_error("nvml", f"nvmlInit failed: {data['init_error']}")
        host.driver.version = library_version(library)
        if host.driver.version:
            host.driver.source = "libnvidia-ml"
        return False
    apply(host, data)
    return True


def apply(host: Host, data: dict[str, Any]) -> None:
    host.driver = Driver(
        version=data["driver"].get("version"),
        cuda=data["driver"].get("cuda"),
        source="nvml",
        kernel_module=host.driver.kernel_module,
        platform="windows" if sys.platform == "win32" else "linux",
    )
    host.gpus = [
        Gpu(
            **{k: v for k, v in gpu.items() if k != "mig_devices"},
            mig_devices=[MigDevice(**m) for m in gpu.get("mig_devices", [])],
        )
        for gpu in data["gpus"]
        if gpu.get("name") is not None
    ]
    for err in data["errors"]:
        host.add_error(err["probe"], err["message"])


if __name__ == "__main__":
    print(json.dumps(query(import_bindings())))
