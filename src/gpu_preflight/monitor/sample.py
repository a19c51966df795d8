"""One sample of every GPU (`gpu-preflight/sample/v1`), whatever source it came from.

Field names follow the sample document's contract (docs/architecture.md, "Contracts"); fields
may be added, never renamed. A value the source does not report is ``None`` (null in JSON), never
a guess: nvidia-smi CSV has no PCIe throughput, processes or XID events, NVML reports no
utilisation for a GPU in MIG mode.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from gpu_preflight.core.decode import DecodeError, integer, key, lst, number, obj, string, string_list
from gpu_preflight.core.limits import MAX_GPU_INDEX, MAX_HOST_GPUS

SCHEMA = "gpu-preflight/sample/v1"

# Clock throttle ("event") reason bits, as fixed by nvml.h (nvmlClocksEventReason*), named the way
# nvidia-smi names its clocks_throttle_reasons.* / clocks_event_reasons.* fields so that the NVML
# path and the CSV replay path report the same words.
THROTTLE_REASON_BITS: dict[int, str] = {
    0x0001: "gpu_idle",
    0x0002: "applications_clocks_setting",
    0x0004: "sw_power_cap",
    0x0008: "hw_slowdown",
    0x0010: "sync_boost",
    0x0020: "sw_thermal_slowdown",
    0x0040: "hw_thermal_slowdown",
    0x0080: "hw_power_brake_slowdown",
    0x0100: "display_clock_setting",
    0x0200: "board_limit",
    0x0400: "reliability",
}


def throttle_reason_names(mask: int) -> list[str]:
    """The names of the bits set in an NVML throttle mask; a bit nvml.h did not define when this
    table was written is named by its value rather than dropped."""
    names = [name for bit, name in THROTTLE_REASON_BITS.items() if mask & bit]
    unknown = mask & ~sum(THROTTLE_REASON_BITS)
    names += [f"unknown_0x{1 << b:x}" for b in range(64) if unknown & (1 << b)]
    return names


@dataclass(frozen=True)
class Process:
    pid: int
    name: str | None = None  # None where the pid is in another namespace (containers)
    memory_used_mib: int | None = None  # None under Windows WDDM, which does not say


@dataclass(frozen=True)
class GpuSample:
    index: int
    name: str
    uuid: str | None = None
    utilization_gpu_pct: float | None = None  # share of time a kernel ran (NVML "GPU utilization")
    utilization_memory_pct: float | None = None  # share of time the memory controller was busy
    memory_used_mib: float | None = None
    memory_total_mib: float | None = None
    temperature_c: float | None = None
    power_w: float | None = None
    power_limit_w: float | None = None  # the enforced limit
    sm_clock_mhz: float | None = None
    memory_clock_mhz: float | None = None
    throttle_reasons: list[str] | None = None  # None: the source did not say (not "none active")
    # added to the contract's fields:
    sm_clock_max_mhz: float | None = None
    sm_clock_base_mhz: float | None = None  # the default applications clock: the board's base clock on datacenter GPUs
    pcie_rx_kb_s: float | None = None  # as NVML reports it (KB/s over a 20 ms window)
    pcie_tx_kb_s: float | None = None
    ecc_errors_corrected: int | None = None  # volatile (since the driver loaded) totals
    ecc_errors_uncorrected: int | None = None
    xid_errors: list[int] | None = None  # XID events since the previous sample; None: not watched
    processes: list[Process] | None = None  # None: the source cannot list them

    @property
    def memory_used_fraction(self) -> float | None:
        if self.memory_used_mib is None or not self.memory_total_mib:
            return None
        return self.memory_used_mib / self.memory_total_mib


@dataclass(frozen=True)
class Hint:
    gpu: int
    code: str  # stable id, e.g. "sm-idle-queued"
    hint: str  # what it probably means, in a sentence
    evidence: str  # the numbers it rests on
    confidence: float


@dataclass(frozen=True)
class Sample:
    time: str  # ISO-8601
    gpus: list[GpuSample]
    hints: list[Hint] = field(default_factory=list)
    source: str = "nvml"  # nvml | replay:jsonl | replay:csv
    driver_version: str | None = None
    cuda_driver_version: str | None = None  # the driver's highest CUDA ("X.Y"), not a runtime
    requests_waiting: int | None = None  # queue depth, when whoever serves the model tells us

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "time": self.time,
            "source": self.source,
            "driver": {"version": self.driver_version, "cuda": self.cuda_driver_version},
            "requests_waiting": self.requests_waiting,
            "gpus": [asdict(gpu) for gpu in self.gpus],
            "hints": [asdict(hint) for hint in self.hints],
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "replay:jsonl") -> Sample:
        """Rebuild a sample from ``to_dict``'s output (a recording). Raises ``ValueError`` saying
        what is wrong, with the JSON path of the field (``DecodeError``). Hints are not read back:
        they are recomputed from the series."""
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise ValueError(f"not a {SCHEMA} object")
        time = string(data.get("time"), "$.time", what="the sample's time as a string")
        gpus = lst(data.get("gpus"), "$.gpus", MAX_HOST_GPUS, "a list of GPUs")
        driver = data.get("driver")
        driver = {} if driver is None else obj(driver, "$.driver")
        return cls(
            time=time,
            gpus=[gpu_from_dict(gpu, f"$.gpus[{n}]") for n, gpu in enumerate(gpus)],
            source=source,
            driver_version=_typed(driver, "version", str, "$.driver"),
            cuda_driver_version=_typed(driver, "cuda", str, "$.driver"),
            requests_waiting=_count(data, "requests_waiting", "$"),
        )


NUMBER_FIELDS = (
    "utilization_gpu_pct",
    "utilization_memory_pct",
    "memory_used_mib",
    "memory_total_mib",
    "temperature_c",
    "power_w",
    "power_limit_w",
    "sm_clock_mhz",
    "memory_clock_mhz",
    "sm_clock_max_mhz",
    "sm_clock_base_mhz",
    "pcie_rx_kb_s",
    "pcie_tx_kb_s",
    "ecc_errors_corrected",
    "ecc_errors_uncorrected",
)


def gpu_from_dict(data: Any, path: str = "$.gpus[]") -> GpuSample:
    """A GPU entry of a sample (from a recording or from the NVML helper); unknown keys are
    ignored so that a newer recording still replays. ``DecodeError`` (a ValueError) names the
    field's JSON path."""
    data = obj(data, path, "a GPU object")
    values: dict[str, Any] = {
        "index": integer(data.get("index"), key(path, "index"), 0, MAX_GPU_INDEX, "a GPU index"),
        "name": _typed(data, "name", str, path) or "unknown",
        "uuid": _typed(data, "uuid", str, path),
    }
    for name in NUMBER_FIELDS:
        values[name] = _number(data, name, path)
    reasons = data.get("throttle_reasons")
    values["throttle_reasons"] = None if reasons is None else string_list(reasons, key(path, "throttle_reasons"), 64)
    xids = data.get("xid_errors")
    if xids is not None:
        xids = lst(xids, key(path, "xid_errors"), 100_000, "a list of XID numbers")
        for n, xid in enumerate(xids):
            integer(xid, f"{key(path, 'xid_errors')}[{n}]", 0, 2**32, "an XID number")
    values["xid_errors"] = xids
    processes = data.get("processes")
    if processes is not None:
        where = key(path, "processes")
        processes = [
            _process(obj(p, f"{where}[{n}]"), f"{where}[{n}]")
            for n, p in enumerate(lst(processes, where, 100_000, "a list of processes"))
        ]
    values["processes"] = processes
    return GpuSample(**values)


def _process(data: dict[str, Any], path: str) -> Process:
    return Process(
        integer(data.get("pid"), key(path, "pid"), 0, 2**32, "a process id"),
        _typed(data, "name", str, path),
        _count(data, "memory_used_mib", path),
    )


def _typed(data: dict[str, Any], name: str, kind: type, path: str = "$") -> Any:
    value = data.get(name)
    if value is None or (isinstance(value, kind) and not isinstance(value, bool)):
        return value
    raise DecodeError(key(path, name), f"a {kind.__name__} or null", value)


def _count(data: dict[str, Any], name: str, path: str) -> int | None:
    value = data.get(name)
    return None if value is None else integer(value, key(path, name), 0, MAX_READING, "a whole number or null")


def _number(data: dict[str, Any], name: str, path: str) -> float | int | None:
    value = data.get(name)
    if value is None:
        return None
    return number(value, key(path, name), 0 if name in _NON_NEGATIVE else -MAX_READING, MAX_READING, "a number or null")


# Readings that cannot be negative (temperatures can, in principle); an NVML counter is at most 2**64.
MAX_READING = 2**64
_NON_NEGATIVE = frozenset(NUMBER_FIELDS) - {"temperature_c"}


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
