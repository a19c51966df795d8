"""The single most common misunderstanding: five different numbers are all called "CUDA version".

When they differ, say which is which and that nothing is broken by the difference itself; the
other checks say whether any pair actually conflicts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from gpu_preflight.checks.context import CheckContext
from gpu_preflight.core.findings import Finding, Severity
from gpu_preflight.core.versions import Version

_REQUIRE_CUDA = re.compile(r"cuda>=(\d+\.\d+)", re.I)


def named_cuda_versions(ctx: CheckContext) -> dict[str, str]:
    """Each CUDA-ish number on this host, keyed by what it is."""
    host = ctx.host
    named: dict[str, str] = {}
    if host.driver.cuda:
        named["driver's highest CUDA (nvidia-smi 'CUDA Version')"] = host.driver.cuda
    if ctx.images and not ctx.targets:
        # What runs is the image: this machine's frameworks, nvcc and container are not its own.
        for image in ctx.images:
            if image.cuda:
                named[f"{image.label}'s CUDA"] = str(image.cuda)
        return named
    for framework in host.frameworks:
        if framework.cuda and not framework.name.startswith("nvidia-"):
            named[f"{framework.name} {framework.version}'s bundled CUDA runtime"] = framework.cuda
    for toolkit in host.toolkits:
        if toolkit.version:
            named[f"toolkit (nvcc) at {toolkit.path}"] = toolkit.version
    env = host.container.nvidia_env
    required = _REQUIRE_CUDA.search(env.get("NVIDIA_REQUIRE_CUDA", ""))
    if required:
        named["container requirement (NVIDIA_REQUIRE_CUDA)"] = required.group(1)
    return named


def check_cuda_versions(ctx: CheckContext) -> Iterator[Finding]:
    named = named_cuda_versions(ctx)
    distinct = {version.truncate(2) for v in named.values() if (version := Version.parse_or_none(v))}
    if len(distinct) < 2:
        return
    listing = "; ".join(f"{what}: {value}" for what, value in named.items())
    yield Finding(
        code="cuda-version-confusion",
        severity=Severity.INFO,
        cause="cuda-version-confusion",
        title=f"{len(distinct)} different 'CUDA versions' here, and that alone is not a problem",
        detail=(
            f"{listing}. The driver's number is the newest CUDA it can run; a framework bundles its own runtime "
            "and needs only a driver that is new enough; nvcc only compiles. They need not be equal."
        ),
        evidence=named,
    )
