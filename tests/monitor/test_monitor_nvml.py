"""The NVML path, driven by a fake of the bindings: in-process (NvmlReader), through the
long-lived helper process (NvmlSource), and through the command line."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from gpu_preflight.monitor import NvmlReader, NvmlSource, NvmlUnavailable, SourceError
from gpu_preflight.monitor.sample import gpu_from_dict

from support.fake_pynvml import FakeNVML
from support.monitor import fake_nvml_env


def test_reader_converts_units_and_names():
    reader = NvmlReader(FakeNVML())
    data = reader.read()
    assert data["driver"] == {"version": "550.54.15", "cuda": "12.4"}
    h100 = gpu_from_dict(data["gpus"][0])
    assert (h100.index, h100.name, h100.uuid) == (0, "NVIDIA H100 80GB HBM3", "GPU-00000000-fake")
    assert (h100.utilization_gpu_pct, h100.utilization_memory_pct) == (97, 45)
    assert (h100.memory_used_mib, h100.memory_total_mib) == (61234, 81559)  # bytes -> MiB
    assert (h100.power_w, h100.power_limit_w) == (612.345, 700.0)  # mW -> W
    assert (h100.sm_clock_mhz, h100.memory_clock_mhz, h100.sm_clock_max_mhz, h100.sm_clock_base_mhz) == (
        1980,
        2619,
        1980,
        1590,
    )
    assert h100.throttle_reasons == ["sw_power_cap"]  # bit 0x4, by nvidia-smi's name
    assert (h100.pcie_rx_kb_s, h100.pcie_tx_kb_s) == (12345, 4567)
    assert (h100.ecc_errors_corrected, h100.ecc_errors_uncorrected) == (0, 0)
    assert [(p.pid, p.name, p.memory_used_mib) for p in h100.processes] == [
        (4242, "python3", 61000),
        (4343, None, None),
    ]
    assert h100.xid_errors == []


def test_reader_reports_unsupported_as_null_and_drains_xid_events():
    reader = NvmlReader(FakeNVML())
    t4 = gpu_from_dict(reader.read()["gpus"][1])
    assert t4.name == "Tesla T4" and t4.temperature_c == 40 and t4.memory_used_mib == 300
    for field in (
        "utilization_gpu_pct",
        "power_w",
        "power_limit_w",
        "sm_clock_base_mhz",
        "throttle_reasons",
        "pcie_rx_kb_s",
        "ecc_errors_uncorrected",
        "processes",
    ):
        assert getattr(t4, field) is None, field
    assert t4.xid_errors == [79]
    assert gpu_from_dict(reader.read()["gpus"][1]).xid_errors == []  # reported once, then drained


def test_reader_falls_back_to_v1_memory_info_on_old_bindings():
    class OldBindings(FakeNVML):
        nvmlMemory_v2 = None

    h100 = NvmlReader(OldBindings()).read()["gpus"][0]
    assert h100["memory_used_mib"] == 61234 + FakeNVML.RESERVED_MIB  # v1 counts reserved memory as used


def test_reader_close_frees_events_and_shuts_down():
    nvml = FakeNVML()
    reader = NvmlReader(nvml)
    reader.close()
    assert nvml.events_freed and nvml.shut_down


def test_reader_with_old_bindings_uses_throttle_reasons_function():
    class OldBindings(FakeNVML):
        nvmlDeviceGetCurrentClocksEventReasons = None  # before the "event reasons" rename

        def nvmlDeviceGetCurrentClocksThrottleReasons(self, handle):
            return 0x40 | 0x1

    data = NvmlReader(OldBindings()).read()
    assert data["gpus"][0]["throttle_reasons"] == ["gpu_idle", "hw_thermal_slowdown"]


def test_source_reads_through_the_helper_process(fake_nvml):
    source = NvmlSource(timeout=20)
    try:
        first, second = source.read(), source.read()
    finally:
        source.close()
    assert first.source == "nvml" and first.driver_version == "550.54.15" and first.cuda_driver_version == "12.4"
    assert [g.name for g in first.gpus] == ["NVIDIA H100 80GB HBM3", "Tesla T4"]
    assert first.gpus[1].xid_errors == [79] and second.gpus[1].xid_errors == []  # one child kept its event set


@pytest.mark.parametrize(
    "scenario, message",
    [("no-library", "NVML Shared Library Not Found"), ("no-gpus", "reports no GPU")],
)
def test_source_without_nvml_says_why(fake_nvml, scenario, message):
    fake_nvml(scenario)
    source = NvmlSource(timeout=20)
    with pytest.raises(NvmlUnavailable, match=message):
        source.read()
    source.close()


def test_a_hung_init_is_killed_after_its_timeout(fake_nvml):
    fake_nvml("hang-init")
    source = NvmlSource(timeout=1, init_timeout=1)
    started = time.monotonic()
    with pytest.raises(NvmlUnavailable, match="did not initialise within 1 s"):
        source.read()
    assert time.monotonic() - started < 30


def test_a_hung_sample_is_killed_and_the_next_read_starts_afresh(fake_nvml):
    fake_nvml("hang-sample")
    source = NvmlSource(timeout=1, init_timeout=20)
    with pytest.raises(SourceError, match="did not answer within 1 s"):
        source.read()
    fake_nvml("ok")
    try:
        assert source.read().gpus[0].utilization_gpu_pct == 97
    finally:
        source.close()


def test_a_crashed_helper_is_reported(fake_nvml):
    fake_nvml("crash-sample")
    source = NvmlSource(timeout=20)
    with pytest.raises(SourceError, match=r"ended before answering \(exit 3"):
        source.read()
    source.close()


def test_cli_json_lines_from_nvml(run_cli):
    result = run_cli("monitor", "--json", "--count", "3", "--interval", "0.01", env=fake_nvml_env())
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 3
    assert all(line["schema"] == "gpu-preflight/sample/v1" for line in lines)
    assert lines[0]["hints"] == [] and lines[1]["hints"] == []  # one or two samples are no trend
    codes = {(h["gpu"], h["hint"].split(":")[0], h["code"]) for h in lines[2]["hints"]}
    assert (0, "power throttling", "power-throttling") in codes  # sw_power_cap in every sample
    assert any(code == "xid-errors" and gpu == 1 for gpu, _, code in codes)


def test_cli_without_nvml_exits_1_with_one_clear_line(run_cli):
    result = run_cli("monitor", "--count", "1", env=fake_nvml_env("no-library"))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "NVML is not available: NVML Shared Library Not Found" in result.stderr


def _as_in_a_terminal() -> None:
    """SIGINT as a foreground job has it. A job a non-interactive shell starts in the background
    (``pytest ... &``, a CI step's background stage) inherits SIGINT *ignored*, and Python then
    installs no KeyboardInterrupt handler: the Ctrl-C this test sends would be lost, and the
    monitor would sample on until the timeout (the test "failing only in a full run")."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to one process")
def test_ctrl_c_ends_cleanly_with_exit_0(tmp_path):
    env = {**fake_nvml_env(), "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gpu_preflight", "monitor", "--json", "--interval", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
        preexec_fn=_as_in_a_terminal,
    )
    first = proc.stdout.readline()  # wait for one sample
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert json.loads(first)["schema"] == "gpu-preflight/sample/v1"
    assert proc.returncode == 0
    assert "stopped after" in err and "Traceback" not in err
    assert all(json.loads(line) for line in out.splitlines())  # nothing half-written
