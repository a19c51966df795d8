"""probe/compilers.py: the host compilers nvcc may use, each with every way it was named, and the
toolkit LD_LIBRARY_PATH's libcudart belongs to. Compilers are stand-in scripts printing what
real ones print; the probe never judges and never raises."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from gpu_preflight.core.host import Host, Toolkit
from gpu_preflight.probe.compilers import ccbin_from_flags, named_compilers, parse_compiler_version, probe_toolchain

# First lines of real --version outputs (the rest is the FSF notice for GCC).
FSF = "Copyright (C) 2024 Free Software Foundation, Inc.\nThis is free software; see the source for copying conditions."
GCC_OUTPUTS = {
    "gcc (Debian 12.2.0-14+deb12u1) 12.2.0": "12.2.0",
    "gcc (Ubuntu 13.2.0-23ubuntu4) 13.2.0": "13.2.0",
    "gcc (GCC) 14.2.1 20240912 (Red Hat 14.2.1-3)": "14.2.1",
    "x86_64-conda-linux-gnu-cc (conda-forge gcc 12.4.0-2) 12.4.0": "12.4.0",
    "g++ (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0": "11.4.0",
}
CLANG_OUTPUTS = {
    "Ubuntu clang version 14.0.0-1ubuntu1.1\nTarget: x86_64-pc-linux-gnu": "14.0.0",
    "clang version 18.1.8 (Fedora 18.1.8-1.fc40)\nTarget: x86_64-redhat-linux-gnu": "18.1.8",
    "Apple clang version 15.0.0 (clang-1500.3.9.4)\nTarget: arm64-apple-darwin23.4.0": "15.0.0",
}


@pytest.mark.parametrize("first, version", GCC_OUTPUTS.items())
def test_gcc_version_lines(first: str, version: str) -> None:
    assert parse_compiler_version(f"{first}\r\n{FSF}\n") == ("gcc", version)


@pytest.mark.parametrize("text, version", CLANG_OUTPUTS.items())
def test_clang_version_lines(text: str, version: str) -> None:
    assert parse_compiler_version(text) == ("clang", version)


def test_other_compilers_are_not_called_gcc() -> None:
    nvhpc = "\nnvc++ 24.5-0 64-bit target on x86-64 Linux -tp znver3\nNVIDIA Compilers and Tools\n"
    assert parse_compiler_version(nvhpc) == ("other", None)
    assert parse_compiler_version("") == ("other", None)


@pytest.mark.skipif(shutil.which("gcc") is None, reason="no gcc on this machine")
def test_this_machines_gcc() -> None:
    out = subprocess.run(["gcc", "--version"], capture_output=True, text=True, timeout=30).stdout
    dumped = subprocess.run(["gcc", "-dumpfullversion"], capture_output=True, text=True, timeout=30).stdout.strip()
    assert parse_compiler_version(out) == ("gcc", dumped)


@pytest.mark.parametrize(
    "flags, expected",
    [
        ("-ccbin /usr/bin/g++-13", "/usr/bin/g++-13"),
        ("-allow-unsupported-compiler -ccbin=g++-12", "g++-12"),
        ("--compiler-bindir /opt/gcc-13/bin -O2", "/opt/gcc-13/bin"),
        ("-O2 -ccbin", None),  # dangling flag
        ("", None),
    ],
)
def test_ccbin_in_nvcc_flags(flags: str, expected: str | None) -> None:
    assert ccbin_from_flags(flags) == expected


def test_named_compilers_keep_the_variable_that_named_them() -> None:
    env = {"NVCC_CCBIN": "g++-13", "NVCC_APPEND_FLAGS": "-ccbin clang++", "CC": "ccache gcc-12", "CXX": "g++-12 -m64"}
    assert named_compilers(env)[:4] == [
        ("g++-13", "NVCC_CCBIN"),
        ("clang++", "NVCC_APPEND_FLAGS"),
        ("gcc-12", "CC"),
        ("g++-12", "CXX"),
    ]
    assert named_compilers({})[-3:] == [("gcc", "PATH"), ("g++", "PATH"), ("clang", "PATH")]


def _script(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    fsf = FSF.replace("\n", "\\n")
    _script(folder, "gcc-14", f"printf 'gcc (Ubuntu 14.2.0-4ubuntu2) 14.2.0\\n{fsf}\\n'\n")
    os.symlink(folder / "gcc-14", folder / "gcc")
    _script(folder, "gcc-13", f"printf 'gcc (Ubuntu 13.3.0-6ubuntu2) 13.3.0\\n{fsf}\\n'\n")
    _script(folder, "clang", "printf 'Ubuntu clang version 18.1.3 (1ubuntu1)\\nTarget: x86_64-pc-linux-gnu\\n'\n")
    return folder


def test_probe_records_each_compiler_once_with_every_way_it_was_named(bin_dir: Path) -> None:
    host = Host()
    env = {"PATH": str(bin_dir), "NVCC_CCBIN": str(bin_dir / "gcc-13"), "CC": "gcc"}
    probe_toolchain(host, env, timeout=10)
    assert host.compilers is not None
    by_path = {Path(c.path).name: c for c in host.compilers}
    assert by_path["gcc-13"].found_via == ["NVCC_CCBIN"] and by_path["gcc-13"].version == "13.3.0"
    # gcc -> gcc-14 (a symlink, as Debian's alternatives are): one compiler, named by CC and PATH
    assert by_path["gcc-14"].found_via == ["CC", "PATH"] and by_path["gcc-14"].kind == "gcc"
    assert (by_path["clang"].kind, by_path["clang"].version) == ("clang", "18.1.3")
    assert not host.errors


def test_a_named_compiler_that_is_missing_is_an_error_not_a_crash(bin_dir: Path) -> None:
    host = Host()
    probe_toolchain(host, {"PATH": str(bin_dir), "CUDAHOSTCXX": "/nonexistent/g++-12"}, timeout=10)
    assert [(e.probe, e.message) for e in host.errors] == [("compiler", "CUDAHOSTCXX=/nonexistent/g++-12: not found")]


def test_a_hanging_compiler_is_cut_off(tmp_path: Path) -> None:
    folder = tmp_path / "bin"
    folder.mkdir()
    _script(folder, "gcc", "sleep 30\n")
    host = Host()
    probe_toolchain(host, {"PATH": str(folder)}, timeout=0.5)
    assert host.compilers == []
    assert host.errors and "did not finish within its timeout" in host.errors[0].message


def test_nothing_found_is_an_empty_list_not_unknown(tmp_path: Path) -> None:
    host = Host()
    probe_toolchain(host, {"PATH": str(tmp_path)}, timeout=5)
    assert host.compilers == [] and "compilers" in host.to_dict()


def test_ld_library_path_marks_the_toolkit_whose_libcudart_it_reaches(tmp_path: Path) -> None:
    roots = {}
    for release in ("11.8", "12.4"):
        lib = tmp_path / f"cuda-{release}" / "targets" / "x86_64-linux" / "lib"
        lib.mkdir(parents=True)
        (lib / "libcudart.so.12").write_bytes(b"")
        os.symlink(lib, tmp_path / f"cuda-{release}" / "lib64")
        roots[release] = os.path.realpath(tmp_path / f"cuda-{release}")
    host = Host(
        toolkits=[
            Toolkit("11.8.0", roots["11.8"], "version.json", found_via=["CUDA_HOME"]),
            Toolkit("12.4.1", roots["12.4"], "version.json", found_via=["PATH"]),
        ]
    )
    ld = os.pathsep.join(
        [str(tmp_path / "empty"), str(tmp_path / "cuda-12.4" / "lib64"), str(tmp_path / "cuda-11.8" / "lib64")]
    )
    probe_toolchain(host, {"PATH": str(tmp_path), "LD_LIBRARY_PATH": ld}, timeout=5)
    assert [t.found_via for t in host.toolkits] == [["CUDA_HOME"], ["PATH", "LD_LIBRARY_PATH"]]
