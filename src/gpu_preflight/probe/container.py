"""Container facts: are we in one, can it see the GPU device files, what NVIDIA_* did it get."""

from __future__ import annotations

import glob
import os

from gpu_preflight.core.host import Container

# Marker files and cgroup words that say which container runtime started this process.
MARKER_FILES = (("/.dockerenv", "docker"), ("/run/.containerenv", "podman"))
CGROUP_WORDS = (
    ("kubepods", "kubernetes"),
    ("docker", "docker"),
    ("libpod", "podman"),
    ("containerd", "containerd"),
    ("lxc", "lxc"),
)


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
