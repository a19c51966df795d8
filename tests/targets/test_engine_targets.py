"""Engine targets: ``--engine-pkg`` and engine lines of requirements files and pyproject files."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpu_preflight.core.errors import UsageError
from gpu_preflight.targets.engine_files import requirements_engines
from gpu_preflight.targets.engines import engine_wheel, parse_engine_spec
from gpu_preflight.targets.specs import parse_requirements_file


@pytest.mark.parametrize(
    "spec, engine, version, variant",
    [
        ("vllm==0.11.0", "vllm", "0.11.0", None),
        ("vllm 0.11.0", "vllm", "0.11.0", None),
        ("vllm==0.20.0+cu129", "vllm", "0.20.0", "cu129"),  # vLLM's own wheels carry +cu129
        ("vLLM==0.10.1.1", "vllm", "0.10.1.1", None),
        ("sglang[all]==0.5.1.post3", "sglang", "0.5.1.post3", None),
        ("ollama==0.12.3", "ollama", "0.12.3", None),
        ("llama.cpp==b7000", "llama.cpp", "b7000", None),
        ("llama-cpp b7000", "llama.cpp", "b7000", None),
    ],
)
def test_engine_pkg_pins_one_release(spec: str, engine: str, version: str, variant: str | None) -> None:
    target = parse_engine_spec(spec)
    assert (target.engine, target.version, target.variant) == (engine, version, variant)
    assert target.source == f"--engine-pkg {spec}"


@pytest.mark.parametrize(
    "spec, says",
    [
        ("vllm>=0.10", "pin one release"),
        ("vllm", "no release given"),
        ("tensorrt-llm==1.0", "not an engine this tool knows"),
        ("", "not an engine release"),
        ("vllm==0.11.0\x1b[2J", "not an engine release"),
        ("vllm==" + "1" * 5000, "not an engine release"),
    ],
)
def test_engine_pkg_refuses_what_it_cannot_judge_in_one_line(spec: str, says: str) -> None:
    with pytest.raises(UsageError, match=says) as raised:
        parse_engine_spec(spec)
    assert "\n" not in str(raised.value)


def test_a_vllm_pin_in_requirements_is_an_engine_target_not_a_missing_torch_pin(in_tmp: Path) -> None:
    (in_tmp / "requirements.txt").write_text("# serving\nvllm==0.11.0\nfastapi\n")
    (engine,) = requirements_engines(["requirements.txt"])
    assert (engine.engine, engine.version, engine.variant, engine.source) == (
        "vllm",
        "0.11.0",
        None,
        "requirements.txt:2",
    )
    assert parse_requirements_file("requirements.txt") == []  # no torch line: the torch readers see none


def test_engine_lines_are_read_through_includes_and_unpinned_ones_say_so(in_tmp: Path) -> None:
    (in_tmp / "base.txt").write_text("sglang[all]>=0.5\n")
    (in_tmp / "requirements.txt").write_text("-r base.txt\nvllm==0.20.0+cu129\n")
    sglang, vllm = requirements_engines(["requirements.txt"])
    assert (sglang.engine, sglang.version, sglang.specifier) == ("sglang", None, ">=0.5")
    assert "does not pin one release" in sglang.notes[0]
    assert (vllm.version, vllm.variant) == ("0.20.0", "cu129")


def test_a_vllm_wheel_url_names_release_and_build(in_tmp: Path) -> None:
    url = "https://github.com/vllm-project/vllm/releases/download/v0.20.0/vllm-0.20.0%2Bcu129-cp38-abi3-manylinux_2_28_x86_64.whl"
    (in_tmp / "requirements.txt").write_text(f"{url}\n")
    (engine,) = requirements_engines(["requirements.txt"])
    assert (engine.engine, engine.version, engine.variant) == ("vllm", "0.20.0", "cu129")
    assert engine_wheel("torch-2.8.0-cp311-cp311-manylinux_2_28_x86_64.whl", "x") is None


def test_pyproject_dependencies_and_extras(in_tmp: Path) -> None:
    (in_tmp / "pyproject.toml").write_text(
        '[project]\nname = "svc"\nversion = "1"\ndependencies = ["fastapi"]\n\n'
        '[project.optional-dependencies]\ngpu = ["vllm==0.11.0"]\n'
    )
    (engine,) = requirements_engines(["pyproject.toml"])
    assert (engine.engine, engine.version, engine.source) == ("vllm", "0.11.0", "pyproject.toml:7")


def test_a_torch_only_file_names_no_engine(in_tmp: Path) -> None:
    (in_tmp / "requirements.txt").write_text("torch==2.8.0\nvllm-flash-attn==2.6.2\n")
    assert requirements_engines(["requirements.txt"]) == ()
