"""nvcc --version, version.json and version.txt."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gpu_preflight.probe.nvcc import (
    NvccInfo,
    parse_cuda_version_json,
    parse_cuda_version_txt,
    parse_nvcc_version,
)

NVCC = "nvcc"


@pytest.mark.real_files(NVCC, "*.txt")
def test_every_real_output(real_file: Path) -> None:
    text = real_file.read_bytes().decode()
    info = parse_nvcc_version(text)
    assert info is not None
    # File names end with the full version: "...__V12.5.40[__windows].txt".
    assert f"__V{info.version}" in real_file.name
    assert info.version.startswith(info.release + ".")
    assert info.built_on and info.built_on.startswith(("Mon_", "Tue_", "Wed_", "Thu_", "Fri_", "Sat_", "Sun_"))
    # The "Build cuda_X.Y.rX.Y/compiler..." line arrived with CUDA 11.0.
    assert (info.build is not None) == (int(info.release.split(".")[0]) >= 11)
    assert parse_nvcc_version(text.replace("\n", "\r\n")) == info


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("learn-cuda__cuda9.0__V9.0.176.txt", NvccInfo("9.0", "9.0.176", None, "Fri_Sep__1_21:08:03_CDT_2017")),
        ("mxochicale__cuda10.1__V10.1.243.txt", NvccInfo("10.1", "10.1.243", None, "Sun_Jul_28_19:07:16_PDT_2019")),
        ("mxochicale__cuda10.2__V10.2.89.txt", NvccInfo("10.2", "10.2.89", None, "Wed_Oct_23_19:24:38_PDT_2019")),
        (
            "hello-ai__cuda11.5__V11.5.119.txt",
            NvccInfo("11.5", "11.5.119", "cuda_11.5.r11.5/compiler.30672275_0", "Thu_Nov_18_09:45:30_PST_2021"),
        ),
        (
            "mxochicale__cuda11.8__V11.8.89.txt",
            NvccInfo("11.8", "11.8.89", "cuda_11.8.r11.8/compiler.31833905_0", "Wed_Sep_21_10:33:58_PDT_2022"),
        ),
        (
            "hello-ai__cuda12.5__V12.5.40__windows.txt",
            NvccInfo(
                "12.5",
                "12.5.40",
                "cuda_12.5.r12.5/compiler.34177558_0",
                "Wed_Apr_17_19:36:51_Pacific_Daylight_Time_2024",
            ),
        ),
        (
            "hello-ai__cuda12.5__V12.5.82.txt",
            NvccInfo("12.5", "12.5.82", "cuda_12.5.r12.5/compiler.34385749_0", "Thu_Jun__6_02:18:23_PDT_2024"),
        ),
        (
            "mxochicale__cuda12.6__V12.6.20.txt",
            NvccInfo("12.6", "12.6.20", "cuda_12.6.r12.6/compiler.34431801_0", "Fri_Jun_14_16:34:21_PDT_2024"),
        ),
        (
            "mxochicale__cuda13.0__V13.0.88.txt",
            NvccInfo("13.0", "13.0.88", "cuda_13.0.r13.0/compiler.36424714_0", "Wed_Aug_20_01:58:59_PM_PDT_2025"),
        ),
    ],
)
def test_exact(real_dir: Path, name: str, expected: NvccInfo) -> None:
    assert parse_nvcc_version((real_dir / NVCC / name).read_text()) == expected


WINDOWS_CRLF = (
    "nvcc: NVIDIA (R) Cuda compiler driver\r\n"
    "Copyright (c) 2005-2024 NVIDIA Corporation\r\n"
    "Built on Wed_Apr_17_19:36:51_Pacific_Daylight_Time_2024\r\n"
    "Cuda compilation tools, release 12.5, V12.5.40\r\n"
    "Build cuda_12.5.r12.5/compiler.34177558_0\r\n"
)


def test_windows_crlf() -> None:
    assert parse_nvcc_version(WINDOWS_CRLF) == NvccInfo(
        "12.5", "12.5.40", "cuda_12.5.r12.5/compiler.34177558_0", "Wed_Apr_17_19:36:51_Pacific_Daylight_Time_2024"
    )


def test_the_nvcc_on_this_machine_if_any() -> None:
    """This development machine carries CUDA 13.0's nvcc (no driver); elsewhere: skip."""
    import shutil
    import subprocess

    nvcc = shutil.which("nvcc") or shutil.which("nvcc", path="/usr/local/cuda/bin")
    if nvcc is None:
        pytest.skip("no nvcc on this machine")
    out = subprocess.run([nvcc, "--version"], capture_output=True, text=True, timeout=60).stdout
    info = parse_nvcc_version(out)
    assert info is not None and re.fullmatch(r"\d+\.\d+\.\d+", info.version)


@pytest.mark.parametrize(
    "text",
    ["", "nvcc: command not found", "Cuda compilation tools, release 12.5", "release 12.5, V12.5.40", None, b"bytes"],
)
def test_not_nvcc_output(text: object) -> None:
    assert parse_nvcc_version(text) is None  # type: ignore[arg-type]


# --- version.json -----------------------------------------------------------------------------

# The shape CUDA 11.1+ installs write (top of a real /usr/local/cuda-11.5/version.json).
VERSION_JSON = """{
   "cuda" : {
      "name" : "CUDA SDK",
      "version" : "11.5.2"
   },
   "cuda_cudart" : {
      "name" : "CUDA Runtime (cudart)",
      "version" : "11.5.117"
   },
   "cuda_nvcc" : {
      "name" : "CUDA NVCC",
      "version" : "11.5.119"
   }
}
"""


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (VERSION_JSON, "11.5.2"),
        (VERSION_JSON.encode(), "11.5.2"),
        (json.loads(VERSION_JSON), "11.5.2"),
        ({"cuda": {"name": "CUDA SDK", "version": "12.4.1"}}, "12.4.1"),
        ({"cuda": {"name": "CUDA SDK", "version": "13.0"}}, "13.0"),
        # Runfile installs stamp a date as the third part: keep the release only.
        ({"cuda": {"name": "CUDA SDK", "version": "11.8.20220929"}}, "11.8"),
        ({"cuda": {"name": "CUDA SDK", "version": "12.6.20241114"}}, "12.6"),
        # Jetson (JetPack) writes a plain patch number.
        ({"cuda": {"name": "CUDA SDK", "version": "12.2.140"}}, "12.2.140"),
        ({"cuda": {"name": "CUDA SDK", "version": " 12.4.1\n"}}, "12.4.1"),
        ({"cuda_nvcc": {"version": "11.5.119"}}, None),
        ({"cuda": {"name": "CUDA SDK"}}, None),
        ({"cuda": {"version": 12.4}}, None),
        ({"cuda": {"version": "twelve"}}, None),
        ({"cuda": "12.4.1"}, None),
        ([], None),
        ("[1, 2]", None),
        ("null", None),
    ],
)
def test_version_json(data: object, expected: str | None) -> None:
    assert parse_cuda_version_json(data) == expected  # type: ignore[arg-type]


def test_version_json_that_is_not_json_raises_value_error() -> None:
    with pytest.raises(ValueError):
        parse_cuda_version_json('{"cuda": {')


def test_version_json_on_this_machine_if_any() -> None:
    files = sorted(Path("/usr/local").glob("cuda*/version.json"))
    if not files:
        pytest.skip("no /usr/local/cuda*/version.json here (pip-assembled toolkits have none)")
    for path in files:
        assert re.fullmatch(r"\d+\.\d+(\.\d+)?", parse_cuda_version_json(path.read_text()) or "")


# --- version.txt ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CUDA Version 10.2.89\n", "10.2.89"),
        ("CUDA Version 10.2.89\nCUDA Patch Version 10.2.1\nCUDA Patch Version 10.2.2\n", "10.2.89"),
        ("CUDA Version 9.0.176\r\n", "9.0.176"),
        ("CUDA Version 8.0.61", "8.0.61"),
        ("", None),
        ("CUDA Patch Version 10.2.1\n", None),
        ("Version 10.2.89", None),
        (None, None),
    ],
)
def test_version_txt(text: str | None, expected: str | None) -> None:
    assert parse_cuda_version_txt(text) == expected  # type: ignore[arg-type]
