"""--dockerfile: the image the last stage builds, through several stages, ARG defaults, ENV and
pip-installed torch; then judged end to end like an --image."""

from __future__ import annotations

import pytest

from gpu_preflight.checks.context import CheckContext
from gpu_preflight.checks.image_gate import image_findings
from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.findings import Severity
from gpu_preflight.images.dockerfile import dockerfile_facts, parse_dockerfile
from gpu_preflight.images.resolve import collect_image_requests, resolve_images

from support.scenarios import A100, RTX3090, host

MULTI_STAGE = """\
# syntax=docker/dockerfile:1
ARG CUDA=12.1.1
ARG UBUNTU=22.04
ARG TORCH=2.3.1

FROM nvidia/cuda:${CUDA}-devel-ubuntu${UBUNTU} AS build
ENV NVIDIA_REQUIRE_CUDA="cuda>=99.0"
RUN pip install torch==2.0.0

FROM nvidia/cuda:${CUDA}-runtime-ubuntu${UBUNTU} AS runtime
ARG TORCH
ENV APP_HOME=/app \\
    MAX_JOBS=4
# a comment inside the continuation of the next instruction
RUN apt-get update && \\
    # also a comment
    pip3 install --no-cache-dir torch==${TORCH} \\
        --index-url https://download.pytorch.org/whl/cu121 && \\
    rm -rf /var/lib/apt/lists/*

FROM runtime AS final
COPY --from=build /opt/venv /opt/venv
"""


def facts_of(text: str, path: str = "Dockerfile"):
    return dockerfile_facts(text, path)


def test_last_stage_through_several_stages():
    facts = facts_of(MULTI_STAGE)
    assert facts.base.familiar == "nvidia/cuda:12.1.1-runtime-ubuntu22.04"
    assert facts.base_source == "Dockerfile:10"
    assert facts.stages == ("nvidia/cuda:12.1.1-runtime-ubuntu22.04 AS runtime", "runtime AS final")
    assert "NVIDIA_REQUIRE_CUDA" not in facts.env  # set in the build stage only
    assert facts.env == {"APP_HOME": "/app", "MAX_JOBS": "4"}
    assert (facts.torch.torch_version, facts.torch.variant, facts.torch.source) == (
        "2.3.1",
        "cu121",
        "Dockerfile:14",
    )  # where the RUN starts


def test_env_forms_and_legacy_cuda_version():
    facts = facts_of(
        "FROM ubuntu:22.04\nENV CUDA_VERSION 11.8.0\n"
        'ENV NVIDIA_REQUIRE_CUDA="cuda>=11.8 brand=tesla,driver>=470,driver<471" A=1\n'
    )
    assert facts.env == {
        "CUDA_VERSION": "11.8.0",
        "NVIDIA_REQUIRE_CUDA": "cuda>=11.8 brand=tesla,driver>=470,driver<471",
        "A": "1",
    }
    assert facts.env_sources["CUDA_VERSION"] == "Dockerfile:2"


@pytest.mark.parametrize(
    "run, version, variant",
    [
        ("pip install torch==2.1.0 --index-url https://download.pytorch.org/whl/cu118", "2.1.0", "cu118"),
        ('python3 -m pip install "torch==2.4.1+cu121" torchvision', "2.4.1", "cu121"),
        (
            "uv pip install --system torch==2.5.1 --extra-index-url https://download.pytorch.org/whl/cu124",
            "2.5.1",
            "cu124",
        ),
        ("pip install --index-url=https://download.pytorch.org/whl/cu126 torch==2.6.0", "2.6.0", "cu126"),
        ('["pip", "install", "torch==2.0.1"]', "2.0.1", None),
        (
            "/opt/conda/bin/pip3.11 install -U torch==2.2.2 -f https://download.pytorch.org/whl/cu121/torch_stable.html",
            "2.2.2",
            "cu121",
        ),
        ("pip install numpy && pip install torch==1.13.1 && pip install torch==2.1.2", "2.1.2", None),
    ],
)
def test_torch_from_pip_install(run, version, variant):
    facts = facts_of(f"FROM python:3.11\nRUN {run}\n")
    assert (facts.torch.torch_version, facts.torch.variant) == (version, variant)


def test_torch_range_is_kept_unpinned_and_an_unfound_requirement_file_noted():
    facts = facts_of("FROM python:3.11\nRUN pip install -r requirements.txt 'torch>=2.1'\n")
    assert facts.torch.pinned is False
    assert facts.notes == (
        "Dockerfile:2: pip install -r 'requirements.txt': not found in the build context through this stage's COPY/ADD",
    )


def test_no_torch_means_none_and_other_pip_args_are_not_requirements():
    assert facts_of("FROM python:3.11\nRUN pip install --target torch numpy\n").torch is None


def test_heredoc_escape_directive_and_scratch():
    heredoc = facts_of("FROM python:3.11\nRUN <<EOF\nset -e\npip install torch==2.4.0\nEOF\nENV A=1\n")
    assert heredoc.torch.torch_version == "2.4.0" and heredoc.env == {"A": "1"}
    backtick = facts_of("# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\nENV A=1 `\n    B=2\n")
    assert backtick.env == {"A": "1", "B": "2"}
    scratch = facts_of("FROM scratch\nENV CUDA_VERSION=12.4.1\n")
    assert scratch.base is None and scratch.env == {"CUDA_VERSION": "12.4.1"}


def test_arg_without_default_leaves_the_base_unknown():
    facts = facts_of("ARG BASE\nFROM ${BASE}\n")
    assert facts.base is None
    assert facts.unknown == (
        "the base image of Dockerfile:2 (${BASE}) needs build argument(s) BASE, which have no default",
    )


def test_arg_default_forms_and_platform():
    facts = facts_of(
        'ARG REPO=nvidia/cuda TAG="12.4.1-base-ubuntu22.04"\nFROM --platform=linux/arm64 ${REPO}:${TAG:-x}\n'
    )
    assert facts.base.familiar == "nvidia/cuda:12.4.1-base-ubuntu22.04" and facts.platform == "linux/arm64"


@pytest.mark.parametrize(
    "text, words",
    [
        ("RUN echo\n", "RUN before the first FROM"),
        ("# only a comment\n", "no FROM instruction"),
        ("FROM ../../etc\n", "Dockerfile:1: FROM '../../etc': a file path"),
        ("FROM a b c d\n", "FROM needs IMAGE [AS NAME]"),
        ("FROM ubuntu\nENV\n", "needs at least one name"),
        ("FROM ubuntu\nENV 1A=x\n", "is not a variable name"),
        ("FROM ubuntu\n{{bad}} x\n", "not a Dockerfile instruction"),
        ("# escape=x\nFROM ubuntu\n", "escape directive"),
    ],
)
def test_malformed_dockerfiles_are_one_line(text, words):
    with pytest.raises(UsageError) as caught:
        facts_of(text)
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_unreadable_files(tmp_path):
    binary = tmp_path / "bin"
    binary.write_bytes(b"FROM a\x00\xff\xfe")
    with pytest.raises(UsageError, match="not a text file"):
        parse_dockerfile(str(binary))
    with pytest.raises(UsageError, match="cannot read"):
        parse_dockerfile(str(tmp_path / "missing"))
    with pytest.raises(UsageError, match="is a directory"):
        parse_dockerfile(str(tmp_path))


# --- end to end ------------------------------------------------------------------------------


def judge(tmp_path, text: str, h) -> list:
    path = tmp_path / "Dockerfile"
    path.write_text(text, encoding="utf-8")
    ctx = CheckContext(host=h)
    (facts,) = resolve_images(collect_image_requests(dockerfiles=[str(path)]), ctx.kb, h, socket_path="")
    return image_findings(ctx, facts)


def test_dockerfile_base_gate_and_pip_torch(tmp_path):
    """nvidia/cuda 12.1.1 base (its gate from the knowledge base) + torch 2.3.1+cu121 from pip."""
    findings = judge(tmp_path, MULTI_STAGE, host("470.82.01", RTX3090, driver_cuda="11.4"))
    summary = next(f for f in findings if f.code == "image")
    assert summary.title.endswith("(FROM nvidia/cuda:12.1.1-runtime-ubuntu22.04): CUDA 12.1.1, torch 2.3.1+cu121")
    forward = next(f for f in findings if f.code == "forward-compat")
    assert forward.cause == "forward-compat-unsupported"  # brand=geforce,driver>=470,driver<471 on a GeForce
    assert not [f for f in findings if f.code == "driver-runtime"]  # torch's CUDA 12.1 is the image's: the gate speaks


def test_dockerfile_env_over_an_unknown_base(tmp_path):
    text = 'FROM ubuntu:22.04\nENV NVIDIA_REQUIRE_CUDA="cuda>=12.4"\nENV CUDA_VERSION=12.4.1\n'
    findings = judge(tmp_path, text, host("535.104.05", A100, driver_cuda="12.2"))
    refusal = next(f for f in findings if f.code == "container-requirement")
    assert refusal.severity == Severity.FAIL
    assert refusal.evidence["requirements_from"].startswith("NVIDIA_REQUIRE_CUDA at ")
    summary = next(f for f in findings if f.code == "image")
    assert "only the Dockerfile's ENV is judged" in summary.detail


def test_dockerfile_on_an_unknown_base_without_facts_is_a_warning(tmp_path):
    findings = judge(
        tmp_path, "FROM ghcr.io/someone/base:1\nRUN echo hi\n", host("550.54.15", A100, driver_cuda="12.4")
    )
    assert [f.code for f in findings] == ["image-unknown"]


NVIDIA_STYLE = """\
FROM ubuntu:22.04 as base
ENV NVARCH x86_64
ENV NVIDIA_REQUIRE_CUDA "cuda>=12.4 brand=tesla,driver>=470,driver<471 brand=geforce,driver>=535,driver<536"

FROM base as base-amd64
ENV NV_CUDA_CUDART_VERSION 12.4.127-1

FROM base as base-arm64
ENV NVIDIA_REQUIRE_CUDA "cuda>=12.4"

FROM base-${TARGETARCH}
ARG TARGETARCH
LABEL maintainer "NVIDIA CORPORATION <cudatools@nvidia.com>"
ENV CUDA_VERSION 12.4.1
ENV NVIDIA_DRIVER_CAPABILITIES compute,utility
"""


def test_nvidia_style_dockerfile_with_automatic_platform_args():
    """NVIDIA's own layout: the last stage is chosen by TARGETARCH, the requirement set in a parent stage."""
    amd64 = facts_of(NVIDIA_STYLE)
    assert amd64.stages == ("ubuntu:22.04 AS base", "base AS base-amd64", "base-amd64")
    assert amd64.base.familiar == "ubuntu:22.04"
    assert (
        amd64.env["NVIDIA_REQUIRE_CUDA"].startswith("cuda>=12.4 brand=tesla") and amd64.env["CUDA_VERSION"] == "12.4.1"
    )
    arm64 = dockerfile_facts(NVIDIA_STYLE, platform="linux/arm64")
    assert arm64.env["NVIDIA_REQUIRE_CUDA"] == "cuda>=12.4"


def test_nvidia_style_dockerfile_judged(tmp_path):
    findings = judge(tmp_path, NVIDIA_STYLE, host("535.104.05", RTX3090, driver_cuda="12.2"))
    forward = next(f for f in findings if f.code == "forward-compat")
    assert forward.cause == "forward-compat-unsupported" and "brand=geforce,driver>=535,driver<536" in forward.title
