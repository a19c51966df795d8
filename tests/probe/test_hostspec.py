"""HOST inputs: what-if values and the hosts they make."""

from __future__ import annotations

import pytest

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.units import parse_memory_mib
from gpu_preflight.probe.hostspec import HostSpec, resolve_host


def snapshot(tmp_path, text: str):
    path = tmp_path / "host.json"
    path.write_text(text)
    return str(path)


EMPTY_HOST = '{"schema": "gpu-preflight/host/v1", "source": "snapshot"}'


def test_assumed_gpus_and_driver(tmp_path):
    host = resolve_host(
        HostSpec(
            snapshot=snapshot(tmp_path, EMPTY_HOST),
            assume_driver="550.54.15",
            assume_gpus=("Tesla T4:16GiB", "NVIDIA H100 80GB HBM3"),
        )
    )
    assert (host.driver.version, host.driver.cuda, host.driver.source) == ("550.54.15", "12.4", "assumed")
    t4, h100 = host.gpus
    assert (t4.name, t4.compute_capability, t4.memory_total_mib, t4.assumed) == ("Tesla T4", "7.5", 16384, True)
    assert (h100.compute_capability, h100.memory_total_mib) == ("9.0", 81559)  # typical memory from the knowledge base


def test_snapshot_gpu_without_cc_is_resolved_by_name(tmp_path):
    text = '{"gpus": [{"index": 0, "name": "NVIDIA A100-SXM4-40GB"}], "source": "snapshot"}'
    host = resolve_host(HostSpec(snapshot=snapshot(tmp_path, text)))
    assert (host.gpus[0].compute_capability, host.gpus[0].compute_capability_source) == ("8.0", "knowledge-base")


@pytest.mark.parametrize(
    "spec",
    [
        HostSpec(assume_driver="banana"),
        HostSpec(assume_driver="12"),
        HostSpec(assume_gpus=("Tesla T4:sixteen",)),
        HostSpec(assume_gpus=("\x1b[31mred",)),
        HostSpec(assume_gpus=("A GPU that does not exist",)),
        HostSpec(snapshot="a", nvidia_smi_xml="b"),
        HostSpec(timeout=0),
    ],
)
def test_unusable_specs(tmp_path, spec):
    if spec.assume_gpus == ("A GPU that does not exist",):
        spec = HostSpec(snapshot=snapshot(tmp_path, EMPTY_HOST), assume_gpus=spec.assume_gpus)
    with pytest.raises(UsageError):
        resolve_host(spec)


@pytest.mark.parametrize(
    ("text", "mib"),
    [("16GiB", 16384), ("24GB", 24576), ("81559MiB", 81559), ("4096", 4096), ("1.5T", 1572864), ("512 M", 512)],
)
def test_memory_sizes(text, mib):
    assert parse_memory_mib(text) == mib


@pytest.mark.parametrize("text", ["", "lots", "-1GiB", "0", "16XB", "99999T"])
def test_bad_memory_sizes(text):
    with pytest.raises(UsageError):
        parse_memory_mib(text)


# --- --python on a described host (issue 14: it was silently ignored with --nvidia-smi-xml) ---------


def _other_interpreter(tmp_path, dist: str):
    """An "interpreter" whose site directory holds one torch distribution (a venv of another machine's
    build): it answers the site-directory question as a real one does, so its metadata is scanned."""
    site = tmp_path / "site-packages"
    (site / dist).mkdir(parents=True)
    (site / dist / "METADATA").write_text("Metadata-Version: 2.1\n")
    python = tmp_path / "python"
    python.write_text(f"#!/bin/sh\necho '[\"{site}\"]'\n")
    python.chmod(0o755)
    return str(python)


def test_python_with_nvidia_smi_xml_probes_that_interpreters_frameworks(tmp_path):
    from support.paths import MISSING, REAL

    xml = REAL / "nvidia-smi-xml" / "telegraf__rtx-3060__570.124.04.xml"
    if not xml.exists():
        pytest.skip(MISSING)
    python = _other_interpreter(tmp_path, "torch-2.4.1+cu121.dist-info")
    host = resolve_host(HostSpec(nvidia_smi_xml=str(xml), python=python))
    assert host.driver.version == "570.124.04"  # the dump's driver and GPU ...
    assert [(f.name, f.version, f.cuda) for f in host.frameworks] == [("torch", "2.4.1+cu121", "12.1")]  # ... that venv


def test_python_with_a_snapshot_replaces_its_frameworks(tmp_path):
    text = (
        '{"schema": "gpu-preflight/host/v1", "source": "snapshot", '
        '"frameworks": [{"name": "torch", "version": "2.1.0+cu118", "cuda": "11.8", "source": "metadata"}]}'
    )
    assert [f.version for f in resolve_host(HostSpec(snapshot=snapshot(tmp_path, text))).frameworks] == ["2.1.0+cu118"]
    python = _other_interpreter(tmp_path, "torch-2.13.0+cu130.dist-info")
    host = resolve_host(HostSpec(snapshot=snapshot(tmp_path, text), python=python))
    assert [f.version for f in host.frameworks] == ["2.13.0+cu130"]


def test_python_that_does_not_start_is_said_not_ignored(tmp_path):
    host = resolve_host(HostSpec(snapshot=snapshot(tmp_path, EMPTY_HOST), python=str(tmp_path / "missing")))
    assert [e.probe for e in host.errors] == ["frameworks"] and "--python" in host.errors[0].message
