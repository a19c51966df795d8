"""image_findings / require_findings / gate_findings on hosts built in the test (no live probe)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gpu_preflight.checks.context import CheckContext
from gpu_preflight.checks.image_gate import (
    check_images,
    gate_findings,
    image_findings,
    require_findings,
)
from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.findings import Severity
from gpu_preflight.core.host import Gpu, Host
from gpu_preflight.images.config import ImageConfig
from gpu_preflight.images.reference import parse_reference
from gpu_preflight.images.resolve import (
    ImageFacts,
    collect_image_requests,
    resolve_image,
    resolve_images,
)
from gpu_preflight.knowledge import load_knowledge
from gpu_preflight.probe.container import probe_runtime_mode

from support.scenarios import A100, GTX1080, H100, RTX3090, T4, host

KB = load_knowledge()
R12_4 = (
    "cuda>=12.4 brand=tesla,driver>=470,driver<471 brand=geforce,driver>=470,driver<471 "
    "brand=nvidia,driver>=470,driver<471"
)


def judge(h, *images: str, **context) -> list:
    ctx = CheckContext(host=h)
    for key, value in context.items():
        setattr(ctx, key, value)
    facts = [resolve_image(parse_reference(i), ctx.kb, socket_path="") for i in images]
    return [f for image in facts for f in image_findings(ctx, image)]


def codes(findings) -> list[tuple[str, str, str | None]]:
    return [(f.code, f.severity.label, f.cause) for f in findings]


def one(findings, code: str):
    found = [f for f in findings if f.code == code]
    assert len(found) == 1, codes(findings)
    return found[0]


# --- the gate, then beyond it ------------------------------------------------------------------


def test_refused_in_the_runtimes_words_with_explanation_and_fix():
    findings = judge(host("545.29.06", RTX3090, driver_cuda="12.3"), "nvidia/cuda:12.4.1-runtime-ubuntu22.04")
    refusal = one(findings, "container-requirement")
    assert (refusal.severity, refusal.cause, refusal.device) == (Severity.FAIL, "container-requirement", 0)
    assert refusal.detail.startswith(
        "'nvidia-container-cli: requirement error: unsatisfied condition: cuda>=12.4, "
        "please update your driver to a newer version, or use an earlier cuda container'."
    )
    assert "supports CUDA 12.3" in refusal.detail and "R470, R525, R535" in refusal.detail
    # the smallest fix: the 12.4.1 image's own driver floor, no minor-compat promise (the gate ignores it)
    assert refusal.fix[0].startswith("Install NVIDIA driver >= 550.54.15 ") and "minor-version" not in refusal.fix[0]
    assert refusal.fix[1] == "Or use an image built for CUDA 12.3 or older: the newest this driver supports."
    # the CUDA runtime's own verdict is not repeated (the gate already says it)
    assert not [f for f in findings if f.code == "driver-runtime"]


def test_geforce_admitted_by_a_branch_clause_fails_with_804():
    findings = judge(host("470.82.01", RTX3090, driver_cuda="11.4"), "nvidia/cuda:12.4.1-runtime-ubuntu22.04")
    forward = one(findings, "forward-compat")
    assert (forward.severity, forward.cause) == (Severity.FAIL, "forward-compat-unsupported")
    assert "brand=geforce,driver>=470,driver<471" in forward.title and "error 804" in forward.detail
    assert forward.fix[0].startswith("Install NVIDIA driver >= 550.54.15")
    assert not [f for f in findings if f.code == "driver-runtime"]


def test_datacenter_gpu_runs_through_forward_compat_with_a_warning():
    findings = judge(host("470.82.01", A100, driver_cuda="11.4"), "nvidia/cuda:12.4.1-runtime-ubuntu22.04")
    forward = one(findings, "forward-compat")
    assert (forward.severity, forward.cause) == (Severity.WARN, None)
    assert "forward compatibility" in forward.title and "datacenter" in forward.detail
    assert not [f for f in findings if f.severity == Severity.FAIL]


def test_admitted_natively_then_the_cuda_runtime_is_judged():
    findings = judge(host("560.35.03", GTX1080, driver_cuda="12.6"), "nvidia/cuda:12.4.1-runtime-ubuntu22.04")
    assert one(findings, "container-requirement").severity == Severity.PASS
    assert one(findings, "driver-runtime").severity == Severity.PASS


def test_passing_the_gate_is_not_the_end_cuda_13_on_pascal():
    """CUDA 13 dropped CC < 7.5: an image admitted by the gate still has no code for a GTX 1080."""
    findings = judge(host("580.65.06", GTX1080, driver_cuda="13.0"), "nvidia/cuda:13.0.0-runtime-ubuntu24.04")
    assert one(findings, "container-requirement").severity == Severity.PASS
    assert ("arch-cuda", "fail", "gpu-too-old") in codes(findings)


def test_cdi_mode_has_no_gate_but_the_driver_still_decides():
    findings = judge(
        host("545.29.06", RTX3090, driver_cuda="12.3"), "nvidia/cuda:12.4.1-runtime-ubuntu22.04", container_mode="cdi"
    )
    cdi = one(findings, "container-requirement")
    assert cdi.severity == Severity.INFO and "CDI mode" in cdi.title
    assert "in legacy mode the runtime would refuse it: 'nvidia-container-cli: requirement error" in cdi.detail
    assert one(findings, "driver-runtime").severity == Severity.WARN  # minor-version compatibility


def test_cdi_mode_from_the_host_document(tmp_path):
    """The probe reads mode = "cdi" from nvidia-container-runtime's config; a snapshot of that host
    (its JSON document, read back) reaches the gate with it."""
    config = tmp_path / "config.toml"
    config.write_text('[nvidia-container-runtime]\nmode = "cdi"\n')
    probed = host("545.29.06", RTX3090, driver_cuda="12.3")
    probe_runtime_mode(probed, str(config))
    snapshot = Host.from_dict(json.loads(json.dumps(probed.to_dict())), "snapshot")
    assert "CDI mode" in one(judge(snapshot, "nvidia/cuda:12.4.1-runtime-ubuntu22.04"), "container-requirement").title


def test_disabled_and_no_requirement_and_no_driver():
    ctx = CheckContext(host=host("470.82.01", RTX3090, driver_cuda="11.4"))
    assert gate_findings(ctx, {"NVIDIA_REQUIRE_CUDA": R12_4, "NVIDIA_DISABLE_REQUIRE": "true"}, "x").state == "disabled"
    assert (
        gate_findings(ctx, {"NVIDIA_REQUIRE_CUDA": R12_4, "NVIDIA_DISABLE_REQUIRE": "yes"}, "x").state
        == "forward-compat"
    )
    assert gate_findings(ctx, {"PATH": "/usr/bin"}, "x").state == "none"
    no_driver = gate_findings(CheckContext(host=host(None)), {"NVIDIA_REQUIRE_CUDA": R12_4}, "x")
    assert no_driver.state == "no-driver" and no_driver.findings[0].severity == Severity.INFO


def test_invalid_image_value_is_a_failure_of_the_image():
    gate = gate_findings(
        CheckContext(host=host("550.54.15", A100, driver_cuda="12.4")), {"NVIDIA_REQUIRE_CUDA": "cuda>=10_0"}, "x"
    )
    (finding,) = gate.findings
    assert gate.state == "invalid" and finding.severity == Severity.FAIL
    assert "'nvidia-container-cli: requirement error: invalid expression'" in finding.detail


def test_driver_without_a_cuda_version_gets_it_from_the_knowledge_base():
    gate = gate_findings(CheckContext(host=host("535.104.05", RTX3090)), {"NVIDIA_REQUIRE_CUDA": "cuda>=12.4"}, "x")
    assert gate.state == "refused"
    assert "did not report its CUDA version: 12.2 from the knowledge base" in gate.findings[0].detail


def test_per_gpu_first_failing_device_is_reported():
    gate = gate_findings(
        CheckContext(host=host("550.54.15", H100, GTX1080, driver_cuda="12.4")),
        {"NVIDIA_REQUIRE_CUDA": "cuda>=12.0", "NVIDIA_REQUIRE_ARCH": "arch>=7.0"},
        "x",
    )
    assert gate.state == "refused" and gate.findings[0].device == 1
    assert (
        gate.findings[0].evidence["runtime_message"]
        == "nvidia-container-cli: requirement error: unsatisfied condition: arch>=7.0"
    )


def _t4_knows_both_brands(tmp_path: Path) -> str:
    """A knowledge base whose Tesla T4 row lists both NVML brands it has had."""
    from gpu_preflight.knowledge import packaged_data_dir

    text = (packaged_data_dir() / "gpus.toml").read_text(encoding="utf-8")
    start = text.index('name = "Tesla T4"')
    row_end = text.index("[[product]]", start)
    row = text[start:row_end].replace('brands = ["NVIDIA"]', 'brands = ["NVIDIA", "Tesla"]')
    (tmp_path / "gpus.toml").write_text(text[:start] + row + text[row_end:], encoding="utf-8")
    return str(tmp_path)


def test_assumed_gpu_accepts_every_brand_its_product_had(tmp_path):
    """Tesla T4 is "Tesla" on old drivers and "NVIDIA" on 512+: an assumed one passes a
    brand=tesla clause, with a note that the verdict depends on the brand the driver reports."""
    t4 = Gpu(index=0, name="Tesla T4", compute_capability="7.5", brand="NVIDIA", assumed=True)
    h = host("418.87.01", driver_cuda="10.1")
    h.gpus = [t4]
    env = {"NVIDIA_REQUIRE_CUDA": "cuda>=11.0 brand=tesla,driver>=418,driver<419"}
    gate = gate_findings(CheckContext(host=h, db=_t4_knows_both_brands(tmp_path)), env, "x")
    assert gate.state == "forward-compat" and gate.findings[0].severity == Severity.WARN
    assert "depends on the NVML brand" in gate.findings[0].detail
    probed = host("418.87.01", T4, driver_cuda="10.1")  # what a real host reports is used as is
    assert gate_findings(CheckContext(host=probed, db=_t4_knows_both_brands(tmp_path)), env, "x").state == "refused"


# --- what is known about an image ------------------------------------------------------------------


def test_pytorch_image_is_its_official_wheel():
    findings = judge(host("520.61.05", RTX3090, driver_cuda="11.8"), "pytorch/pytorch:2.1.0-cuda11.8-cudnn8-runtime")
    summary = one(findings, "image")
    assert summary.title == "pytorch/pytorch:2.1.0-cuda11.8-cudnn8-runtime: CUDA 11.8, torch 2.1.0+cu118"
    assert "Unknown: its NVIDIA_REQUIRE_* environment" in summary.detail
    assert one(findings, "arch-coverage").title.endswith("(CC 8.6, sm_86)")
    assert not [f for f in findings if f.code == "container-requirement"]  # not known offline: not guessed


def test_ngc_image_is_a_custom_torch_judged_by_its_cuda():
    findings = judge(host("580.65.06", H100, driver_cuda="13.0"), "nvcr.io/nvidia/pytorch:25.12-py3")
    assert "torch 2.10.0a0+b4e4ee81d3" in one(findings, "image").title
    assert one(findings, "driver-runtime").detail.startswith("CUDA 13.1.0 natively needs driver")
    assert any("compiled architectures unknown" in f.title for f in findings if f.code == "target-note")


def test_vllm_image():
    findings = judge(host("550.54.15", RTX3090, driver_cuda="12.4"), "vllm/vllm-openai:v0.20.0")
    assert "torch 2.11.0+cu130" in one(findings, "image").title
    assert ("driver-runtime", "fail", "driver-too-old") in codes(findings)


def test_unknown_image_is_a_warning_that_says_what_is_unknown():
    findings = judge(host("550.54.15", RTX3090, driver_cuda="12.4"), "ghcr.io/someone/llm-server:1.2")
    (finding,) = findings
    assert (finding.code, finding.severity) == ("image-unknown", Severity.WARN)
    assert "NVIDIA_REQUIRE_*" in finding.title and "CUDA version and framework" in finding.title
    assert (
        finding.fix[0]
        == "docker image inspect ghcr.io/someone/llm-server:1.2 > image.json, then add --image-config image.json"
    )


def test_unknown_tag_of_a_known_repository_is_not_guessed():
    (finding,) = judge(host("550.54.15", RTX3090, driver_cuda="12.4"), "nvidia/cuda:latest")
    assert finding.code == "image-unknown"


def test_config_metadata_wins_and_names_its_source():
    config = ImageConfig(
        {"CUDA_VERSION": "12.8.1", "NVIDIA_REQUIRE_CUDA": "cuda>=12.8"}, "--image-config x.json", platform="linux/amd64"
    )
    facts = resolve_image(parse_reference("nvidia/cuda:12.4.1-runtime-ubuntu22.04"), KB, config=config)
    assert facts.env_source == "--image-config x.json" and str(facts.cuda) == "12.8.1"
    findings = image_findings(CheckContext(host=host("560.35.03", RTX3090, driver_cuda="12.6")), facts)
    assert "cuda>=12.8" in one(findings, "container-requirement").detail


def test_platform_mismatch_is_a_warning():
    config = ImageConfig({"CUDA_VERSION": "12.4.1"}, "--image-config x.json", platform="linux/arm64")
    facts = resolve_image(parse_reference("example.com/a/b:1"), KB, config=config)
    findings = image_findings(CheckContext(host=host("560.35.03", RTX3090, driver_cuda="12.6")), facts)
    assert one(findings, "image-platform").severity == Severity.WARN


def test_lookup_errors_are_warnings_and_do_not_stop_the_judgement():
    facts = ImageFacts(
        "nvidia/cuda:12.4.1-base-ubuntu22.04",
        "--image x",
        cuda=KB.cuda_image("12.4.1-base-ubuntu22.04").cuda,
        lookup_errors=("registry docker.io: cannot reach https://registry-1.docker.io: timed out",),
    )
    findings = image_findings(CheckContext(host=host("560.35.03", RTX3090, driver_cuda="12.6")), facts)
    assert one(findings, "image-lookup").severity == Severity.WARN
    assert one(findings, "driver-runtime").severity == Severity.PASS


def test_check_images_runs_every_target():
    h = host("545.29.06", RTX3090, driver_cuda="12.3")
    ctx = CheckContext(host=h)
    ctx.images = resolve_images(
        collect_image_requests(images=["nvidia/cuda:12.4.1-base-ubuntu22.04"]), ctx.kb, h, socket_path=""
    )
    ctx.require_cuda = ("cuda>=12.0",)
    findings = check_images(ctx)
    assert [f.severity for f in findings if f.code == "container-requirement"] == [Severity.FAIL, Severity.PASS]


# --- --require-cuda --------------------------------------------------------------------------------


def test_require_cuda_fix_names_the_driver_floor():
    (finding,) = require_findings(CheckContext(host=host("535.104.05", RTX3090, driver_cuda="12.2")), "cuda>=12.4")
    assert finding.title.startswith("--require-cuda 'cuda>=12.4': the NVIDIA container runtime refuses")
    assert finding.fix[0].startswith("Install NVIDIA driver >= 550.54.15")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "cuda>=12.4\n",
        "cuda>=\x0012.4",
        "x" * 10_000,
        "cuda>=10_0",
        "brand>tesla",
        "foo=1",
        "cuda>=12.4; rm -rf /",
        "cuda>=12.4\tdriver>=535",
        "cuda>=" + "9" * 30,
        "cuda",
        ">=12.4",
        "cuda==12.4",
    ],
)
def test_hostile_expressions_are_one_line_usage_errors(text):
    with pytest.raises(UsageError) as caught:
        require_findings(CheckContext(host=host("550.54.15", A100, driver_cuda="12.4")), text)
    message = str(caught.value)
    assert "\n" not in message and "\x00" not in message and len(message) < 400
    assert re.search(r"--require-cuda|requirement error", message)


def test_pytorch_image_config_with_plain_pytorch_version_keeps_the_official_wheel():
    """pytorch/pytorch images set PYTORCH_VERSION=2.1.0: the tag still says it is the cu118 wheel."""
    config = ImageConfig({"PYTORCH_VERSION": "2.1.0", "NVIDIA_VISIBLE_DEVICES": "all"}, "docker engine")
    facts = resolve_image(parse_reference("pytorch/pytorch:2.1.0-cuda11.8-cudnn8-runtime"), KB, config=config)
    assert (facts.torch.torch_version, facts.torch.variant, facts.custom_torch) == ("2.1.0", "cu118", None)
    other = resolve_image(parse_reference("example.com/me/app:1"), KB, config=config)
    assert (other.torch, other.custom_torch) == (None, "2.1.0")
