"""Hints from synthetic series: each fires on a sustained pattern with its evidence, and not on
one sample, a blip, or an idle GPU with nothing to do."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest

from gpu_preflight.monitor import (
    THRESHOLDS,
    Sample,
    SeriesSource,
    Thresholds,
    find_hints,
    watch,
)
from gpu_preflight.monitor.hints import HINTS

from support.monitor import gpu, series


def codes(samples) -> set[str]:
    return {hint.code for hint in find_hints(samples)}


def test_every_threshold_states_its_reason():
    for f in fields(Thresholds):
        assert len(THRESHOLDS.why(f.name)) > 30, f.name


def test_no_hint_from_fewer_samples_than_a_trend():
    assert codes(series(THRESHOLDS.min_samples - 1, utilization_gpu_pct=5, queue=4)) == set()


def test_sm_idle_with_requests_queued_is_input_or_cpu_bound():
    (hint,) = find_hints(series(10, utilization_gpu_pct=8, memory_used_mib=20000, queue=5))
    assert hint.code == "sm-idle-queued" and "input-bound or CPU-bound" in hint.hint
    assert (
        "mean 8%" in hint.evidence
        and "20000 MiB allocated" in hint.evidence
        and "5.0 requests waiting" in hint.evidence
    )
    assert hint.confidence == HINTS["sm-idle-queued"][1]


def test_sm_idle_with_queue_unknown_is_a_weaker_hint():
    (hint,) = find_hints(series(10, utilization_gpu_pct=8, memory_used_mib=20000))
    assert hint.code == "sm-idle-allocated" and hint.hint.startswith("memory allocated but SMs idle")
    assert "queue depth unknown" in hint.evidence
    assert hint.confidence < HINTS["sm-idle-queued"][1]


def test_idle_with_an_empty_queue_is_not_a_problem():
    assert codes(series(10, utilization_gpu_pct=0, memory_used_mib=20000, queue=0)) == set()


def test_idle_without_a_model_loaded_is_not_a_problem():
    assert codes(series(10, utilization_gpu_pct=0, memory_used_mib=400)) == set()  # a CUDA context only


def test_one_idle_sample_among_busy_ones_is_a_blip():
    samples = series(10, utilization_gpu_pct=95, queue=3)
    samples[4] = replace(samples[4], gpus=[gpu(utilization_gpu_pct=2)])
    assert codes(samples) == set()


@pytest.mark.parametrize(
    "reasons, code",
    [
        (["hw_thermal_slowdown"], "thermal-throttling"),
        (["sw_thermal_slowdown"], "thermal-throttling"),
        (["sw_power_cap"], "power-throttling"),
        (["hw_power_brake_slowdown"], "power-throttling"),
        (["hw_slowdown"], "hw-slowdown"),
    ],
)
def test_throttling(reasons, code):
    hints = [
        h for h in find_hints(series(10, throttle_reasons=reasons, temperature_c=88, power_w=695)) if h.code == code
    ]
    assert len(hints) == 1
    assert f"{reasons[0]} active in 10 of 10 samples" in hints[0].evidence
    assert "up to 88 C" in hints[0].evidence and "695 W of a 700 W limit" in hints[0].evidence


def test_throttling_in_under_half_the_window_is_not_sustained():
    samples = series(10)
    for i in (1, 5, 8):
        samples[i] = replace(samples[i], gpus=[gpu(throttle_reasons=["hw_thermal_slowdown"])])
    assert codes(samples) == set()


def test_idle_is_not_throttling():
    assert codes(series(10, throttle_reasons=["gpu_idle"], utilization_gpu_pct=0, memory_used_mib=100)) == set()


def test_clocks_below_base_under_load():
    (hint,) = [
        h
        for h in find_hints(series(10, sm_clock_mhz=1100, sm_clock_base_mhz=1590, throttle_reasons=["hw_slowdown"]))
        if h.code == "clocks-below-base"
    ]
    assert "1100 MHz under load vs a 1590 MHz base clock" in hint.evidence and "hw_slowdown" in hint.evidence


def test_low_clocks_when_idle_or_base_unknown_say_nothing():
    assert "clocks-below-base" not in codes(series(10, sm_clock_mhz=345, utilization_gpu_pct=0))
    assert "clocks-below-base" not in codes(series(10, sm_clock_mhz=1100, sm_clock_base_mhz=None))


def test_memory_nearly_full():
    (hint,) = find_hints(series(10, memory_used_mib=79000, memory_total_mib=81559))
    assert hint.code == "memory-nearly-full" and "KV cache" in hint.hint
    assert "79000 of 81559 MiB used (96.9%), 2559 MiB free" in hint.evidence


def test_memory_nearly_full_when_the_last_sample_has_no_memory_reading():
    """The evidence quotes the latest sample that has the numbers."""
    samples = series(9, memory_used_mib=15000, memory_total_mib=15360) + series(1, memory_used_mib=None)
    (hint,) = find_hints(samples)
    assert hint.code == "memory-nearly-full" and "15000 of 15360 MiB used (97.7%), 360 MiB free" in hint.evidence


def test_vllm_style_preallocation_at_90_percent_is_normal():
    assert codes(series(10, memory_used_mib=0.90 * 81559)) == set()


def test_uncorrected_ecc_errors():
    samples = series(5, ecc_errors_uncorrected=2)
    samples[-1] = replace(samples[-1], gpus=[gpu(ecc_errors_uncorrected=3)])
    (hint,) = find_hints(samples)
    assert hint.code == "ecc-uncorrected" and "3 uncorrected ECC errors" in hint.evidence and "+1" in hint.evidence


def test_rising_corrected_ecc_errors():
    samples = [Sample(time="t", gpus=[gpu(ecc_errors_corrected=n)]) for n in (10, 10, 11, 14)]
    (hint,) = find_hints(samples)
    assert hint.code == "ecc-corrected-rising" and "from 10 to 14" in hint.evidence
    assert codes(series(10, ecc_errors_corrected=10)) == set()  # old errors, not rising


def test_xid_errors_are_named():
    samples = series(5)
    samples[1] = replace(samples[1], gpus=[gpu(xid_errors=[79])])
    (hint,) = find_hints(samples)
    assert hint.code == "xid-errors" and "XID 79 (GPU has fallen off the bus)" in hint.evidence


def test_a_healthy_busy_gpu_has_no_hints():
    assert codes(series(10)) == set()


def test_hints_are_per_gpu():
    samples = [Sample(time="t", gpus=[gpu(0), gpu(1, memory_used_mib=81000)]) for _ in range(5)]
    assert [(h.gpu, h.code) for h in find_hints(samples)] == [(1, "memory-nearly-full")]


def test_the_window_forgets_old_samples():
    old = series(10, utilization_gpu_pct=3, memory_used_mib=20000, queue=4)
    recent = series(10, queue=4)
    assert codes(old + recent) == set()


def test_watch_attaches_hints_and_queue_depth():
    samples = series(4, utilization_gpu_pct=5, memory_used_mib=20000)
    waiting = iter([3, 3, 3, 3])
    out = list(watch(SeriesSource(samples), interval=0, requests_waiting=lambda: next(waiting)))
    assert [s.requests_waiting for s in out] == [3, 3, 3, 3]
    assert [[h.code for h in s.hints] for s in out] == [[], [], ["sm-idle-queued"], ["sm-idle-queued"]]


def test_watch_keeps_a_steady_interval():
    now = [0.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    class SlowSource(SeriesSource):
        def read(self):
            now[0] += 0.3  # each sample takes 0.3 s
            return super().read()

    list(watch(SlowSource(series(3)), interval=1.0, count=3, sleep=sleep, clock=lambda: now[0]))
    assert slept == pytest.approx([1.0, 0.7])  # from the first sample on, reads start 1 s apart
