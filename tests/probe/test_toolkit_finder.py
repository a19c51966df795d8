"""Toolkits on disk: found once each, with every way they were found."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from gpu_preflight.core.host import Host
from gpu_preflight.probe.toolkit import probe_toolkits

NVCC_OUTPUT = """nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2024 NVIDIA Corporation
Built on Thu_Mar_28_02:18:24_PDT_2024
Cuda compilation tools, release 12.4, V12.4.131
Build cuda_12.4.r12.4/compiler.34097967_0
"""


def executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def fake_root(base: Path, name: str, version_json: str | None = None, nvcc_output: str | None = None) -> Path:
    root = base / name
    (root / "bin").mkdir(parents=True)
    if version_json:
        (root / "version.json").write_text(json.dumps({"cuda": {"name": "CUDA SDK", "version": version_json}}))
    if nvcc_output:
        executable(root / "bin" / "nvcc", f"#!/bin/sh\ncat <<'EOT'\n{nvcc_output}EOT\n")
    return root


def test_roots_symlinks_env_and_path_are_merged(tmp_path):
    root = fake_root(tmp_path, "cuda-12.4", version_json="12.4.1", nvcc_output=NVCC_OUTPUT)
    os.symlink(root, tmp_path / "cuda")
    wrapper_dir = tmp_path / "wrappers"
    executable(wrapper_dir / "nvcc", f'#!/bin/sh\nexec {root}/bin/nvcc "$@"\n')
    env = {"PATH": str(wrapper_dir), "CUDA_HOME": str(tmp_path / "cuda")}
    host = Host()
    probe_toolkits(host, env, timeout=10, patterns=(str(tmp_path / "cuda"), str(tmp_path / "cuda-*")))
    (toolkit,) = host.toolkits
    assert toolkit.version == "12.4.1" and toolkit.source == "version.json"
    assert toolkit.path == str(root)
    assert toolkit.found_via == ["PATH", "CUDA_HOME", str(tmp_path / "cuda")]


def test_two_toolkits_and_an_nvcc_elsewhere(tmp_path):
    fake_root(tmp_path, "cuda-11.8", version_json="11.8.0")
    fake_root(tmp_path, "cuda-12.4", nvcc_output=NVCC_OUTPUT)
    stray = executable(tmp_path / "bin" / "nvcc", "#!/bin/sh\necho 'Cuda compilation tools, release 10.2, V10.2.89'\n")
    host = Host()
    probe_toolkits(host, {"PATH": str(stray.parent)}, timeout=10, patterns=(str(tmp_path / "cuda-*"),))
    assert sorted((t.version, t.source) for t in host.toolkits) == [
        ("10.2.89", "nvcc"),
        ("11.8.0", "version.json"),
        ("12.4.131", "nvcc"),
    ]
    assert host.errors == []


def test_broken_nvcc_and_bad_cuda_home_are_recorded(tmp_path):
    fake_root(tmp_path, "cuda-12.0")
    executable(tmp_path / "cuda-12.0" / "bin" / "nvcc", "#!/bin/sh\nexit 3\n")
    host = Host()
    probe_toolkits(
        host, {"PATH": "", "CUDA_HOME": str(tmp_path / "nope")}, timeout=10, patterns=(str(tmp_path / "cuda-*"),)
    )
    assert [t.version for t in host.toolkits] == [None]
    messages = " ".join(e.message for e in host.errors)
    assert "CUDA_HOME" in messages and "exited with 3" in messages


def test_hanging_nvcc_times_out(tmp_path):
    fake_root(tmp_path, "cuda-12.0")
    executable(tmp_path / "cuda-12.0" / "bin" / "nvcc", "#!/bin/sh\nsleep 30\n")
    host = Host()
    probe_toolkits(host, {"PATH": ""}, timeout=0.5, patterns=(str(tmp_path / "cuda-*"),))
    assert "did not finish" in host.errors[0].message
