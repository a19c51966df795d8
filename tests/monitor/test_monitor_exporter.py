"""The Prometheus exporter, scraped over HTTP on 127.0.0.1 (an ephemeral port) and read back
with prometheus_client's own parser."""

from __future__ import annotations

import socket
import time
import urllib.request

import pytest

from gpu_preflight import __version__
from gpu_preflight.core.errors import UsageError
from gpu_preflight.monitor import (
    Hint,
    Process,
    Sample,
    SeriesSource,
    read_recording,
    start_exporter,
)

from support.monitor import gpu, real_csv, series

parser = pytest.importorskip("prometheus_client.parser")


def scrape(port: int) -> dict[str, list]:
    """metric family name -> its samples (name, labels, value)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {family.name: family.samples for family in parser.text_string_to_metric_families(text)}


def value(families, metric, **labels):
    matches = [s.value for s in families.get(metric, []) if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(matches) == 1, (metric, labels, families.get(metric))
    return matches[0]


@pytest.fixture
def exporter():
    handle = start_exporter(0, addr="127.0.0.1")
    yield handle
    handle.close()


def test_metrics_labelled_by_index_uuid_and_name(exporter):
    sample = Sample(
        time="2026-01-01T00:00:00+00:00",
        driver_version="550.54.15",
        cuda_driver_version="12.4",
        gpus=[
            gpu(
                0,
                utilization_gpu_pct=97,
                memory_used_mib=1024,
                power_w=612.5,
                sm_clock_mhz=1980,
                throttle_reasons=["sw_power_cap"],
                xid_errors=[79],
                processes=[Process(1, "python3", 1000)],
            ),
            gpu(1, name="Tesla T4", uuid=None, utilization_gpu_pct=None, power_w=None, throttle_reasons=None),
        ],
        hints=[Hint(gpu=0, code="power-throttling", hint="power throttling", evidence="...", confidence=0.6)],
    )
    exporter.publish(sample)
    families = scrape(exporter.port)
    h100 = {"gpu": "0", "uuid": "GPU-0", "name": "NVIDIA H100 80GB HBM3"}
    assert value(families, "gpu_preflight_gpu_utilization_ratio", **h100) == pytest.approx(0.97)
    assert value(families, "gpu_preflight_memory_used_bytes", **h100) == 1024 * 1024 * 1024
    assert value(families, "gpu_preflight_power_watts", **h100) == 612.5
    assert value(families, "gpu_preflight_sm_clock_hertz", **h100) == 1.98e9
    assert value(families, "gpu_preflight_clock_throttle_active", reason="sw_power_cap", **h100) == 1
    assert value(families, "gpu_preflight_clock_throttle_active", reason="hw_thermal_slowdown", **h100) == 0
    assert value(families, "gpu_preflight_xid_errors", xid="79", **h100) == 1
    assert value(families, "gpu_preflight_processes", **h100) == 1
    assert value(families, "gpu_preflight_hint", hint="power-throttling", **h100) == 1
    assert value(families, "gpu_preflight_up") == 1
    # the build-info metric carries the driver and the driver's CUDA version
    (build,) = families["gpu_preflight_build_info"]
    assert build.labels == {"version": __version__, "driver_version": "550.54.15", "cuda_driver_version": "12.4"}
    assert build.value == 1
    # what GPU 1 does not report is absent, not zero
    t4 = {"gpu": "1", "uuid": "", "name": "Tesla T4"}
    assert value(families, "gpu_preflight_temperature_celsius", **t4) == 60
    assert not [s for s in families["gpu_preflight_gpu_utilization_ratio"] if s.labels["gpu"] == "1"]
    assert not [s for s in families["gpu_preflight_clock_throttle_active"] if s.labels["gpu"] == "1"]


def test_before_the_first_sample_only_build_info_and_up(exporter):
    families = scrape(exporter.port)
    assert value(families, "gpu_preflight_up") == 0
    assert "gpu_preflight_gpu_utilization_ratio" not in families


def test_a_real_csv_sample_exports(exporter):
    (sample,) = read_recording(
        str(real_csv("gpu-exporter__linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__query-gpu-all-fields.csv"))
    )
    exporter.publish(sample)
    families = scrape(exporter.port)
    (build,) = families["gpu_preflight_build_info"]
    assert build.labels["driver_version"] == "590.48.01" and build.labels["cuda_driver_version"] == ""
    labels = {"gpu": "0", "name": "NVIDIA H100 80GB HBM3"}
    assert value(families, "gpu_preflight_power_limit_watts", **labels) == 700
    assert value(families, "gpu_preflight_memory_total_bytes", **labels) == 81559 * 1024 * 1024


def test_with_a_source_it_samples_in_the_background():
    handle = start_exporter(
        0,
        SeriesSource(series(5, utilization_gpu_pct=5, memory_used_mib=20000)),
        interval=0.01,
        addr="127.0.0.1",
        requests_waiting=lambda: 2,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            families = scrape(handle.port)
            if families.get("gpu_preflight_hint") or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert value(families, "gpu_preflight_up") == 1
        assert value(families, "gpu_preflight_requests_waiting") == 2
        assert value(families, "gpu_preflight_hint", gpu="0", hint="sm-idle-queued") == 1
    finally:
        handle.close()


@pytest.fixture
def busy_port():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_a_port_in_use_is_a_usage_error(busy_port):
    with pytest.raises(UsageError, match=f"port {busy_port} is already in use"):
        start_exporter(busy_port, addr="127.0.0.1")


def test_cli_port_in_use_is_one_line_and_exit_2(busy_port, run_cli, tmp_path):
    recording = tmp_path / "r.csv"
    recording.write_text("index, name, temperature.gpu\n0, Tesla T4, 44\n")
    result = run_cli("monitor", "--replay", str(recording), "--prometheus", str(busy_port), "--listen", "127.0.0.1")
    assert result.returncode == 2 and result.stdout == ""
    assert (
        result.stderr
        == f"preflight: error: --prometheus: port {busy_port} is already in use on 127.0.0.1; choose another port\n"
    )


def test_close_releases_the_port():
    first = start_exporter(0, addr="127.0.0.1")
    port = first.port
    first.close()
    start_exporter(port, addr="127.0.0.1").close()


def test_the_exporter_listens_on_this_machine_only_by_default():
    handle = start_exporter(0)
    try:
        assert handle._server.server_address[0] == "127.0.0.1"
        assert "gpu_preflight_up" in scrape(handle.port)
    finally:
        handle.close()


def test_cli_listens_on_loopback_unless_told(run_cli, tmp_path):
    from gpu_preflight.cli.main import build_parser

    assert build_parser().parse_args(["monitor", "--prometheus", "0"]).listen == "127.0.0.1"
    recording = tmp_path / "r.csv"
    recording.write_text("index, name, temperature.gpu\n0, Tesla T4, 44\n")
    result = run_cli("monitor", "--replay", str(recording), "--prometheus", "0", "--count", "1")
    assert result.returncode == 0 and "http://127.0.0.1:" in result.stderr
