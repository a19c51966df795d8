"""Container facts: are we in one, can it see the GPU device files, what NVIDIA_* did it get,
and how this host's NVIDIA container runtime hands GPUs to the containers it starts."""

from __future__ import annotations

import glob
import os

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.host import Container, Host
from gpu_preflight.core.limits import MAX_RUNTIME_CONFIG_BYTES
from gpu_preflight.core.readers import parse_toml, read_input

# Marker files and cgroup words that say which container runtime started this process.
MARKER_FILES = (("/.dockerenv", "docker"), ("/run/.containerenv", "podman"))
CGROUP_WORDS = (
    ("kubepods", "kubernetes"),
    ("docker", "docker"),
    ("libpod", "podman"),
    ("containerd", "containerd"),
    ("lxc", "lxc"),
)

# nvidia-container-runtime's configuration (NVIDIA Container Toolkit), where ``mode`` is set.
RUNTIME_CONFIG = "/etc/nvidia-container-runtime/config.toml"
MAX_MODE_CHARS = 100  # known modes are words; a hostile file must not bloat the host document


def probe_container(env: dict[str, str], root: str = "/") -> Container:
    def at(path: str) -> str:
        return os.path.join(root, path.lstrip("/"))

    runtime = next((name for path, name in MARKER_FILES if os.path.exists(at(path))), None)
    cgroup = _read(at("/proc/1/cgroup"))
    runtime = runtime or next((name for word, name in CGROUP_WORDS if word in cgroup), None)
    if env.get("KUBERNETES_SERVICE_HOST"):
        runtime = "kubernetes"
    return Container(
        in_container=runtime is not None,
        runtime=runtime,
        device_files=sorted("/" + os.path.relpath(p, root) for p in glob.glob(at("/dev/nvidia*"))),
        # CUDA_VERSION alone is a legacy image's requirement (cuda>=X.Y), so it is kept too
        nvidia_env={k: v[:2000] for k, v in sorted(env.items()) if k.startswith("NVIDIA_") or k == "CUDA_VERSION"},
    )


def probe_runtime_mode(host: Host, config: str = RUNTIME_CONFIG) -> None:
    """Set ``host.container.runtime_mode`` from nvidia-container-runtime's config. No config (no
    NVIDIA Container Toolkit here) leaves it unknown; a config that cannot be read or parsed is an
    ``errors`` entry."""
    try:
        host.container.runtime_mode = read_runtime_mode(config)
    except UsageError as exc:
        host.add_error("container", str(exc))


def read_runtime_mode(config: str = RUNTIME_CONFIG) -> str | None:
    """``mode`` of the config's ``[nvidia-container-runtime]`` table ("legacy", "cdi", "auto",
    "csv"), as written; None when the file or the key is absent (the toolkit then uses its default,
    which depends on its version). Raises UsageError, one line, when the file is unusable."""
    if not os.path.lexists(config):
        return None
    data = read_input(
        config, "nvidia-container-runtime config", MAX_RUNTIME_CONFIG_BYTES, allow_empty=True, too_big="not a config"
    )
    document = parse_toml(data.decode("utf-8", errors="replace"), f"nvidia-container-runtime config {config}")
    section = document.get("nvidia-container-runtime")
    mode = section.get("mode") if isinstance(section, dict) else None
    if mode is not None and not isinstance(mode, str):
        raise UsageError(f"nvidia-container-runtime config {config}: mode is not a string")
    return mode[:MAX_MODE_CHARS] if mode is not None else None


def read_kernel_module_version(root: str = "/") -> str | None:
    """The loaded kernel module's version, e.g. from
    ``NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 ...``."""
    text = _read(os.path.join(root, "proc/driver/nvidia/version"))
    for line in text.splitlines():
        if line.startswith("NVRM version:"):
            for word in line.split():
                if word[:1].isdigit() and "." in word:
                    return word
    return None


def is_wsl(root: str = "/") -> bool:
    return "microsoft" in _read(os.path.join(root, "proc/sys/kernel/osrelease")).lower()


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read(1 << 16)
    except OSError:
        return ""
