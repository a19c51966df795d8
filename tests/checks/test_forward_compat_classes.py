"""Error 804 follows the product's class: the RTX PRO 6000 Blackwell Server Edition is a data
center GPU (NVIDIA's product page sits under Data Center; the GPU Operator lists it among data
center GPUs), its Workstation edition is not (gpus.toml, sources NV_RTXPRO_SERVER, GPUOP_PLATFORM, FWD)."""

from __future__ import annotations

import pytest

from gpu_preflight.checks.context import CheckContext
from gpu_preflight.checks.image_gate import image_findings
from gpu_preflight.core.findings import Severity
from gpu_preflight.images.reference import parse_reference
from gpu_preflight.images.resolve import resolve_image

from support.scenarios import host

IMAGE = "nvidia/cuda:12.4.1-runtime-ubuntu22.04"  # declares brand=nvidiartx,driver>=535,driver<536


@pytest.mark.parametrize(
    "name, severity, cause",
    [
        ("NVIDIA RTX PRO 6000 Blackwell Server Edition", Severity.WARN, None),
        ("NVIDIA RTX PRO 6000 Blackwell Workstation Edition", Severity.FAIL, "forward-compat-unsupported"),
    ],
)
def test_rtx_pro_6000_editions(name: str, severity: Severity, cause: str | None) -> None:
    h = host("535.183.01", (name, "12.0", "NVIDIA RTX"), driver_cuda="12.2")
    ctx = CheckContext(host=h)
    image = resolve_image(parse_reference(IMAGE), ctx.kb, socket_path="")
    [finding] = [f for f in image_findings(ctx, image) if f.code == "forward-compat"]
    assert (finding.severity, finding.cause) == (severity, cause)
