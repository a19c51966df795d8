"""The NVML query, driven through a fake of the official bindings."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from gpu_preflight.core.host import Host
from gpu_preflight.probe import nvml as nvml_probe


class NVMLError(Exception):
    pass


class FakeNVML:
    """The few pynvml calls the probe makes, with two GPUs: an H100 with MIG on, and an old
    GPU on which some calls are not supported."""

    NVML_BRAND_UNKNOWN, NVML_BRAND_TESLA, NVML_BRAND_GEFORCE, NVML_BRAND_NVIDIA = 0, 2, 5, 14
    NVML_BRAND_COUNT = 20
    NVML_DEVICE_ARCH_HOPPER, NVML_DEVICE_ARCH_PASCAL, NVML_DEVICE_ARCH_UNKNOWN = 9, 4, 0xFFFFFFFF

    def __init__(self, init_error: str | None = None):
        self.init_error = init_error
        self.shutdown = False

    def nvmlInit(self):
        if self.init_error:
            raise NVMLError(self.init_error)

    def nvmlShutdown(self):
        self.shutdown = True

    def nvmlSystemGetDriverVersion(self):
        return b"550.54.15"

    def nvmlSystemGetCudaDriverVersion(self):
        return 12040

    def nvmlDeviceGetCount(self):
        return 2

    def nvmlDeviceGetHandleByIndex(self, i):
        return ("gpu", i)

    def nvmlDeviceGetName(self, h):
        return ["NVIDIA H100 80GB HBM3", "Tesla P100-PCIE-16GB"][h[1]] if h[0] == "gpu" else "mig"

    def nvmlDeviceGetUUID(self, h):
        return f"GPU-{h[1]:04d}-aaaa" if h[0] == "gpu" else f"MIG-{h[1]:04d}"

    def nvmlDeviceGetCudaComputeCapability(self, h):
        return [(9, 0), (6, 0)][h[1]]

    def nvmlDeviceGetMemoryInfo(self, h):
        if h[0] == "mig":
            return SimpleNamespace(total=10 * 1024**3, used=0)
        return SimpleNamespace(total=[81559, 16384][h[1]] * 1024**2, used=[1, 0][h[1]] * 1024**2)

    def nvmlDeviceGetBrand(self, h):
        return [14, 2][h[1]]

    def nvmlDeviceGetArchitecture(self, h):
        if h[1] == 1:
            raise NVMLError("Not Supported")
        return 9

    def nvmlDeviceGetPciInfo(self, h):
        return SimpleNamespace(busId=f"00000000:{h[1] + 1:02X}:00.0".encode(), pciDeviceId=0x233010DE)

    def nvmlDeviceGetMigMode(self, h):
        if h[1] == 1:
            raise NVMLError("Not Supported")
        return (1, 1)

    def nvmlDeviceGetMaxMigDeviceCount(self, h):
        return 7

    def nvmlDeviceGetMigDeviceHandleByIndex(self, h, slot):
        if slot > 1:
            raise NVMLError("Not Found")
        return ("mig", slot)

    def nvmlDeviceGetGpuInstanceId(self, h):
        return 7 + h[1]

    def nvmlDeviceGetComputeInstanceId(self, h):
        return 0


def test_query_reads_driver_and_gpus():
    fake = FakeNVML()
    data = nvml_probe.query(fake)
    assert fake.shutdown
    assert data["driver"] == {"version": "550.54.15", "cuda": "12.4"}
    h100, p100 = data["gpus"]
    assert h100["name"] == "NVIDIA H100 80GB HBM3" and h100["compute_capability"] == "9.0"
    assert (h100["memory_total_mib"], h100["memory_used_mib"]) == (81559, 1)
    assert h100["brand"] == "NVIDIA" and h100["architecture"] == "Hopper"
    assert h100["pci_device_id"] == "0x233010DE" and h100["mig_mode"] == "Enabled"
    assert [(m["index"], m["gpu_instance_id"], m["memory_total_mib"]) for m in h100["mig_devices"]] == [
        (0, 7, 10240),
        (1, 8, 10240),
    ]
    assert p100["brand"] == "Tesla" and "architecture" not in p100 and "mig_mode" not in p100
    assert data["errors"] == [{"probe": "nvml.gpu1.architecture", "message": "Not Supported"}]


def test_init_failure_is_reported_not_raised():
    data = nvml_probe.query(FakeNVML(init_error="Driver/library version mismatch"))
    assert data["init_error"] == "Driver/library version mismatch" and data["gpus"] == []


def test_apply_builds_the_host():
    host = Host()
    host.driver.kernel_module = "550.54.15"
    nvml_probe.apply(host, nvml_probe.query(FakeNVML()))
    assert host.driver.source == "nvml" and host.driver.kernel_module == "550.54.15"
    assert [g.compute_capability for g in host.gpus] == ["9.0", "6.0"]
    assert host.gpus[0].mig_devices[1].gpu_instance_id == 8
    assert host.gpus[0].compute_capability_source == "nvml"
    assert [e.probe for e in host.errors] == ["nvml.gpu1.architecture"]


@pytest.mark.parametrize(
    ("path", "version"),
    [
        ("/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.54.15", "550.54.15"),
        ("/usr/lib64/libnvidia-ml.so.1", None),
        (None, None),
    ],
)
def test_library_version_from_file_name(path, version):
    assert nvml_probe.library_version(path) == version


def test_no_library_here_is_an_error_entry(monkeypatch):
    monkeypatch.setattr(nvml_probe, "library_present", lambda: None)
    host = Host()
    assert nvml_probe.probe_nvml(host, timeout=5) is False
    assert host.errors[0].probe == "nvml" and "not found" in host.errors[0].message


def test_child_process_runs_the_fake_bindings(monkeypatch, tmp_path):
    """The real child process path, with a fake pynvml module first on its path."""
    (tmp_path / "pynvml.py").write_text(
        f"import sys\nsys.path.insert(0, {str(tmp_path)!r})\nfrom test_nvml_fake import *\n"
    )
    (tmp_path / "test_nvml_fake.py").write_text(
        "class E(Exception): pass\ndef nvmlInit(): raise E('Driver/library version mismatch')\n"
    )
    monkeypatch.setattr(nvml_probe, "library_present", lambda: "/usr/lib/libnvidia-ml.so.535.161.07")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    host = Host()
    assert nvml_probe.probe_nvml(host, timeout=30) is False
    assert "Driver/library version mismatch" in host.errors[0].message
    assert (host.driver.version, host.driver.source) == ("535.161.07", "libnvidia-ml")


def test_hanging_child_times_out(monkeypatch, tmp_path):
    (tmp_path / "pynvml.py").write_text("import time\ntime.sleep(60)\n")
    monkeypatch.setattr(nvml_probe, "library_present", lambda: "libnvidia-ml.so.1")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    host = Host()
    assert nvml_probe.probe_nvml(host, timeout=1) is False
    assert "did not finish" in host.errors[0].message
