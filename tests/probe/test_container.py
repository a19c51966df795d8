"""Container facts, the container runtime's mode and the kernel module version, read from a fake root."""

from __future__ import annotations

import json

import pytest

from gpu_preflight.core.host import Host
from gpu_preflight.probe.container import (
    is_wsl,
    probe_container,
    probe_runtime_mode,
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
            "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\n"
            "GCC version:  gcc version 12.3.0\n",
            "550.54.15",
        ),
        (
            "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  570.124.06  Release Build"
            "  (dvs-builder@U16-I3-B03-4-3)\n",
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


# --- nvidia-container-runtime's mode (its config.toml) --------------------------------------------

# The shape of the file the NVIDIA Container Toolkit installs, with mode set to CDI.
CDI_CONFIG = """\
#accept-nvidia-visible-devices-as-volume-mounts = false
disable-require = false
supported-driver-capabilities = "compat32,compute,display,graphics,ngx,utility,video"

[nvidia-container-cli]
environment = []
ldconfig = "@/sbin/ldconfig.real"
load-kmods = true

[nvidia-container-runtime]
log-level = "info"
mode = "cdi"
runtimes = ["docker-runc", "runc", "crun"]

[nvidia-container-runtime.modes.cdi]
default-kind = "nvidia.com/gpu"
"""


def probed_mode(tmp_path, text: str | None) -> Host:
    config = tmp_path / "config.toml"
    if text is not None:
        config.write_text(text)
    host = Host()
    probe_runtime_mode(host, str(config))
    return host


def test_cdi_mode_from_the_runtime_config(tmp_path):
    host = probed_mode(tmp_path, CDI_CONFIG)
    assert host.container.runtime_mode == "cdi" and host.errors == []


@pytest.mark.parametrize(
    "text",
    [
        None,  # no NVIDIA Container Toolkit on this host
        "",
        '[nvidia-container-cli]\nldconfig = "@/sbin/ldconfig"\n',  # old toolkits: no mode key
        '[nvidia-container-runtime]\nlog-level = "info"\n',
    ],
)
def test_mode_unknown_without_a_config_or_a_mode(tmp_path, text):
    host = probed_mode(tmp_path, text)
    assert host.container.runtime_mode is None and host.errors == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[nvidia-container-runtime\nmode = "cdi"\n', "not valid TOML"),
        ('[nvidia-container-runtime]\nmode = "cdi"\nmode = "legacy"\n', "not valid TOML"),
        ("[nvidia-container-runtime]\nmode = 3\n", "mode is not a string"),
        ("\x00\xff" * 10, "not valid TOML"),
    ],
)
def test_unusable_config_is_a_probe_error_not_a_crash(tmp_path, text, message):
    host = probed_mode(tmp_path, text)
    assert host.container.runtime_mode is None
    (error,) = host.errors
    assert error.probe == "container" and message in error.message and "config.toml" in error.message


def test_config_that_is_a_directory_is_a_probe_error(tmp_path):
    (tmp_path / "config.toml").mkdir()
    host = probed_mode(tmp_path, None)
    assert host.container.runtime_mode is None and "is a directory" in host.errors[0].message


def test_runtime_mode_survives_the_host_document(tmp_path):
    host = probed_mode(tmp_path, CDI_CONFIG)
    document = json.loads(json.dumps(host.to_dict()))
    assert document["container"]["runtime_mode"] == "cdi"
    assert Host.from_dict(document).container.runtime_mode == "cdi"


def test_unknown_runtime_mode_is_left_out_of_the_host_document():
    """Documents of hosts without the field stay byte-for-byte what they were before it existed."""
    document = Host().to_dict()
    assert "runtime_mode" not in document["container"]
    assert Host.from_dict(document) == Host()
