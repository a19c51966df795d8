"""engines.toml: the rule each engine release is judged by, and the lookup of a release.

Expected values are the sources' words, cited per test (the source keys of sources.toml)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gpu_preflight.core.versions import Version
from gpu_preflight.knowledge import KnowledgeError, load_knowledge, packaged_data_dir
from gpu_preflight.knowledge.engines import cmake_arch_list, release_version


@pytest.fixture(scope="module")
def kb():
    return load_knowledge()


@pytest.mark.parametrize(
    "version, torch, cuda",
    [
        ("0.8.5", "2.6.0", "12.4"),  # VLLM_ASCEND_855: 'vllm==0.8.5 depends on torch==2.6.0'
        ("0.9.1", "2.7.0", "12.8"),  # VLLM_ASCEND_3349; VLLM_PR_17224: wheels moved to 12.8 with torch 2.7
        ("0.10.1.1", "2.7.1", "12.8"),  # KAITO_1494: 'vllm 0.10.1.1 depends on torch==2.7.1'
        ("0.11.0", "2.8.0", "12.8"),  # VLLM_ASCEND_4917: 'vllm 0.11.0 depends on torch 2.8.0'
        ("0.11.1", "2.9.0", "12.9"),  # VLLM_DISCUSS_0111: 'default CUDA build to torch==2.9.0+cu129'
        ("0.12.0", "2.9.0", "12.9"),  # VLLM_RN_0120: 'PyTorch 2.9.0 upgrade (CUDA 12.9)'
        ("0.18.0", "2.10.0", "12.9"),  # VLLM_ASCEND_8286: 'vllm 0.18.0 requires torch==2.10.0'
        ("0.20.0", "2.11.0", "13.0"),  # VLLM_RN_0200: default wheel CUDA 13.0, PyTorch 2.11
        ("0.28.0", "2.13.0", "13.0"),  # GRANITE_SWITCH_132: 'vLLM 0.28 hard-pins torch==2.13.0'
    ],
)
def test_a_vllm_release_resolves_to_its_torch_pin_and_default_cuda(kb, version: str, torch: str, cuda: str) -> None:
    release = kb.engine_release("vllm", version)
    assert release is not None and release.exact
    assert release.torch == torch
    assert release.default_build.cuda == Version.parse(cuda)
    assert release.provenance.status != "unconfirmed"


def test_vllm_0_20_keeps_a_cu129_build_beside_the_cuda_13_default(kb) -> None:
    """VLLM_ISSUE_42756: 'We only release cu129 and cu130 wheels'; the default is CUDA 13 (VLLM_RN_0200)."""
    release = kb.engine_release("vllm", "0.21.0")
    variants = {b.variant: b for b in release.builds}
    assert set(variants) == {"cu130", "cu129"}
    assert variants["cu130"].default and not variants["cu129"].default
    assert "+cu129" in variants["cu129"].install_command("0.21.0")
    assert "v0.21.0/vllm-0.21.0+cu129" in variants["cu129"].install_command("0.21.0")


def test_vllm_compute_capability_floor(kb) -> None:
    """VLLM_DOCS_CUDA128: 'compute capability 7.0 or higher'; VLLM_DOCS_GPU_CUDA: '7.5 or higher'
    once the default build is CUDA 13 (which cannot target CC < 7.5)."""
    floors = {r.version: r.min_cc for r in kb.engine_releases if r.engine.key == "vllm"}
    assert floors["0.11.1"] == Version.parse("7.0")
    assert floors["0.20.0"] == Version.parse("7.5")
    assert all(floor is not None and floor >= Version.parse("7.0") for floor in floors.values())


def test_a_newer_release_than_any_row_is_judged_by_the_newest_rule_unconfirmed(kb) -> None:
    release = kb.engine_release("vllm", "0.31.2")
    newest = [r for r in kb.engine_releases if r.engine.key == "vllm"][-1]
    assert release.rule_version == newest.version
    assert not release.exact and release.provenance.status == "unconfirmed"
    assert "0.31.2" in release.provenance.note


def test_an_unpinned_install_is_the_newest_rule_unconfirmed(kb) -> None:
    release = kb.engine_release("vllm", None)
    assert release is not None and release.provenance.status == "unconfirmed"
    assert release.rule_version == [r for r in kb.engine_releases if r.engine.key == "vllm"][-1].version


def test_a_release_older_than_every_row_is_unconfirmed(kb) -> None:
    release = kb.engine_release("vllm", "0.6.3")
    assert release.rule_version == "0.8.1" and release.provenance.status == "unconfirmed"
    assert "older than every release" in release.provenance.note


def test_unknown_engines_and_non_versions_are_not_guessed(kb) -> None:
    assert kb.engine_release("tensorrt-llm", "1.0.0") is None
    assert kb.engine_release("vllm", "latest") is None


@pytest.mark.parametrize("name", ["vllm", "vLLM", "SGLang", "llama-cpp", "llama.cpp", "Ollama"])
def test_engines_are_found_by_any_usual_spelling(kb, name: str) -> None:
    assert kb.engine(name) is not None


def test_ollama_bundles_cuda_12_and_13_runners_from_0_12(kb) -> None:
    """OLLAMA_V0120: Dockerfile CUDA12VERSION=12.8, CUDA13VERSION=13.0; docs: driver 531 and newer."""
    release = kb.engine_release("ollama", "0.12.3")
    assert {b.variant: str(b.cuda) for b in release.builds} == {"cuda_v12": "12.8", "cuda_v13": "13.0"}
    assert release.engine.selection == "runtime"
    assert release.min_driver == Version.parse("531") and release.min_cc == Version.parse("5.0")


def test_ollama_newer_docs_raise_the_driver_floor_for_old_gpus(kb) -> None:
    """OLLAMA_V03215: 'driver version 550 and newer'; CC 5.0-6.2 'require driver version 570'."""
    release = kb.engine_release("ollama", "0.32.15")
    assert release.min_driver == Version.parse("550")
    assert release.low_cc_below == Version.parse("7.0") and release.low_cc_min_driver == Version.parse("570")


def test_ollama_cuda_13_runner_ships_ptx_only(kb) -> None:
    """OLLAMA_V0120 CMakePresets 'CUDA 13': every architecture is NN-virtual (PTX, JIT at load)."""
    (v13,) = [b for b in kb.engine_release("ollama", "0.12.0").builds if b.variant == "cuda_v13"]
    assert v13.archs is not None and {t.kind for t in v13.archs.targets} == {"ptx"}
    assert v13.archs.covers(Version.parse("8.6")).kind == "ptx"
    assert not v13.archs.covers(Version.parse("6.1"))


def test_llama_cpp_release_zips_per_cuda_are_unconfirmed_per_build(kb) -> None:
    """LLAMACPP_RELEASE_YML: windows-cuda matrix ['12.4', '13.3']; no build number is tied to it."""
    release = kb.engine_release("llama.cpp", "b7000")
    assert {str(b.cuda) for b in release.builds} == {"12.4", "13.3"}
    assert release.provenance.status == "unconfirmed"


@pytest.mark.parametrize(
    "spec, names",
    [
        # CMake CUDA_ARCHITECTURES: NN = real + virtual, NN-real = SASS only, NN-virtual = PTX only
        ("61", ["sm_61", "compute_61"]),
        ("86-real", ["sm_86"]),
        ("90-virtual", ["compute_90"]),
        ("120a-real", ["sm_120a"]),
        ("50-virtual;86-real", ["compute_50", "sm_86"]),
    ],
)
def test_cmake_architecture_lists(spec: str, names: list[str]) -> None:
    assert [t.name for t in cmake_arch_list(spec).targets] == names


@pytest.mark.parametrize(
    "text, version",
    [("v0.20.0", "0.20.0"), ("0.10.1.1", "0.10.1.1"), ("0.5.1.post3", "0.5.1"), ("b7000", "7000"), ("latest", None)],
)
def test_release_numbers_as_engines_spell_them(text: str, version: str | None) -> None:
    parsed = release_version(text)
    assert (str(parsed) if parsed else None) == version


def _override(tmp_path: Path, old: str, new: str) -> Path:
    shutil.copy(packaged_data_dir() / "sources.toml", tmp_path / "sources.toml")
    text = (packaged_data_dir() / "engines.toml").read_text(encoding="utf-8")
    assert old in text
    (tmp_path / "engines.toml").write_text(text.replace(old, new, 1), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    "old, new, message",
    [
        ('release = "0.9.0"\n', 'release = "0.9.7"\n', r"vllm 0\.9\.0 has no \[\[build\]\] row"),
        ('selection = "runtime"', 'selection = "sometimes"', "selection"),
        (
            'variant = "cu124"\ncuda = "12.4"\ndefault = true',
            'variant = "cu124"\ncuda = "12.4"\ndefault = false',
            "exactly one default",
        ),
        ('archs = "50;60;61', 'archs = "5x;60;61', "CMake CUDA architecture"),
    ],
)
def test_malformed_engine_data_is_refused(tmp_path: Path, fresh_loader, old: str, new: str, message: str) -> None:
    with pytest.raises(KnowledgeError, match=message):
        fresh_loader(_override(tmp_path, old, new))


def test_sglang_moved_to_cuda_13_and_keeps_cu129_until_0_5_19(kb) -> None:
    """SGLANG_DOCS_CU129_DEFAULT: 0.5.x installs 'CUDA 12.9 support by default'; SGLANG_PR_24162 and
    SGLANG_TRACKS: the default became cu130 (0.5.11), cu129 kept on the sgl-project index;
    SGLANG_DOCS_INSTALL: '0.5.19 is the last release with a CUDA 12 lane'."""
    assert str(kb.engine_release("sglang", "0.5.5.post1").default_build.cuda) == "12.9"
    newer = kb.engine_release("sglang", "0.5.19")
    assert str(newer.default_build.cuda) == "13.0" and {b.variant for b in newer.builds} == {"cu130", "cu129"}
    newest = kb.engine_release("sglang", "0.5.21")
    assert {b.variant for b in newest.builds} == {"cu130"} and newest.provenance.status == "unconfirmed"
