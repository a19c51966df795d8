"""The host as labelled facts (the five CUDA versions, the GPUs), shared by every renderer.
Descriptive only: verdicts come from findings."""

from __future__ import annotations

from gpu_preflight.core.host import Host
from gpu_preflight.core.text import shortened
from gpu_preflight.core.versions import Version, driver_branch

CUDA_VERSION_LABELS = (
    "1 driver version",
    "2 driver's highest CUDA",
    "3 framework CUDA runtime",
    "4 toolkit on disk (nvcc)",
    "5 container requirement",
)


def cuda_version_facts(host: Host) -> list[tuple[str, str]]:
    driver = host.driver
    if driver.version:
        module = (
            f", kernel module {driver.kernel_module}"
            if driver.kernel_module and driver.kernel_module != driver.version
            else ""
        )
        # Without the knowledge base's branch table a Windows number (551.78 is R550) names no branch.
        version = Version.parse_or_none(driver.version)
        number = driver_branch(version, driver.platform) if version else None
        branch = f"R{number}, " if number is not None else ""
        first = f"{driver.version} ({branch}from {driver.source}{module})"
    else:
        first = "none: no NVIDIA driver loaded"
    second = driver.cuda or ("unknown (not reported)" if driver.version else "none: needs a driver")
    frameworks = [f for f in host.frameworks if not f.name.startswith(("nvidia-", "cuda-"))]
    third = "; ".join(
        f"{f.name} {f.version}: "
        + (
            f"CUDA {f.cuda}"
            if f.cuda
            else ("CPU-only build, no CUDA" if f.variant == "cpu" else f.variant or "no CUDA")
        )
        for f in frameworks
    )
    toolkits = "; ".join(
        f"{t.version or 'unknown'} at {t.path}" + (f" ({', '.join(t.found_via)})" if t.found_via else "")
        for t in host.toolkits
    )
    env = host.container.nvidia_env
    if env.get("NVIDIA_REQUIRE_CUDA"):
        fifth = f"NVIDIA_REQUIRE_CUDA={shortened(env['NVIDIA_REQUIRE_CUDA'], 90)}"
    elif env.get("CUDA_VERSION"):
        fifth = f"CUDA_VERSION={env['CUDA_VERSION']} (legacy image: means cuda>={env['CUDA_VERSION']})"
    elif host.container.in_container:
        fifth = f"none declared (in a {host.container.runtime} container)"
    else:
        fifth = "not in a container" if host.source == "live" else "not known for this host"
    return list(
        zip(
            CUDA_VERSION_LABELS,
            (first, second, third or "no GPU framework found", toolkits or "none found", fifth),
            strict=True,
        )
    )


def gpu_facts(host: Host) -> list[str]:
    lines: list[str] = []
    for gpu in host.gpus:
        parts = [f"GPU {gpu.index}: {gpu.name}"]
        if gpu.compute_capability:
            source = " from the product name" if gpu.compute_capability_source == "knowledge-base" else ""
            parts.append(f"CC {gpu.compute_capability}{source}")
        if gpu.memory_total_mib:
            parts.append(
                f"{gpu.memory_total_mib} MiB" + (f" ({gpu.memory_used_mib} used)" if gpu.memory_used_mib else "")
            )
        if gpu.brand:
            parts.append(f"brand {gpu.brand}")
        if gpu.mig_mode == "Enabled":
            parts.append(f"MIG on, {len(gpu.mig_devices)} instance(s)")
        if gpu.assumed:
            parts.append("assumed")
        lines.append(", ".join(parts))
    return lines
