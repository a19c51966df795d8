"""--deep imports torch in a child process; fakes stand in for torch's behaviours."""

from __future__ import annotations

import sys

import pytest

from gpu_preflight.core.host import Framework, Host
from gpu_preflight.probe.deep import probe_torch_deep

WORKING = """
__version__ = "2.4.1+cu121"
class version: cuda = "12.1"; hip = None
class _Cuda:
    def is_available(self): return True
    def get_arch_list(self): return ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]
    def device_count(self): return 1
    def get_device_name(self, i): return "NVIDIA H100 80GB HBM3"
    def get_device_capability(self, i): return (9, 0)
cuda = _Cuda()
class _T:
    def __mul__(self, k): return self
    def sum(self): return self
    def item(self): return 32.0
def ones(n, device=None):
    %s
    return _T()
"""

NO_KERNEL_IMAGE = (
    "raise RuntimeError('CUDA error: no kernel image is available for execution on the device"
    "\\nCUDA kernel errors might be asynchronously reported')"
)


def fake_torch(tmp_path, body: str) -> str:
    package = tmp_path / "site" / "torch"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(body)
    return str(tmp_path / "site")


@pytest.fixture
def python_with(tmp_path):
    """An interpreter wrapper that puts a fake torch first on sys.path."""

    def make(body: str) -> str:
        site = fake_torch(tmp_path, body)
        wrapper = tmp_path / "python"
        wrapper.write_text(f'#!/bin/sh\nPYTHONPATH={site} exec {sys.executable} "$@"\n')
        wrapper.chmod(0o755)
        return str(wrapper)

    return make


def test_working_torch(python_with):
    host = Host(frameworks=[Framework("torch", "2.4.1+cu121", cuda="12.1")])
    probe_torch_deep(host, python_with(WORKING % "pass"), timeout=60)
    deep = host.frameworks[0].details["deep"]
    assert deep["cuda_available"] and deep["arch_list"][-1] == "sm_90"
    assert deep["devices"] == [
        {"index": 0, "name": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0", "kernel_ok": True}
    ]


def test_no_kernel_image_is_caught_at_launch(python_with):
    host = Host(frameworks=[Framework("torch", "2.4.1+cu121", cuda="12.1")])
    probe_torch_deep(host, python_with(WORKING % NO_KERNEL_IMAGE), timeout=60)
    (device,) = host.frameworks[0].details["deep"]["devices"]
    assert device["kernel_ok"] is False
    assert device["kernel_error"] == "CUDA error: no kernel image is available for execution on the device"


def test_crash_during_launch_keeps_what_was_seen(python_with):
    host = Host(frameworks=[Framework("torch", "2.4.1+cu121", cuda="12.1")])
    probe_torch_deep(host, python_with(WORKING % "import os; os.abort()"), timeout=60)
    deep = host.frameworks[0].details["deep"]
    assert deep["devices"][0]["compute_capability"] == "9.0"
    assert "crashed (SIGABRT)" in deep["crashed"]


def test_hang_times_out(python_with):
    host = Host(frameworks=[Framework("torch", "2.4.1+cu121", cuda="12.1")])
    probe_torch_deep(host, python_with("import time\ntime.sleep(60)\n"), timeout=1)
    assert "did not finish" in host.frameworks[0].details["deep_error"]
    assert host.errors[0].probe == "deep"


def test_import_error_is_recorded(python_with):
    host = Host()
    probe_torch_deep(
        host, python_with("raise ImportError('libcudnn.so.9: cannot open shared object file')"), timeout=60
    )
    assert host.frameworks == []
    assert "libcudnn.so.9" in host.errors[0].message
