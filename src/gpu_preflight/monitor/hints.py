"""What the numbers probably mean, judged over a window of samples, never one sample.

Every threshold is a field of ``Thresholds`` with the reason for its value in its metadata
(``THRESHOLDS.why(name)``); every hint states the numbers it rests on in ``evidence``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from statistics import fmean
from typing import Any

from gpu_preflight.monitor.sample import GpuSample, Hint, Sample


def _threshold(value: float, why: str) -> Any:
    """A Thresholds field: its default and the reason for it (``Any``, as ``field()`` itself is)."""
    return field(default=value, metadata={"why": why})


@dataclass(frozen=True)
class Thresholds:
    window: int = _threshold(
        10,
        "samples judged together: 10 s at the default 1 s interval, long enough that one slow batch or one gap "
        "between requests is not a trend",
    )
    min_samples: int = _threshold(3, "fewer samples are a snapshot, not a trend: no hint until three are in")
    sustained_share: float = _threshold(
        0.8,
        "a state counts when it holds in 80% of the window's samples, so one odd sample neither makes nor breaks a "
        "hint",
    )
    sm_idle_pct: float = _threshold(
        30.0,
        "NVML's utilisation is the share of time any kernel ran; a GPU kept fed reads 90-100% even with small "
        "kernels, so under 30% with work waiting means it waits on the host",
    )
    allocated_min_mib: float = _threshold(
        1024,
        "a CUDA context alone holds about 300-600 MiB; over 1 GiB means weights or a cache are loaded (a 1.5B model "
        "in bf16 is about 3 GiB)",
    )
    throttle_share: float = _threshold(
        0.5,
        "a slowdown reason active in half the window is sustained; one that flickers on for a sample is not worth a "
        "hint",
    )
    busy_pct: float = _threshold(50.0, "clocks are judged only under load: an idle GPU lowers its clocks on purpose")
    below_base_ratio: float = _threshold(
        0.95, "under 95% of the base clock is a real loss, not clock-step granularity (steps are about 15 MHz)"
    )
    memory_full_ratio: float = _threshold(
        0.95,
        "vLLM reserves 90% of memory by default; above 95% too little is left for activations, CUDA graphs and "
        "fragmentation, so a longer context or a bigger batch can run out of memory",
    )

    def why(self, name: str) -> str:
        return next(str(f.metadata["why"]) for f in fields(self) if f.name == name)


THRESHOLDS = Thresholds()

# code -> (what it probably means, confidence). Lower confidence where the cause is a guess.
HINTS: dict[str, tuple[str, float]] = {
    "sm-idle-queued": (
        "SM utilisation low while requests are queued: input-bound or CPU-bound (tokenisation, Python scheduling, "
        "data loading or host-to-device copies keep the GPU waiting)",
        0.8,
    ),
    "sm-idle-allocated": (
        "memory allocated but SMs idle: the GPU may be waiting on the host (input- or CPU-bound), or there is no "
        "work; the request queue depth is unknown",
        0.4,
    ),
    "thermal-throttling": (
        "thermal throttling: clocks are lowered because the GPU runs too hot (check cooling, airflow, fan curve)",
        0.9,
    ),
    "power-throttling": (
        "power throttling: clocks are held down by the power limit (normal at full load; a higher limit, if the board "
        "allows one, buys speed)",
        0.6,
    ),
    "hw-slowdown": (
        "hardware slowdown: clocks cut by half or more (overheating, an external power brake from the power supply, "
        "or a power spike)",
        0.8,
    ),
    "clocks-below-base": (
        "SM clock below the base clock under load: the GPU is not delivering its rated minimum (throttling, or clocks "
        "locked or application clocks set low)",
        0.7,
    ),
    "memory-nearly-full": (
        "memory nearly full: little headroom for the KV cache; longer contexts or bigger batches may run out of memory",
        0.6,
    ),
    "ecc-uncorrected": (
        "uncorrected ECC errors: data in GPU memory was corrupted; results may be wrong; drain the GPU and reset it "
        "(a row remap or page retirement needs one)",
        0.9,
    ),
    "ecc-corrected-rising": (
        "corrected ECC errors are rising: memory is failing gradually; watch for uncorrected errors and plan a reset "
        "or replacement",
        0.5,
    ),
    "xid-errors": ("XID errors reported by the driver: the GPU hit a fault (see the XID numbers)", 0.9),
}

THERMAL_REASONS = frozenset({"sw_thermal_slowdown", "hw_thermal_slowdown"})
POWER_REASONS = frozenset({"sw_power_cap", "hw_power_brake_slowdown"})
HW_SLOWDOWN_REASONS = frozenset({"hw_slowdown"})

# Common XIDs and what they mean (NVIDIA "XID Errors" catalogue, docs.nvidia.com/deploy/xid-errors).
XID_MEANINGS: dict[int, str] = {
    13: "graphics engine exception (often an application fault: out-of-bounds access)",
    31: "GPU memory page fault (often an application fault)",
    43: "GPU stopped processing",
    45: "preemptive cleanup after earlier errors",
    48: "double-bit ECC error",
    61: "internal micro-controller breakpoint/warning",
    62: "internal micro-controller halt",
    63: "ECC page retirement or row remapping recorded",
    64: "ECC page retirement or row remapping failed",
    74: "NVLink error",
    79: "GPU has fallen off the bus",
    92: "high single-bit ECC error rate",
    94: "contained ECC error",
    95: "uncontained ECC error",
    119: "GSP RPC timeout",
    120: "GSP error",
}


def find_hints(window: Sequence[Sample], thresholds: Thresholds = THRESHOLDS) -> list[Hint]:
    """The hints for the latest sample's GPUs, judged over the last ``thresholds.window`` samples."""
    recent = list(window)[-thresholds.window :]
    if len(recent) < thresholds.min_samples:
        return []
    queue = [sample.requests_waiting for sample in recent]
    hints = []
    for gpu in recent[-1].gpus:
        series = [g for sample in recent for g in sample.gpus if g.index == gpu.index]
        for rule in RULES:
            found = rule(series, queue, thresholds)
            if found is not None:
                code, evidence = found
                text, confidence = HINTS[code]
                hints.append(Hint(gpu=gpu.index, code=code, hint=text, evidence=evidence, confidence=confidence))
    return hints


Series = list[GpuSample]
Queue = list[int | None]  # requests waiting at each sample of the window; None: not told
Found = tuple[str, str] | None  # (hint code, evidence)
Rule = Callable[[Series, Queue, Thresholds], Found]


def _count(series: Series, holds: Callable[[GpuSample], bool]) -> int:
    return sum(1 for gpu in series if holds(gpu))


def _values(series: Series, name: str) -> list[float]:
    return [v for gpu in series if (v := getattr(gpu, name)) is not None]


def _sm_idle(series: Series, queue: Queue, t: Thresholds) -> Found:
    def idle(g: GpuSample) -> bool:
        return (
            g.utilization_gpu_pct is not None
            and g.utilization_gpu_pct < t.sm_idle_pct
            and g.memory_used_mib is not None
            and g.memory_used_mib >= t.allocated_min_mib
        )

    n = len(series)
    if _count(series, idle) < t.sustained_share * n:
        return None
    util, used = _values(series, "utilization_gpu_pct"), _values(series, "memory_used_mib")
    evidence = (
        f"SM utilisation mean {fmean(util):.0f}% (max {max(util):.0f}%) over {n} samples"
        f" with {used[-1]:.0f} MiB allocated"
    )
    known = [q for q in queue if q is not None]
    if not known:
        return "sm-idle-allocated", evidence + "; request queue depth unknown"
    if sum(1 for q in known if q >= 1) >= t.sustained_share * len(queue):
        return "sm-idle-queued", evidence + f"; {fmean(known):.1f} requests waiting on average"
    return None  # idle because nothing is waiting: expected


def _throttle_rule(code: str, reasons: frozenset[str]) -> Rule:
    def rule(series: Series, queue: Queue, t: Thresholds) -> Found:
        active = _count(series, lambda g: bool(g.throttle_reasons and reasons & set(g.throttle_reasons)))
        if active < t.throttle_share * len(series):
            return None
        seen = sorted({r for g in series for r in (g.throttle_reasons or []) if r in reasons})
        evidence = f"{', '.join(seen)} active in {active} of {len(series)} samples"
        temps, power, limits = (
            _values(series, "temperature_c"),
            _values(series, "power_w"),
            _values(series, "power_limit_w"),
        )
        if temps:
            evidence += f"; temperature up to {max(temps):.0f} C"
        if power and limits:
            evidence += f"; power mean {fmean(power):.0f} W of a {limits[-1]:.0f} W limit"
        return code, evidence

    return rule


def _below_base(series: Series, queue: Queue, t: Thresholds) -> Found:
    def slow(g: GpuSample) -> bool:
        util, clock, base = g.utilization_gpu_pct, g.sm_clock_mhz, g.sm_clock_base_mhz
        if util is None or clock is None or not base:  # no base clock (0 or unknown): nothing to compare
            return False
        return util >= t.busy_pct and clock < t.below_base_ratio * base

    slow_samples = [g for g in series if slow(g)]
    if len(slow_samples) < t.sustained_share * len(series):
        return None
    clocks = _values(slow_samples, "sm_clock_mhz")
    reasons = sorted({r for g in slow_samples for r in (g.throttle_reasons or [])} - {"gpu_idle"})
    evidence = (
        f"SM clock mean {fmean(clocks):.0f} MHz under load vs a {slow_samples[-1].sm_clock_base_mhz:.0f} MHz"
        f" base clock in {len(slow_samples)} of {len(series)} samples;"
        f" throttle reasons: {', '.join(reasons) or 'none reported'}"
    )
    return "clocks-below-base", evidence


def _memory_full(series: Series, queue: Queue, t: Thresholds) -> Found:
    full = _count(series, lambda g: (g.memory_used_fraction or 0) >= t.memory_full_ratio)
    if full < t.sustained_share * len(series):
        return None
    # The numbers of the latest sample that has them: the very last may not (a failed read).
    latest = next((g for g in reversed(series) if g.memory_used_fraction is not None), None)
    if latest is None or latest.memory_used_mib is None or not latest.memory_total_mib:
        return None
    used, total = latest.memory_used_mib, latest.memory_total_mib
    return "memory-nearly-full", (
        f"{used:.0f} of {total:.0f} MiB used ({100 * used / total:.1f}%), "
        f"{total - used:.0f} MiB free, at or above {100 * t.memory_full_ratio:.0f}% in {full} of {len(series)} samples"
    )


def _ecc_uncorrected(series: Series, queue: Queue, t: Thresholds) -> Found:
    counts = _values(series, "ecc_errors_uncorrected")
    if not counts or counts[-1] <= 0:
        return None
    return (
        "ecc-uncorrected",
        f"{counts[-1]} uncorrected ECC errors since the driver loaded"
        f" (+{counts[-1] - counts[0]} in the last {len(series)} samples)",
    )


def _ecc_corrected_rising(series: Series, queue: Queue, t: Thresholds) -> Found:
    counts = _values(series, "ecc_errors_corrected")
    if len(counts) < 2 or counts[-1] <= counts[0]:
        return None
    return (
        "ecc-corrected-rising",
        f"corrected ECC errors rose from {counts[0]} to {counts[-1]} over {len(series)} samples",
    )


def _xid(series: Series, queue: Queue, t: Thresholds) -> Found:
    xids = [x for gpu in series for x in (gpu.xid_errors or [])]
    if not xids:
        return None
    named = ", ".join(f"XID {x}" + (f" ({XID_MEANINGS[x]})" if x in XID_MEANINGS else "") for x in sorted(set(xids)))
    return "xid-errors", f"{len(xids)} XID event(s) in the last {len(series)} samples: {named}"


RULES: tuple[Rule, ...] = (
    _sm_idle,
    _throttle_rule("thermal-throttling", THERMAL_REASONS),
    _throttle_rule("power-throttling", POWER_REASONS),
    _throttle_rule("hw-slowdown", HW_SLOWDOWN_REASONS),
    _below_base,
    _memory_full,
    _ecc_uncorrected,
    _ecc_corrected_rising,
    _xid,
)
