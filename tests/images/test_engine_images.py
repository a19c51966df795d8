"""Engines inside images: ``pip install vllm`` in a Dockerfile, and engine image tags."""

from __future__ import annotations

import pytest

from gpu_preflight.images.dockerfile import dockerfile_facts
from gpu_preflight.images.reference import parse_reference
from gpu_preflight.images.resolve import apply_dockerfile, image_engine
from gpu_preflight.knowledge import load_knowledge


@pytest.mark.parametrize(
    "run, version, variant",
    [
        ("pip install vllm", None, None),
        ("pip3 install --no-cache-dir vllm==0.11.0", "0.11.0", None),
        ("uv pip install --system 'vllm==0.20.0+cu129'", "0.20.0", "cu129"),
        ('python3 -m pip install -i https://pypi.org/simple "sglang[all]>=0.5.1"', None, None),
        (
            "uv pip install https://github.com/vllm-project/vllm/releases/download/v0.20.0/"
            "vllm-0.20.0+cu129-cp38-abi3-manylinux_2_28_x86_64.whl",
            "0.20.0",
            "cu129",
        ),
    ],
)
def test_a_dockerfile_engine_install_is_read(run: str, version: str | None, variant: str | None) -> None:
    facts = dockerfile_facts(f"FROM nvidia/cuda:12.9.1-base-ubuntu22.04\nRUN apt-get update && {run}\n")
    assert facts.engine is not None
    assert (facts.engine.version, facts.engine.variant, facts.engine.source) == (version, variant, "Dockerfile:2")
    if version is None:
        assert "the default wheel at build time" in facts.engine.notes[0]


@pytest.mark.parametrize(
    "run",
    [
        "pip install vllm-flash-attn==2.6.2",  # another package whose name starts like vllm
        "pip install -r vllm/requirements.txt",  # a file in the build context, not the package
    ],
)
def test_words_that_only_look_like_an_engine_are_not_one(run: str) -> None:
    assert dockerfile_facts(f"FROM python:3.12\nRUN {run}\n").engine is None


def test_the_last_engine_install_of_the_chain_wins_and_reaches_the_image() -> None:
    facts = dockerfile_facts(
        "FROM python:3.12 AS base\nRUN pip install vllm==0.10.0\nFROM base\nRUN pip install -U vllm==0.11.0\n"
    )
    assert facts.engine is not None and facts.engine.version == "0.11.0"
    image = apply_dockerfile(facts, None, "--dockerfile Dockerfile")
    assert image.engine == facts.engine and not image.engine.bundled
    assert image.to_dict()["engine"]["version"] == "0.11.0"  # the doctor JSON names it


@pytest.mark.parametrize(
    "reference, engine, version",
    [
        ("vllm/vllm-openai:v0.20.0", "vllm", "0.20.0"),
        ("docker.io/vllm/vllm-openai:v0.11.0", "vllm", "0.11.0"),
        ("lmsysorg/sglang:v0.5.1.post3-cu126", "sglang", "0.5.1.post3"),
        ("ollama/ollama:0.12.3", "ollama", "0.12.3"),
        ("vllm/vllm-openai:latest", "vllm", None),
    ],
)
def test_an_engine_image_tag_is_the_engine_release(reference: str, engine: str, version: str | None) -> None:
    target = image_engine(parse_reference(reference, "--image"), load_knowledge(), f"--image {reference}")
    assert target is not None and (target.engine, target.version) == (engine, version)
    assert target.bundled  # the image's own CUDA is the engine's: the image gate judges it


def test_other_images_carry_no_engine() -> None:
    ref = parse_reference("nvidia/cuda:12.4.1-runtime-ubuntu22.04", "--image")
    assert image_engine(ref, load_knowledge(), "--image x") is None
