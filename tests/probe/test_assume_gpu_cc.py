"""--assume-gpu NAME[:MEMORY][:cc=X.Y]: a GPU the knowledge base does not know is still judged."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gpu_preflight.core.errors import UsageError
from gpu_preflight.probe.hostspec import HostSpec, resolve_host


def assumed(*gpus: str):
    return resolve_host(HostSpec(assume_gpus=gpus, probe_live=False)).gpus


def test_unknown_product_with_its_compute_capability() -> None:
    [gpu] = assumed("NEW GPU:96GiB:cc=10.3")
    assert (gpu.name, gpu.compute_capability, gpu.memory_total_mib) == ("NEW GPU", "10.3", 96 * 1024)
    assert gpu.compute_capability_source == "assumed" and gpu.assumed
    assert gpu.architecture == "Blackwell"  # from the CC, not the name


@pytest.mark.parametrize("text", ["NEW GPU:cc=10.3:96GiB", "NEW GPU:96GiB:CC=10.3", "NEW GPU : 96GiB : cc= 10.3 "])
def test_fields_in_either_order(text: str) -> None:
    [gpu] = assumed(text)
    assert (gpu.name, gpu.compute_capability, gpu.memory_total_mib) == ("NEW GPU", "10.3", 98304)


def test_known_product_keeps_its_facts_and_an_explicit_cc_wins() -> None:
    [h20] = assumed("NVIDIA H20")
    assert (h20.compute_capability, h20.memory_total_mib, h20.compute_capability_source) == (
        "9.0",
        97871,
        "knowledge-base",
    )
    [told] = assumed("NVIDIA H20:cc=9.0")
    assert (told.compute_capability, told.compute_capability_source) == ("9.0", "assumed")


@pytest.mark.parametrize(
    "text, message",
    [
        ("NEW GPU", "give its compute capability"),
        ("NEW GPU:cc=ten", "is not MAJOR.MINOR"),
        ("NEW GPU:cc=10", "is not MAJOR.MINOR"),
        ("NEW GPU:cc=10.3.1", "is not MAJOR.MINOR"),
        ("NEW GPU:cc=0.5", "is not MAJOR.MINOR"),
        ("NEW GPU:cc=", "is not MAJOR.MINOR"),
        ("NEW GPU:cc=1.2:cc=3.4", "given twice"),
        (":cc=10.3", "expected NAME"),
    ],
)
def test_bad_values_are_one_line(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as info:
        assumed(text)
    assert "\n" not in str(info.value)


def test_cli_exits_2_with_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gpu_preflight", "probe", "--assume-gpu", "NEW GPU:cc=x", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "cc=" in result.stderr


def test_cli_judges_the_new_gpu() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gpu_preflight", "probe", "--assume-gpu", "NEW GPU:96GiB:cc=10.3", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    [gpu] = json.loads(result.stdout)["gpus"]
    assert (gpu["name"], gpu["compute_capability"]) == ("NEW GPU", "10.3")
