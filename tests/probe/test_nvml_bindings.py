"""The NVML plumbing both helpers share (probe/nvml.py, monitor/nvml.py)."""

from __future__ import annotations

import os
import sys

import pytest

import gpu_preflight
from gpu_preflight.core.host import Host
from gpu_preflight.probe import nvml as nvml_probe
from gpu_preflight.probe.nvml_bindings import (
    MODULE_ENV,
    as_text,
    call_or_none,
    cuda_version,
    helper_environment,
    import_bindings,
    mib,
)


class NVMLError(Exception):
    pass


def not_supported(*_args: object) -> None:
    raise NVMLError("Not Supported")


def test_a_failed_or_missing_call_is_unknown() -> None:
    assert call_or_none(not_supported, 0) is None
    assert call_or_none(None, 0) is None  # getattr(nvml, "newer_function", None) on old bindings
    assert call_or_none(lambda a, b: a + b, 2, 3) == 5


@pytest.mark.parametrize(("encoded", "version"), [(12040, "12.4"), (11080, "11.8"), (13000, "13.0"), (10010, "10.1")])
def test_cuda_version(encoded: int, version: str) -> None:
    assert cuda_version(encoded) == version


def test_strings_bytes_and_sizes() -> None:
    assert as_text(b"NVIDIA H100 80GB HBM3") == as_text("NVIDIA H100 80GB HBM3") == "NVIDIA H100 80GB HBM3"
    assert as_text(b"\xff") == "\ufffd"
    assert as_text(NVMLError("Unknown Error")) == "Unknown Error"
    assert mib(81559 * 1024 * 1024 + 1023) == 81559


def test_bindings_named_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MODULE_ENV, "support.fake_pynvml")
    assert import_bindings().__name__ == "support.fake_pynvml"
    monkeypatch.setenv(MODULE_ENV, "no_such_nvml_module")
    with pytest.raises(ImportError):
        import_bindings()


def test_helper_children_import_this_copy_of_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    paths = helper_environment()["PYTHONPATH"].split(os.pathsep)
    assert paths == [os.path.dirname(os.path.dirname(os.path.abspath(gpu_preflight.__file__))), "/elsewhere"]


def test_the_probe_child_imports_the_bindings_named_by_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    (tmp_path / "other_nvml.py").write_text(
        "class E(Exception): pass\ndef nvmlInit(): raise E('Driver/library version mismatch')\n"
    )
    monkeypatch.setattr(nvml_probe, "library_present", lambda: "/usr/lib/libnvidia-ml.so.535.161.07")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv(MODULE_ENV, "other_nvml")
    host = Host()
    assert nvml_probe.probe_nvml(host, timeout=30) is False
    assert "nvmlInit failed: Driver/library version mismatch" in host.errors[0].message
    assert sys.modules.get("other_nvml") is None  # imported by the child only
