"""nvidia/cuda tags newer than the NVIDIA_REQUIRE_CUDA table: judged on the gate's first term.

Every nvidia/cuda image's NVIDIA_REQUIRE_CUDA starts with ``cuda>=MAJOR.MINOR`` and only then
lists brand / driver-branch exceptions (cuda_images.toml [unknown_version]); libnvidia-container
compares the *driver's* CUDA with it, so minor-version compatibility never lets such an image
start. A tag-only 13.2.2 image on an R580 driver (CUDA 13.0) is refused, with the exceptions named
unknown; it used to be judged "runs through minor-version compatibility".
"""

from __future__ import annotations

from gpu_preflight.checks.context import CheckContext
from gpu_preflight.checks.image_gate import image_findings
from gpu_preflight.core.findings import Severity
from gpu_preflight.images.reference import parse_reference
from gpu_preflight.images.resolve import resolve_image

from support.scenarios import H100, RTX4090, host


def judge(h, image: str) -> list:
    ctx = CheckContext(host=h)
    return image_findings(ctx, resolve_image(parse_reference(image), ctx.kb, socket_path=""))


def by_code(findings, code: str) -> list:
    return [f for f in findings if f.code == code]


def test_a_tag_newer_than_the_drivers_cuda_is_refused_on_the_first_term() -> None:
    findings = judge(host("580.95.05", RTX4090, driver_cuda="13.0"), "nvidia/cuda:13.2.2-runtime-ubuntu24.04")
    [gate] = by_code(findings, "container-requirement")
    assert (gate.severity, gate.cause) == (Severity.FAIL, "container-requirement")
    assert "cuda>=13.2" in gate.detail
    # what is not known is said, with the way to read it
    assert "exceptions" in gate.detail and "--registry-lookup" in gate.detail
    assert any("595" in fix for fix in gate.fix)  # a driver whose CUDA reaches 13.2 (R595, Table 3)
    # never "runs through minor-version compatibility": the container does not start
    assert not [f for f in by_code(findings, "driver-runtime") if f.severity < Severity.FAIL]


def test_also_on_a_datacenter_gpu_the_unknown_exceptions_are_named_not_assumed() -> None:
    findings = judge(host("580.95.05", H100, driver_cuda="13.0"), "nvidia/cuda:13.1.0-base-ubuntu26.04")
    [gate] = by_code(findings, "container-requirement")
    assert gate.severity == Severity.FAIL and "cuda>=13.1" in gate.detail and "unknown" in gate.detail


def test_a_driver_whose_cuda_reaches_the_tag_is_admitted() -> None:
    findings = judge(host("595.71.05", RTX4090, driver_cuda="13.2"), "nvidia/cuda:13.2.2-runtime-ubuntu24.04")
    [gate] = by_code(findings, "container-requirement")
    assert gate.severity == Severity.PASS and "cuda>=13.2" in gate.title
    [summary] = by_code(findings, "image")
    assert "Only the first term" in summary.detail  # the summary still says what is unknown


def test_a_tag_in_the_table_keeps_its_exact_value() -> None:
    # 12.4.1 is in the table: its brand=geforce,driver>=470 exception admits it on R470 (then 804)
    findings = judge(host("470.82.01", RTX4090, driver_cuda="11.4"), "nvidia/cuda:12.4.1-runtime-ubuntu22.04")
    assert [f.severity for f in by_code(findings, "forward-compat")] == [Severity.FAIL]
    assert not any("first term" in f.detail for f in findings)


def test_an_observed_13x_value_admits_its_forward_compat_branches() -> None:
    # nvidia/cuda 13.2.0 declares brand=nvidia,driver>=580,driver<581 (observed): an H100 on R580 starts
    # it through forward compatibility (datacenter: a warning), where the first term alone would refuse.
    findings = judge(host("580.95.05", H100, driver_cuda="13.0"), "nvidia/cuda:13.2.0-runtime-ubuntu24.04")
    assert [f.severity for f in by_code(findings, "forward-compat")] == [Severity.WARN]
    # R575 is no longer among 13.2's exceptions
    findings = judge(host("575.57.08", H100, driver_cuda="12.9"), "nvidia/cuda:13.2.0-runtime-ubuntu24.04")
    assert [f.severity for f in by_code(findings, "container-requirement")] == [Severity.FAIL]
