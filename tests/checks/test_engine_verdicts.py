"""checks/engines.py: engine targets judged through the torch rules plus the engines' own floors.

Each case is a real deployment: the host the user has, the engine as they install it (a pin, a
Dockerfile line, an image tag), and the verdict engines.toml's sources demand."""

from __future__ import annotations

from gpu_preflight.checks.diagnose import diagnose
from gpu_preflight.core.host import Framework
from gpu_preflight.images.dockerfile import dockerfile_facts
from gpu_preflight.images.reference import parse_reference
from gpu_preflight.images.resolve import apply_dockerfile, resolve_image
from gpu_preflight.knowledge import load_knowledge
from gpu_preflight.targets.model import EngineTarget, Targets

from support.scenarios import GTX1080, H100, RTX4090, host


def _engines(*targets: EngineTarget) -> Targets:
    return Targets(engines=targets)


def _codes(report) -> dict[str, list]:
    found: dict[str, list] = {}
    for f in report.findings:
        found.setdefault(f.code, []).append(f)
    return found


def test_a_dockerfile_pip_install_vllm_is_judged_with_the_wheels_own_cuda() -> None:
    """``pip install vllm`` on a CUDA 12.9 base: the wheel brings its own CUDA 13.0 runtime
    (VLLM_RN_0200), so an R575 driver (highest CUDA 12.9) fails although the base image runs."""
    facts = dockerfile_facts("FROM nvidia/cuda:12.9.1-base-ubuntu22.04\nRUN pip install vllm\n", "Dockerfile")
    image = apply_dockerfile(facts, None, "--dockerfile Dockerfile")
    report = diagnose(host("575.57.08", RTX4090), images=(image,))
    (runtime,) = [f for f in report.findings if f.code == "driver-runtime" and f.title.startswith("vLLM")]
    assert runtime.severity.label == "fail" and runtime.cause == "driver-too-old"
    assert any("+cu129" in fix for fix in runtime.fix)  # the build that runs on this driver
    (release,) = _codes(report)["engine-release"]
    assert release.severity.label == "warn" and "unconfirmed" in release.title  # unpinned: newest rule


def test_an_engine_image_tag_is_judged_without_judging_its_cuda_twice() -> None:
    """vllm/vllm-openai:v0.20.0 on a GTX 1080: the image's CUDA is the image gate's to judge; the
    engine adds its own floor (CC 7.5 from its CUDA 13 builds, VLLM_DOCS_GPU_CUDA)."""
    image = resolve_image(parse_reference("vllm/vllm-openai:v0.20.0", "--image"), load_knowledge(), socket_path="")
    assert image.engine is not None and image.engine.version == "0.20.0"
    report = diagnose(host("580.95.05", GTX1080), images=(image,))
    (floor,) = _codes(report)["engine-gpu-too-old"]
    assert floor.severity.label == "fail" and floor.cause == "gpu-too-old" and floor.device == 0
    assert "compute capability >= 7.5" in floor.title
    assert not [f for f in report.findings if f.code == "driver-runtime" and f.title.startswith("vLLM")]


def test_a_named_build_the_release_does_not_have_cannot_be_judged() -> None:
    report = diagnose(host("575.57.08", H100), _engines(EngineTarget("vllm", "0.11.0", "cu118", "--engine-pkg x")))
    (unknown,) = _codes(report)["target-unknown"]
    assert unknown.severity.label == "warn" and "no cu118 build" in unknown.title


def test_an_engine_the_knowledge_base_lacks_is_a_warning_not_a_guess() -> None:
    report = diagnose(host("575.57.08", H100), _engines(EngineTarget("tensorrt-llm", "1.0", None, "x")))
    (unknown,) = _codes(report)["target-unknown"]
    assert "not in the knowledge base" in unknown.detail and report.status == "warn"


def test_minor_version_compatibility_suggests_a_build_that_runs_natively() -> None:
    """vLLM 0.11.0 is CUDA 12.8 (engines.toml); on R535 it runs only through minor-version
    compatibility (facts §3: 12.x >= 525.60.13), and no older build runs natively either."""
    report = diagnose(host("535.104.05", H100), _engines(EngineTarget("vllm", "0.11.0", None, "x")))
    (runtime,) = _codes(report)["driver-runtime"]
    assert runtime.severity.label == "warn"
    assert not [fix for fix in runtime.fix if "keep the driver" in fix]  # CUDA 12.4 needs R550: not native on R535


def test_engine_targets_are_listed_in_the_report_even_alone() -> None:
    report = diagnose(host("580.95.05", H100), _engines(EngineTarget("vllm", "0.20.0", None, "--engine-pkg v")))
    assert {"kind": "engine", "engine": "vllm", "version": "0.20.0"}.items() <= report.to_dict()["targets"][0].items()


def test_engines_alone_do_not_judge_the_installed_torch() -> None:
    # Asking about vLLM: the torch installed here is not what vLLM's wheel brings with it.
    installed = Framework("torch", "2.1.0+cu118", "11.8", "cu118")
    report = diagnose(
        host("580.95.05", H100, frameworks=(installed,)), _engines(EngineTarget("vllm", "0.20.0", None, "x"))
    )
    assert not [f for f in report.findings if "2.1.0" in f.title]
    assert [f for f in report.findings if f.code.startswith("engine")]
