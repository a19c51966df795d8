"""Read this machine into a Host document. Probing never judges: every failure is a recorded
``errors`` entry, never an exception."""

from __future__ import annotations

import os
import platform
import shutil
import socket
from dataclasses import dataclass

from gpu_preflight.core.host import Host
from gpu_preflight.probe.compilers import probe_toolchain
from gpu_preflight.probe.container import (
    is_wsl,
    probe_container,
    probe_runtime_mode,
    read_kernel_module_version,
)
from gpu_preflight.probe.frameworks import probe_frameworks
from gpu_preflight.probe.isolated import run_isolated
from gpu_preflight.probe.nvml import probe_nvml
from gpu_preflight.probe.os_release import read_os_release
from gpu_preflight.probe.toolkit import probe_toolkits

ENV_REPORTED = ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "LD_LIBRARY_PATH", "CUDA_HOME", "CUDA_PATH")


@dataclass(frozen=True)
class ProbeOptions:
    python: str | None = None  # another interpreter whose environment to inspect
    deep: bool = False
    timeout: float = 15.0  # nvidia-smi, NVML, nvcc
    deep_timeout: float = 120.0  # importing torch and initialising CUDA is slow on a cold cache


def probe_host(options: ProbeOptions = ProbeOptions(), env: dict[str, str] | None = None) -> Host:
    env = dict(os.environ if env is None else env)
    host = Host(hostname=socket.gethostname(), source="live")
    host.platform = {
        "system": platform.system(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        **({"wsl": "true"} if is_wsl() else {}),
        **read_os_release(),
        **({"conda": "true"} if env.get("CONDA_PREFIX") else {}),
    }
    host.env = {name: env.get(name) for name in ENV_REPORTED}
    host.driver.kernel_module = read_kernel_module_version()
    host.container = probe_container(env)
    probe_runtime_mode(host)

    if not probe_nvml(host, options.timeout):
        _probe_nvidia_smi(host, options.timeout)
    probe_toolkits(host, env, options.timeout)
    probe_toolchain(host, env, options.timeout)
    probe_frameworks(host, options.python, options.timeout)
    if options.deep:
        from gpu_preflight.probe.deep import probe_torch_deep

        probe_torch_deep(host, options.python, options.deep_timeout)
    return host


def _probe_nvidia_smi(host: Host, timeout: float) -> None:
    """Fallback when NVML cannot be loaded in-process: ``nvidia-smi -q -x`` with a timeout."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        host.add_error("nvidia-smi", "nvidia-smi not found on PATH")
        return
    outcome = run_isolated([smi, "-q", "-x"], timeout)
    if not outcome.ok:
        from gpu_preflight.probe.smi_text import classify_smi_error

        kind = classify_smi_error(outcome.stdout + "\n" + outcome.stderr)
        host.add_error("nvidia-smi", (f"[{kind}] " if kind else "") + outcome.describe_failure())
        return
    from gpu_preflight.core.errors import UsageError
    from gpu_preflight.probe.smi_xml import parse_smi_xml

    try:
        parsed = parse_smi_xml(outcome.stdout, origin="nvidia-smi -q -x")
    except UsageError as exc:
        host.add_error("nvidia-smi", str(exc))
        return
    parsed.driver.kernel_module = host.driver.kernel_module
    parsed.driver.source = "nvidia-smi"
    host.driver, host.gpus = parsed.driver, parsed.gpus
    host.errors.extend(parsed.errors)
