"""The container layer: this container's own NVIDIA_REQUIRE_* gate, evaluated per GPU as
libnvidia-container does, and what passing it through a brand/branch exception means (forward
compatibility, which fails with error 804 on GPUs that are not datacenter class)."""

from __future__ import annotations

from collections.abc import Iterator

from gpu_preflight.checks.context import CheckContext
from gpu_preflight.core.findings import Finding
from gpu_preflight.core.versions import Version


def check_container_requirement(ctx: CheckContext) -> Iterator[Finding]:
    env = ctx.host.container.nvidia_env
    if not any(k.startswith("NVIDIA_REQUIRE_") or k == "CUDA_VERSION" for k in env):
        return
    if ctx.host.driver.version is None:
        return  # no driver: the no-driver finding already says it all
    from gpu_preflight.checks.image_gate import gate_findings

    gate = gate_findings(
        ctx,
        dict(env),
        "This container",
        origin="this container's environment",
        image_cuda=Version.parse_or_none(env.get("CUDA_VERSION")),
    )
    yield from gate.findings
