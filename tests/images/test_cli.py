"""The image TARGET flags through the real command line (python -m gpu_preflight doctor ...)."""

from __future__ import annotations

import json

import pytest

HOST_545_3090 = ("--assume-driver", "545.29.06", "--assume-gpu", "NVIDIA GeForce RTX 3090")


@pytest.mark.parametrize(
    "args",
    [
        ("--image", "../../etc"),
        ("--image", "x" * 10_000),
        ("--image", "nvidia/cuda\x01:12"),
        ("--image", "image@sha256:xyz"),
        ("--image", "Nvidia/CUDA"),
        ("--require-cuda", "cuda>=10_0"),
        ("--require-cuda", ""),
        ("--require-cuda", "x" * 10_000),
        ("--require-cuda", "cuda>=12.4\x1b[2J"),
        ("--require-cuda", "brand>tesla"),
        ("--dockerfile", "/nonexistent/Dockerfile"),
        ("--image-config", "/nonexistent/inspect.json"),
    ],
)
def test_hostile_targets_exit_2_with_one_line(run_cli, args):
    result = run_cli("doctor", *args, *HOST_545_3090)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("preflight: error: ") and "Traceback" not in result.stderr
    assert len(lines[0]) < 400


def test_image_refused_in_the_runtimes_words(run_cli):
    result = run_cli(
        "doctor",
        "--image",
        "nvidia/cuda:12.4.1-runtime-ubuntu22.04",
        *HOST_545_3090,
        "--json",
        env={"DOCKER_HOST": "unix:///nonexistent.sock"},
    )
    assert result.returncode == 1, result.stderr
    report = result.json()
    refusal = next(f for f in report["findings"] if f["cause"] == "container-requirement")
    assert "unsatisfied condition: cuda>=12.4, please update your driver" in refusal["detail"]
    assert any(t.get("kind") == "image" for t in report["targets"])


def test_require_cuda_and_dockerfile(run_cli, tmp_path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "ARG V=12.6.3\nFROM nvidia/cuda:${V}-runtime-ubuntu22.04 AS base\nFROM base\n"
        "RUN pip install torch==2.6.0 --index-url https://download.pytorch.org/whl/cu126\n"
    )
    result = run_cli(
        "doctor",
        "--dockerfile",
        str(dockerfile),
        "--require-cuda",
        "cuda>=12.0",
        *HOST_545_3090,
        "--json",
        env={"DOCKER_HOST": "unix:///nonexistent.sock"},
    )
    findings = result.json()["findings"]
    assert any(f["code"] == "image" and "torch 2.6.0+cu126" in f["title"] for f in findings)
    assert any(
        f["code"] == "container-requirement"
        and f["title"].startswith("--require-cuda 'cuda>=12.0'")
        and f["severity"] == "pass"
        for f in findings
    )


def test_cdi_flag(run_cli):
    result = run_cli(
        "doctor",
        "--image",
        "nvidia/cuda:12.4.1-runtime-ubuntu22.04",
        "--cdi",
        *HOST_545_3090,
        "--json",
        env={"DOCKER_HOST": "unix:///nonexistent.sock"},
    )
    assert any("CDI mode" in f["title"] for f in result.json()["findings"])


def test_image_config_file(run_cli, tmp_path):
    config = tmp_path / "inspect.json"
    config.write_text(
        json.dumps(
            [
                {
                    "RepoTags": ["my/app:1"],
                    "Architecture": "amd64",
                    "Os": "linux",
                    "Config": {"Env": ["CUDA_VERSION=12.8.1", "NVIDIA_REQUIRE_CUDA=cuda>=12.8"]},
                }
            ]
        )
    )
    result = run_cli("doctor", "--image", "my/app:1", "--image-config", str(config), *HOST_545_3090, "--json")
    assert result.returncode == 1
    assert any("cuda>=12.8" in f["detail"] for f in result.json()["findings"] if f["code"] == "container-requirement")
