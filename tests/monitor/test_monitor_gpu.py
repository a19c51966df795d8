"""On a machine with an NVIDIA GPU: one live NVML sample compared with `nvidia-smi --query-gpu`
read right after it. Skipped, saying why, elsewhere. Runs under pytest, or without it as
`PYTHONPATH=src python3 tests/monitor/test_monitor_gpu.py` (what scripts/gpu-check.sh runs:
exit 0 when they agree or there is no GPU, 1 when they differ).

Static values must agree exactly; live ones (utilisation, power, clocks) move between the two
readings, so they get tolerances wide enough for an idle or a steadily loaded GPU."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace

from gpu_preflight.monitor import NvmlSource, NvmlUnavailable, Process, Sample
from gpu_preflight.monitor.smi_csv import parse_csv

try:
    import pytest
except ImportError:  # run as a script on a bare GPU machine
    pytest = None

QUERY = (
    "index,uuid,name,driver_version,utilization.gpu,utilization.memory,memory.used,memory.total,"
    "temperature.gpu,power.draw,enforced.power.limit,clocks.current.sm,clocks.current.memory,clocks.max.sm,"
    "clocks.default_applications.graphics,ecc.errors.corrected.volatile.total,ecc.errors.uncorrected.volatile.total"
)
THROTTLE_FIELDS = ("clocks_event_reasons.active", "clocks_throttle_reasons.active")  # new name, then old

# field -> (absolute tolerance, relative tolerance); the larger applies. (0, 0): must be equal.
TOLERANCES = {
    "memory_total_mib": (0, 0),
    "sm_clock_max_mhz": (0, 0),
    "sm_clock_base_mhz": (0, 0),
    "ecc_errors_corrected": (0, 0),
    "ecc_errors_uncorrected": (0, 0),
    "power_limit_w": (0.01, 0),  # nvidia-smi prints two decimals
    "temperature_c": (3, 0),
    "memory_used_mib": (256, 0.01),
    "utilization_gpu_pct": (20, 0),  # each is an average over its own recent window
    "utilization_memory_pct": (20, 0),
    "power_w": (15, 0.2),
    "sm_clock_mhz": (0, 0.25),
    "memory_clock_mhz": (0, 0.25),
}


def _nvidia_smi(*args: str) -> str | None:
    proc = subprocess.run(["nvidia-smi", *args], capture_output=True, text=True, timeout=60)
    return proc.stdout if proc.returncode == 0 else None


def take_readings() -> tuple[Sample, Sample, str | None] | str:
    """(NVML sample, nvidia-smi sample, compute-apps CSV), or why there is nothing to compare."""
    if shutil.which("nvidia-smi") is None:
        return "needs an NVIDIA GPU: nvidia-smi is not on PATH"
    source = NvmlSource(timeout=30)
    try:
        live = source.read()
    except NvmlUnavailable as exc:
        return f"needs an NVIDIA GPU: {exc}"
    finally:
        source.close()
    text = None
    for throttle in THROTTLE_FIELDS:  # older drivers know only the old name
        text = _nvidia_smi(f"--query-gpu={QUERY},{throttle}", "--format=csv")
        if text:
            break
    if not text:
        raise AssertionError("nvidia-smi --query-gpu failed")
    (smi,) = parse_csv(text)
    return live, smi, _nvidia_smi("--query-compute-apps=gpu_uuid,pid", "--format=csv,noheader")


def compare(live: Sample, smi: Sample) -> tuple[list[str], list[str]]:
    """(a line per compared value, the lines that differ beyond tolerance)."""
    report, wrong = [f"driver nvml={live.driver_version} nvidia-smi={smi.driver_version}"], []
    if live.driver_version != smi.driver_version:
        wrong.append(report[-1])
    if [(g.index, g.uuid, g.name) for g in live.gpus] != [(g.index, g.uuid, g.name) for g in smi.gpus]:
        wrong.append(f"GPUs differ: nvml={[g.name for g in live.gpus]} nvidia-smi={[g.name for g in smi.gpus]}")
    for ours, theirs in zip(live.gpus, smi.gpus, strict=False):  # a count mismatch is reported above
        for field, (absolute, relative) in TOLERANCES.items():
            a, b = getattr(ours, field), getattr(theirs, field)
            ok = a is None or b is None or abs(a - b) <= max(absolute, relative * abs(b))
            report.append(
                f"GPU {ours.index} {field:24} nvml={a!s:>10} nvidia-smi={b!s:>10} {'ok' if ok else 'DIFFERENT'}"
            )
            if not ok:
                wrong.append(report[-1])
        report.append(
            f"GPU {ours.index} throttle_reasons nvml={ours.throttle_reasons} nvidia-smi={theirs.throttle_reasons}"
        )
        if theirs.throttle_reasons is not None and ours.throttle_reasons is None:
            wrong.append(report[-1] + " (NVML gave none)")
        report.append(
            f"GPU {ours.index} pcie_rx/tx_kb_s={ours.pcie_rx_kb_s}/{ours.pcie_tx_kb_s} xid_errors={ours.xid_errors} "
            "(not in nvidia-smi CSV)"
        )
    return report, wrong


def missing_processes(live: Sample, apps: str) -> set[tuple[str, int]]:
    """Compute processes nvidia-smi lists that the NVML sample does not (ours adds graphics ones)."""
    theirs = {(line.split(",")[0].strip(), int(line.split(",")[1])) for line in apps.splitlines() if line.strip()}
    return theirs - {(g.uuid, p.pid) for g in live.gpus for p in (g.processes or [])}


if pytest is not None:

    @pytest.fixture(scope="module")
    def readings():
        found = take_readings()
        if isinstance(found, str):
            pytest.skip(found)
        return found

    def test_one_sample_matches_nvidia_smi(readings):
        report, wrong = compare(*readings[:2])
        print("\n".join(report))
        assert not wrong, "\n".join(wrong)

    def test_the_comparison_itself_without_a_gpu():
        smi = parse_csv(
            "index, uuid, name, driver_version, temperature.gpu, power.draw [W], clocks_event_reasons.active\n"
            "0, GPU-1, NVIDIA L4, 550.54.15, 50, 30.00 W, 0x0000000000000001\n"
        )[0]
        live = Sample(
            time="t",
            driver_version="550.54.15",
            gpus=[
                replace(
                    smi.gpus[0], temperature_c=52, power_w=40.0, pcie_rx_kb_s=1, processes=[Process(7, "python3", 100)]
                )
            ],
        )
        assert compare(live, smi)[1] == []  # within tolerance
        hot = Sample(
            time="t", driver_version="550.54.15", gpus=[replace(live.gpus[0], temperature_c=60, throttle_reasons=None)]
        )
        assert [line.split()[2] for line in compare(hot, smi)[1]] == ["temperature_c", "throttle_reasons"]
        assert missing_processes(live, "GPU-1, 7\nGPU-1, 8\n") == {("GPU-1", 8)}

    def test_processes_match_nvidia_smi(readings):
        live, _, apps = readings
        if apps is None:
            pytest.skip("nvidia-smi --query-compute-apps is not supported here")
        assert not missing_processes(live, apps)


if __name__ == "__main__":
    found = take_readings()
    if isinstance(found, str):
        print(f"monitor vs nvidia-smi: skipped ({found})")
        raise SystemExit(0)
    live, smi, apps = found
    report, wrong = compare(live, smi)
    missing = missing_processes(live, apps) if apps is not None else set()
    print("\n".join(report))
    print(f"processes nvidia-smi lists that NVML did not: {sorted(missing) or 'none'}")
    print(f"monitor vs nvidia-smi: {'DIFFERENT' if wrong or missing else 'agree'}")
    raise SystemExit(1 if wrong or missing else 0)
