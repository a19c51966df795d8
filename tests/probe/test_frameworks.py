"""Frameworks are read from package metadata, never imported."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpu_preflight.core.host import Host
from gpu_preflight.probe.frameworks import (
    cuda_from_local_tag,
    probe_frameworks,
    scan_site_dirs,
)


def make_dist(site: Path, dirname: str, files: dict[str, str] | None = None) -> None:
    (site / dirname).mkdir(parents=True)
    (site / dirname / "METADATA").write_text("Metadata-Version: 2.1\n")
    for rel, text in (files or {}).items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(text)


TORCH_VERSION_PY = (
    "__version__ = '2.4.1'\ndebug = False\ncuda: Optional[str] = '12.1'\ngit_version = 'x'\nhip: Optional[str] = None\n"
)
TORCH_CPU_VERSION_PY = "__version__ = '2.13.0+cpu'\ncuda: Optional[str] = None\nhip: Optional[str] = None\n"
TORCH_ROCM_VERSION_PY = "__version__ = '2.5.1+rocm6.2'\ncuda = None\nhip = '6.2.41133'\n"


@pytest.mark.parametrize(
    ("version", "cuda"),
    [
        ("2.1.0+cu118", "11.8"),
        ("1.13.1+cu117", "11.7"),
        ("2.8.0+cu129", "12.9"),
        ("2.13.0+cu130", "13.0"),
        ("1.9.0+cu92", "9.2"),
        ("2.4.1", None),
        ("2.4.1+cpu", None),
    ],
)
def test_cuda_from_local_tag(version, cuda):
    assert cuda_from_local_tag(version) == cuda


def test_default_pypi_torch_reads_cuda_from_version_file(tmp_path):
    make_dist(tmp_path, "torch-2.4.1.dist-info", {"torch/version.py": TORCH_VERSION_PY})
    (torch,) = scan_site_dirs([str(tmp_path)])
    assert (torch.name, torch.version, torch.cuda, torch.variant) == ("torch", "2.4.1", "12.1", "cu121")


@pytest.mark.parametrize(
    ("dirname", "version_py", "cuda", "variant"),
    [
        ("torch-2.13.0+cpu.dist-info", TORCH_CPU_VERSION_PY, None, "cpu"),
        ("torch-2.1.0+cu118.dist-info", None, "11.8", "cu118"),
        ("torch-2.5.1+rocm6.2.dist-info", TORCH_ROCM_VERSION_PY, None, "rocm6.2"),
    ],
)
def test_torch_variants(tmp_path, dirname, version_py, cuda, variant):
    make_dist(tmp_path, dirname, {"torch/version.py": version_py} if version_py else None)
    (torch,) = scan_site_dirs([str(tmp_path)])
    assert (torch.cuda, torch.variant) == (cuda, variant)


@pytest.mark.parametrize(
    ("dirname", "name", "cuda"),
    [
        ("cupy_cuda12x-13.3.0.dist-info", "cupy-cuda12x", "12"),
        ("cupy_cuda110-9.6.0.dist-info", "cupy-cuda110", "11.0"),
        ("jax_cuda12_plugin-0.4.35.dist-info", "jax-cuda12-plugin", "12"),
        ("nvidia_cuda_runtime_cu12-12.1.105.dist-info", "nvidia-cuda-runtime-cu12", "12.1"),
        ("nvidia_cudnn_cu12-9.1.0.70.dist-info", "nvidia-cudnn-cu12", None),
        ("vllm-0.6.3.dist-info", "vllm", None),
        ("onnxruntime_gpu-1.19.2.dist-info", "onnxruntime-gpu", None),
    ],
)
def test_other_frameworks(tmp_path, dirname, name, cuda):
    make_dist(tmp_path, dirname)
    (found,) = scan_site_dirs([str(tmp_path)])
    assert (found.name, found.cuda) == (name, cuda)


def test_tensorflow_build_info(tmp_path):
    make_dist(
        tmp_path,
        "tensorflow-2.15.0.dist-info",
        {"tensorflow/python/platform/build_info.py": "build_info = {'cuda_version': '12.2', 'cudnn_version': '8'}\n"},
    )
    (tf,) = scan_site_dirs([str(tmp_path)])
    assert tf.cuda == "12.2"


def test_unrelated_packages_are_ignored_and_first_on_path_wins(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    make_dist(first, "requests-2.31.0.dist-info")
    make_dist(first, "torch-2.1.0+cu121.dist-info")
    make_dist(second, "torch-1.13.1+cu117.dist-info")
    found = scan_site_dirs([str(first), str(second), str(tmp_path / "missing")])
    assert [(f.name, f.version) for f in found] == [("torch", "2.1.0+cu121")]


def test_importing_is_never_needed(tmp_path):
    """A torch whose import would explode is still described."""
    make_dist(tmp_path, "torch-2.6.0+cu124.dist-info", {"torch/__init__.py": "raise SystemExit('imported!')"})
    (torch,) = scan_site_dirs([str(tmp_path)])
    assert torch.cuda == "12.4"


def test_other_interpreter(tmp_path):
    import sys

    host = Host()
    probe_frameworks(host, sys.executable, timeout=30)
    assert host.errors == []


def test_broken_other_interpreter_is_an_error_entry(tmp_path):
    host = Host()
    probe_frameworks(host, str(tmp_path / "no-python"), timeout=5)
    assert host.frameworks == [] and host.errors[0].probe == "frameworks"


@pytest.mark.parametrize("site_parts", [("lib", "python3.11", "site-packages"), ("Lib", "site-packages")])
def test_torch_that_conda_installed_is_marked_conda(tmp_path, site_parts):
    # conda records what it installs in <env>/conda-meta/<name>-<version>-<build>.json; its torch is "pytorch"
    env = tmp_path / "env"
    (env / "conda-meta").mkdir(parents=True)
    (env / "conda-meta" / "pytorch-2.5.1-py3.11_cuda12.4_cudnn9.1.0_0.json").write_text("{}")
    (env / "conda-meta" / "python-3.11.10-hc5c86c4_3.json").write_text("{}")
    site = env.joinpath(*site_parts)
    make_dist(site, "torch-2.5.1.dist-info", {"torch/version.py": TORCH_VERSION_PY})
    make_dist(site, "jax-0.4.30.dist-info", {"jax-0.4.30.dist-info/INSTALLER": "pip\n"})
    found = {f.name: f for f in scan_site_dirs([str(site) + "/"])}
    assert found["torch"].installer == "conda"
    assert found["jax"].installer == "pip"  # pip-installed into the same conda env


def test_installer_of_a_pip_wheel_and_of_an_unreadable_one(tmp_path):
    make_dist(tmp_path, "torch-2.6.0+cu124.dist-info", {"torch-2.6.0+cu124.dist-info/INSTALLER": "uv\n"})
    make_dist(tmp_path, "cupy_cuda12x-13.3.0.dist-info", {"cupy_cuda12x-13.3.0.dist-info/INSTALLER": "\x00\x01"})
    found = {f.name: f for f in scan_site_dirs([str(tmp_path)])}
    assert found["torch"].installer == "uv"
    assert found["cupy-cuda12x"].installer is None
