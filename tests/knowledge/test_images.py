"""Container images: nvidia/cuda tags and NVIDIA_REQUIRE_CUDA, pytorch/pytorch, vLLM, NGC PyTorch."""

from __future__ import annotations

import csv

import pytest

from gpu_preflight.core.versions import Version
from gpu_preflight.knowledge import KnowledgeBase
from gpu_preflight.knowledge.cuda_images import find_require_cuda

from support.knowledge import REAL, params

V = Version.parse
REQUIRE_TSV = REAL / "require-cuda" / "nvidia-require-cuda.latest-ubuntu-x86_64.tsv"


def require_cuda(kb: KnowledgeBase, cuda: str) -> str | None:
    """The NVIDIA_REQUIRE_CUDA value the table holds for the images of exactly this CUDA version."""
    found = find_require_cuda(kb.require_cuda_values, V(cuda))
    return found.value if found else None


def _require_rows() -> list[dict[str, str]]:
    if not REQUIRE_TSV.is_file():
        return []
    with open(REQUIRE_TSV, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


REQUIRE_ROWS = _require_rows()


@pytest.mark.parametrize("row", params(REQUIRE_ROWS, ids=lambda r: r["cuda_version"]))
def test_require_cuda_is_the_exact_string(kb: KnowledgeBase, row: dict[str, str]) -> None:
    assert require_cuda(kb, row["cuda_version"]) == row["NVIDIA_REQUIRE_CUDA"]


def test_require_cuda_table_is_complete(kb: KnowledgeBase) -> None:
    if not REQUIRE_ROWS:
        pytest.skip(f"shared fixture {REQUIRE_TSV} is absent")
    listed = {V(r["cuda_version"]) for r in REQUIRE_ROWS}
    beyond = [r for r in kb.require_cuda_values if r.cuda not in listed]
    assert len(kb.require_cuda_values) - len(beyond) == len(REQUIRE_ROWS)
    # values after the fixture's 13.0.0 were read from images built on nvidia/cuda, not its Dockerfiles
    assert [str(r.cuda) for r in beyond] == ["13.1.1", "13.2.0"]
    assert all(r.provenance.status in ("observed", "third-party") for r in beyond)


def test_require_cuda_examples(kb: KnowledgeBase) -> None:
    value = require_cuda(kb, "12.4.1")
    assert value is not None and value.startswith("cuda>=12.4 brand=tesla,driver>=470,driver<471 ")
    assert "brand=titanrtx,driver>=535,driver<536" in value
    assert require_cuda(kb, "8.0.61") == "cuda>=8.0"
    assert require_cuda(kb, "13.0.2") is None  # not in the table: not guessed
    assert require_cuda(kb, "12.4") == require_cuda(kb, "12.4.0")


@pytest.mark.parametrize(
    "tag, cuda, flavor, cudnn, os",
    [
        ("12.4.1-runtime-ubuntu22.04", "12.4.1", "runtime", None, "ubuntu22.04"),
        ("nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04", "12.4.1", "devel", "cudnn", "ubuntu22.04"),
        ("11.8.0-cudnn8-runtime-ubuntu22.04", "11.8.0", "runtime", "cudnn8", "ubuntu22.04"),
        ("12.8.1-cudnn-devel-oraclelinux8", "12.8.1", "devel", "cudnn", "oraclelinux8"),
        ("12.6.3-runtime-rockylinux9", "12.6.3", "runtime", None, "rockylinux9"),
        ("13.0.2-devel-ubuntu24.04", "13.0.2", "devel", None, "ubuntu24.04"),
        ("docker.io/nvidia/cuda:11.1-base-ubuntu20.04", "11.1", "base", None, "ubuntu20.04"),
    ],
)
def test_cuda_image_tags(kb: KnowledgeBase, tag, cuda, flavor, cudnn, os) -> None:
    image = kb.cuda_image(tag)
    assert (image.cuda, image.flavor, image.cudnn, image.os) == (V(cuda), flavor, cudnn, os)
    assert image.provenance.sources
    if require_cuda(kb, cuda) is None:  # a version the table lacks: the gate's first term only
        assert image.first_term_only and image.require_cuda == f"cuda>={V(cuda).truncate(2)}"
        assert image.provenance.status == "derived" and "--registry-lookup" in image.provenance.note
    else:
        assert image.require_cuda == require_cuda(kb, cuda) and not image.first_term_only


def test_every_known_value_starts_with_the_first_term_rule(kb: KnowledgeBase) -> None:
    """The rule for versions the table lacks is what every row of the table shows."""
    rule = kb.cuda_image_first_term
    for row in kb.require_cuda_values:
        assert row.value.split(" ")[0] == rule.value(row.cuda), row.cuda


@pytest.mark.parametrize(
    "tag, first_term",
    [
        ("nvidia/cuda:13.0.1-base-ubuntu24.04", "cuda>=13.0"),
        ("nvidia/cuda:13.1.0-runtime-ubuntu24.04", "cuda>=13.1"),
        ("nvidia/cuda:13.2.2-cudnn-devel-ubuntu24.04", "cuda>=13.2"),
        ("nvidia/cuda:13.3.1-base-ubuntu26.04", "cuda>=13.3"),  # Ubuntu 26.04 variants parse too
        ("nvidia/cuda:14.0.0-runtime-ubuntu26.04", "cuda>=14.0"),  # newer than anything known
    ],
)
def test_tags_newer_than_the_table_get_the_first_term(kb: KnowledgeBase, tag: str, first_term: str) -> None:
    image = kb.cuda_image(tag)
    assert (image.require_cuda, image.first_term_only) == (first_term, True)
    assert "exceptions" in image.provenance.note and "IMG_13X_OBS" in image.provenance.sources


@pytest.mark.parametrize("tag", ["latest", "12.4.1-ubuntu22.04", "12.4.1-runtime", "pytorch/pytorch:2.1.0"])
def test_not_a_cuda_tag(kb: KnowledgeBase, tag: str) -> None:
    assert kb.cuda_image(tag) is None


@pytest.mark.parametrize(
    "tag, torch, cuda, cudnn, flavor, status",
    [
        ("pytorch/pytorch:2.1.0-cuda11.8-cudnn8-runtime", "2.1.0", "11.8", "8", "runtime", "observed"),
        ("2.9.0-cuda13.0-cudnn9-runtime", "2.9.0", "13.0", "9", "runtime", "observed"),
        ("2.4.1-cuda12.1-cudnn9-devel", "2.4.1", "12.1", "9", "devel", "derived"),
    ],
)
def test_pytorch_image(kb: KnowledgeBase, tag, torch, cuda, cudnn, flavor, status) -> None:
    image = kb.pytorch_image(tag)
    assert (image.torch, image.cuda, image.cudnn, image.flavor, image.provenance.status) == (
        torch,
        V(cuda),
        cudnn,
        flavor,
        status,
    )
    assert image.provenance.note == ""


def test_pytorch_image_with_no_official_wheel_says_so(kb: KnowledgeBase) -> None:
    assert "no official cu128" in kb.pytorch_image("2.6.0-cuda12.8-cudnn9-runtime").provenance.note
    assert kb.pytorch_image("2.1.0-cuda11.8-runtime") is None


@pytest.mark.parametrize(
    "tag, cuda, torch",
    [("vllm/vllm-openai:v0.20.0", "13.0.2", "2.11.0"), ("v0.12.0", "12.9", "2.9.0"), ("0.23.0", "13.0.2", None)],
)
def test_vllm_images(kb: KnowledgeBase, tag: str, cuda: str, torch: str | None) -> None:
    image = kb.vllm_image(tag)
    assert (image.cuda, image.torch) == (V(cuda), torch)
    assert image.provenance.sources


def test_unknown_images_are_none(kb: KnowledgeBase) -> None:
    assert kb.vllm_image("v0.1.0") is None
    assert kb.ngc_pytorch_image("19.01-py3") is None


@pytest.mark.parametrize(
    "tag, cuda, torch",
    [("nvcr.io/nvidia/pytorch:25.12-py3", "13.1.0", "2.10.0a0+b4e4ee81d3"), ("20.02", "10.2.89", "1.4.0a0+a5b4d78")],
)
def test_ngc_pytorch_images(kb: KnowledgeBase, tag: str, cuda: str, torch: str) -> None:
    image = kb.ngc_pytorch_image(tag)
    assert (image.image, image.cuda, image.torch, image.provenance.status) == (
        "nvcr.io/nvidia/pytorch",
        V(cuda),
        torch,
        "confirmed",
    )
