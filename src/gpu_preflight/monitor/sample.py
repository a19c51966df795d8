"""One sample of every GPU (`gpu-preflight/sample/v1`), whatever source it came from.

Field names follow the sample document's contract (docs/architecture.md, "Contracts"); fields
may be added, never renamed. A value the source does not report is ``None`` (null in JSON), never
a guess: nvidia-smi CSV has no PCIe throughput, processes or XID events, NVML reports no
utilisation for a GPU in MIG mode.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

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
        what is wrong. Hints are not read back: they are recomputed from the series."""
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise ValueError(f"not a {SCHEMA} object")
        if not isinstance(data.get("time"), str) or not isinstance(data.get("gpus"), list):
            raise ValueError("'time' must be a string and 'gpus' a list")
        driver = data.get("driver") or {}
        if not isinstance(driver, dict):
            raise ValueError("'driver' must be an object")
        return cls(
            time=data["time"],
            gpus=[gpu_from_dict(gpu) for gpu in data["gpus"]],
            source=source,
            driver_version=_typed(driver, "version", str),
            cuda_driver_version=_typed(driver, "cuda", str),
            requests_waiting=_typed(data, "requests_waiting", int),
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


def gpu_from_dict(data: Any) -> GpuSample:
    """A GPU entry of a sample (from a recording or from the NVML helper); unknown keys are
    ignored so that a newer recording still replays."""
    if not isinstance(data, dict):
        raise ValueError("a 'gpus' entry is not an object")
    index = data.get("index")
    if not isinstance(index, int) or isinstance(index, bool):
        raise ValueError("a GPU's 'index' must be an integer")
    values: dict[str, Any] = {
        "index": index,
        "name": _typed(data, "name", str) or "unknown",
        "uuid": _typed(data, "uuid", str),
    }
    for name in NUMBER_FIELDS:
        values[name] = _number(data, name)
    reasons = data.get("throttle_reasons")
    if reasons is not None and not (isinstance(reasons, list) and all(isinstance(r, str) for r in reasons)):
        raise ValueError("'throttle_reasons' must be a list of strings or null")
    values["throttle_reasons"] = reasons
    xids = data.get("xid_errors")
    if xids is not None and not (isinstance(xids, list) and all(isinstance(x, int) for x in xids)):
        raise ValueError("'xid_errors' must be a list of integers or null")
    values["xid_errors"] = xids
    processes = data.get("processes")
    if processes is not None:
        if not isinstance(processes, list) or not all(
            isinstance(p, dict) and isinstance(p.get("pid"), int) for p in processes
        ):
            raise ValueError("'processes' must be a list of objects with an integer 'pid'")
        processes = [Process(p["pid"], _typed(p, "name", str), _typed(p, "memory_used_mib", int)) for p in processes]
    values["processes"] = processes
    return GpuSample(**values)


def _typed(data: dict[str, Any], key: str, kind: type) -> Any:
    value = data.get(key)
    if value is None or (isinstance(value, kind) and not isinstance(value, bool)):
        return value
    raise ValueError(f"'{key}' must be {kind.__name__} or null, not {type(value).__name__}")


def _number(data: dict[str, Any], key: str) -> float | int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"'{key}' must be a number or null")
    return value


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
