"""Helpers for the monitor's tests: the fake NVML module's environment, synthetic samples, and
the real nvidia-smi CSV fixtures (read from the shared folder, never copied)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gpu_preflight.monitor.sample import GpuSample, Sample

from support.paths import MISSING, REAL, ROOT

TESTS = Path(__file__).resolve().parents[1]
CSV_DIR = REAL / "nvidia-smi-csv"


def real_csv_params():
    """One pytest param per real CSV fixture, or one skipped param saying why there are none."""
    if not CSV_DIR.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=MISSING))]
    files = sorted(p for p in CSV_DIR.iterdir() if p.is_file())
    return [pytest.param(p, id=p.name) for p in files]


def real_csv(name: str) -> Path:
    path = CSV_DIR / name
    if not path.is_file():
        pytest.skip(MISSING)
    return path


def fake_nvml_env(scenario: str = "ok") -> dict[str, str]:
    """Environment that makes the NVML helper import the fake bindings."""
    return {
        "GPU_PREFLIGHT_NVML_MODULE": "support.fake_pynvml",
        "FAKE_NVML_SCENARIO": scenario,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(TESTS)]),
    }


def gpu(index: int = 0, **values) -> GpuSample:
    defaults = dict(
        name="NVIDIA H100 80GB HBM3",
        uuid=f"GPU-{index}",
        utilization_gpu_pct=95,
        utilization_memory_pct=40,
        memory_used_mib=30000,
        memory_total_mib=81559,
        temperature_c=60,
        power_w=500,
        power_limit_w=700,
        sm_clock_mhz=1980,
        memory_clock_mhz=2619,
        throttle_reasons=[],
        sm_clock_base_mhz=1590,
        ecc_errors_corrected=0,
        ecc_errors_uncorrected=0,
        xid_errors=[],
    )
    return GpuSample(index=index, **{**defaults, **values})


def series(n: int, queue: int | None = None, **values) -> list[Sample]:
    """``n`` samples of one GPU, all alike."""
    return [
        Sample(time=f"2026-01-01T00:00:{i:02d}+00:00", gpus=[gpu(**values)], requests_waiting=queue) for i in range(n)
    ]
