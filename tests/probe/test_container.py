"""Container facts and the kernel module version, read from a fake root."""

from __future__ import annotations

import pytest

from gpu_preflight.probe.container import (
    is_wsl,
    probe_container,
    read_kernel_module_version,
)


def write(root, rel, text=""):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_plain_host(tmp_path):
    container = probe_container({"PATH": "/bin"}, root=str(tmp_path))
    assert not container.in_container and container.device_files == [] and container.nvidia_env == {}


def test_docker_with_gpu(tmp_path):
    write(tmp_path, ".dockerenv")
    for name in ("nvidia0", "nvidiactl", "nvidia-uvm"):
        write(tmp_path, f"dev/{name}")
    env = {"NVIDIA_VISIBLE_DEVICES": "all", "NVIDIA_REQUIRE_CUDA": "cuda>=12.4", "HOME": "/root"}
    container = probe_container(env, root=str(tmp_path))
    assert container.runtime == "docker" and container.in_container
    assert container.device_files == ["/dev/nvidia-uvm", "/dev/nvidia0", "/dev/nvidiactl"]
    assert container.nvidia_env == {"NVIDIA_REQUIRE_CUDA": "cuda>=12.4", "NVIDIA_VISIBLE_DEVICES": "all"}


@pytest.mark.parametrize(
    ("cgroup", "env", "runtime"),
    [
        ("0::/kubepods/besteffort/pod1/abc", {}, "kubernetes"),
        ("12:devices:/docker/0123abcd", {}, "docker"),
        ("0::/", {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, "kubernetes"),
        ("0::/machine.slice/libpod-123.scope", {}, "podman"),
    ],
)
def test_runtime_from_cgroup_and_env(tmp_path, cgroup, env, runtime):
    write(tmp_path, "proc/1/cgroup", cgroup)
    assert probe_container(env, root=str(tmp_path)).runtime == runtime


@pytest.mark.parametrize(
    ("text", "version"),
    [
        (
            "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\nGCC version:  gcc version 12.3.0\n",
            "550.54.15",
        ),
        (
            "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  570.124.06  Release Build  (dvs-builder@U16-I3-B03-4-3)\n",
            "570.124.06",
        ),
        ("garbage\n", None),
    ],
)
def test_kernel_module_version(tmp_path, text, version):
    write(tmp_path, "proc/driver/nvidia/version", text)
    assert read_kernel_module_version(str(tmp_path)) == version


def test_no_kernel_module(tmp_path):
    assert read_kernel_module_version(str(tmp_path)) is None


def test_wsl(tmp_path):
    write(tmp_path, "proc/sys/kernel/osrelease", "5.15.153.1-microsoft-standard-WSL2")
    assert is_wsl(str(tmp_path))
