"""targets/specs.py: the TARGET flags --torch, --cuda and --requirements (which file reader a
file goes to), and collect_targets over all of them."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.versions import Version
from gpu_preflight.targets.model import CudaTarget, Targets, TorchTarget
from gpu_preflight.targets.specs import collect_targets, parse_cuda_spec, parse_requirements_file, parse_torch_spec

from support.targets import CU118, WHEEL_CU118, summary, usage_error, write

# --- --torch ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "version", "variant"),
    [
        ("2.1.0+cu118", "2.1.0", "cu118"),
        ("2.6.0", "2.6.0", None),
        ("torch==2.4.1", "2.4.1", None),
        ("torch==2.4.1+cu121", "2.4.1", "cu121"),
        ("2.4", "2.4", None),
        ("torch 2.4.1", "2.4.1", None),
        ("torch   2.4.1+cu124", "2.4.1", "cu124"),
        ("  2.1.0+CU118  ", "2.1.0", "cu118"),
        ("Torch==2.3.0+cpu", "2.3.0", "cpu"),
        ("torch[opt-einsum]==2.1.0", "2.1.0", None),
        ("torch==2.4.*", "2.4", None),
        ("torch==2.4", "2.4", None),
        ("torch===2.1.0+cu118", "2.1.0", "cu118"),
        ("2.5.1+rocm6.2", "2.5.1", "rocm6.2"),
        ("2.7.0+xpu", "2.7.0", "xpu"),
        ("2.0.0.dev20230301+cpu-cxx11-abi", "2.0.0.dev20230301", "cpu.cxx11.abi"),
        ("2.6.0.dev20241112+cu124", "2.6.0.dev20241112", "cu124"),
        ("2.0.0rc1", "2.0.0rc1", None),
        ("0.4.1+cu92", "0.4.1", "cu92"),
        ("2.9.0+cu130", "2.9.0", "cu130"),
        (f"torch @ {WHEEL_CU118}", "2.1.0", "cu118"),
    ],
)
def test_torch_spec_accepted(text: str, version: str, variant: str | None) -> None:
    target = parse_torch_spec(text)
    assert (target.torch_version, target.variant, target.index_url) == (version, variant, None)
    assert target.source == f"--torch {text.strip()}"
    assert target.pinned is True
    assert target.notes == ()


def test_torch_spec_source_and_marker() -> None:
    target = parse_torch_spec("torch==2.1.0; python_version >= '3.8'", source="env:TORCH")
    assert target.source == "env:TORCH"
    assert target.marker == 'python_version >= "3.8"'
    assert "env:TORCH" in usage_error(parse_torch_spec, "numpy==1.0", "env:TORCH")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("torch>=2.0", "--torch 'torch>=2.0': a version range cannot be judged; pin one release"),
        ("torch~=2.4.0", "a version range cannot be judged"),
        ("torch>=2.1,<2.2", "a version range cannot be judged"),
        ("torch==2.*", "a version range cannot be judged"),
        ("torch!=2.1.0", "a version range cannot be judged"),
        ("torch", "--torch 'torch': no version given; pin one release"),
        ("torch @ https://example.com/torch.tar.gz", "its version is unknown"),
        ("numpy==1.0", "--torch 'numpy==1.0': names the package 'numpy', not torch"),
        ("torchvision==0.16.0", "names the package 'torchvision', not torch"),
        ("abc", "--torch 'abc': not a torch version or requirement"),
        ("2.x", "not a torch version or requirement"),
        ("torch==2.x", "not a torch version or requirement"),
        ("==2.1.0", "not a torch version or requirement"),
        ("2.1.0 cu118", "not a torch version or requirement"),
        ("", "--torch: empty value"),
        ("   ", "--torch: empty value"),
        ("2", "'2' is not a torch release (expected major.minor[.patch])"),
        ("2.1.0.0", "is not a torch release"),
        ("2.1.0+git1234abc", "+git1234abc is not a PyTorch wheel variant"),
        ("2.1.0+cu", "+cu is not a PyTorch wheel variant"),
        ("2.1.0+cu62", "cu62 would be CUDA 6.2, not a real CUDA version"),
        ("torch===banana", "'banana' is not a version"),
        ("2" * 10_000, "longer than 200 characters"),
        ("2.1.0\n", "contains control or invisible characters"),
        ("2.1.0\x1b[31m", "contains control or invisible characters"),
        ("2.1\x00.0", "contains control or invisible characters"),
        ("2.1.0\u200b", "contains control or invisible characters"),
        ("2.1.0\u00a0", "contains control or invisible characters"),
    ],
)
def test_torch_spec_rejected(text: str, message: str) -> None:
    got = usage_error(parse_torch_spec, text)
    assert got.startswith("--torch")
    assert message in got
    assert len(got) < 300  # a huge value is cut short, not echoed


def test_torch_spec_not_text() -> None:
    assert usage_error(parse_torch_spec, 2.1) == "--torch: expected text, got float"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_torch_spec_any_text_gives_target_or_usage_error(text: str) -> None:
    try:
        target = parse_torch_spec(text)
    except UsageError as exc:
        assert "\n" not in str(exc)
    else:
        assert target.pinned and target.torch_version


# --- --cuda -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", "12"),
        ("12.4", "12.4"),
        ("12.4.1", "12.4.1"),
        ("cu124", "12.4"),
        ("cuda12.4", "12.4"),
        ("CUDA 11.8", "11.8"),
        ("cuda-13.0", "13.0"),
        ("cu92", "9.2"),
        ("cu130", "13.0"),
        ("7.5", "7.5"),
        ("20.1", "20.1"),
        (" 11.8 ", "11.8"),
        ("12.04", "12.4"),
    ],
)
def test_cuda_spec_accepted(text: str, expected: str) -> None:
    target = parse_cuda_spec(text)
    assert target == CudaTarget(Version.parse(expected), f"--cuda {text.strip()}")
    assert str(target.cuda) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "--cuda 'abc': not a CUDA version (examples: 12.4, 11.8, cu124)"),
        ("0", "--cuda '0': not a real CUDA version (CUDA majors run from 7 to 20)"),
        ("99.9", "--cuda '99.9': not a real CUDA version (CUDA majors run from 7 to 20)"),
        ("6.5", "not a real CUDA version"),
        ("21", "not a real CUDA version"),
        ("cu62", "not a real CUDA version"),
        ("12.4.1.1", "not a CUDA version"),
        ("12..4", "not a CUDA version"),
        ("-12", "not a CUDA version"),
        ("cu1240", "not a CUDA version"),
        ("cpu", "not a CUDA version"),
        ("\u0661\u0662.\u0664", "not a CUDA version"),  # Arabic-Indic digits are not a version
        ("", "--cuda: empty value"),
        ("12.4\x00", "contains control or invisible characters"),
        ("1" * 500, "longer than 200 characters"),
    ],
)
def test_cuda_spec_rejected(text: str, message: str) -> None:
    assert message in usage_error(parse_cuda_spec, text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_cuda_spec_any_text_gives_target_or_usage_error(text: str) -> None:
    try:
        target = parse_cuda_spec(text)
    except UsageError as exc:
        assert "\n" not in str(exc)
    else:
        assert 7 <= target.cuda.major <= 20


# --- --requirements FILE: which reader, and the file named in messages ------------------------------


def test_pyproject_recognised_by_content(in_tmp: Path) -> None:
    write(in_tmp / "deps.in", '# generated\n[project]\ndependencies = ["torch==2.6.0"]\n')
    assert summary(parse_requirements_file("deps.in")) == [("2.6.0", None, None, "deps.in:3", True)]


def test_missing_file(in_tmp: Path) -> None:
    assert usage_error(parse_requirements_file, "nope.txt") == (
        "--requirements 'nope.txt': cannot read: No such file or directory"
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("bad\nname.txt", "--requirements 'bad\\nname.txt': cannot read: No such file or directory"),
        ("bad\x00name.txt", "--requirements 'bad\\x00name.txt': cannot read: embedded null byte"),
        ("x" * 5000, f"--requirements '{'x' * 60}'... (5000 characters): cannot read: File name too long"),
    ],
)
def test_hostile_paths_give_one_line(in_tmp: Path, name: str, message: str) -> None:
    assert usage_error(parse_requirements_file, name) == message


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_any_file_gives_targets_or_usage_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        for name in ("requirements.txt", "pyproject.toml"):
            path = os.path.join(directory, name)
            with open(path, "wb") as fh:
                fh.write(data)
            try:
                targets = parse_requirements_file(path)
            except UsageError as exc:
                assert "\n" not in str(exc)
            else:
                assert all(isinstance(t, TorchTarget) for t in targets)


# --- collect_targets ----------------------------------------------------------------------------


def test_collect_targets_describe_and_json(in_tmp: Path) -> None:
    write(in_tmp / "requirements.txt", f'--extra-index-url {CU118}\ntorch==2.1.0 ; platform_system == "Linux"\n')
    targets = collect_targets(torch=["2.6.0"], cuda=["12.4"], requirements=["requirements.txt"])
    assert isinstance(targets, Targets) and len(targets) == 3
    assert [type(t) for t in targets] == [TorchTarget, TorchTarget, CudaTarget]
    assert targets.torch == tuple(targets)[:2] and targets.cuda == (parse_cuda_spec("12.4"),)
    assert targets.describe() == [
        "torch 2.6.0 (default PyPI wheel) from --torch 2.6.0",
        'torch 2.1.0+cu118 (CUDA 11.8 runtime) from requirements.txt:2 where platform_system == "Linux"',
        "CUDA runtime 12.4 from --cuda 12.4",
    ]
    assert targets.to_list() == [
        {
            "kind": "torch",
            "torch_version": "2.6.0",
            "variant": None,
            "cuda": None,
            "index_url": None,
            "source": "--torch 2.6.0",
            "pinned": True,
            "specifier": "==2.6.0",
            "marker": None,
            "notes": [],
        },
        {
            "kind": "torch",
            "torch_version": "2.1.0",
            "variant": "cu118",
            "cuda": "11.8",
            "index_url": CU118,
            "source": "requirements.txt:2",
            "pinned": True,
            "specifier": "==2.1.0",
            "marker": 'platform_system == "Linux"',
            "notes": ["the cu118 index is named: its +cu118 wheel outranks PyPI's plain one"],
        },
        {"kind": "cuda", "cuda": "12.4", "source": "--cuda 12.4"},
    ]
    assert json.loads(json.dumps(targets.to_list())) == targets.to_list()


def test_collect_targets_empty() -> None:
    targets = collect_targets()
    assert len(targets) == 0 and targets.describe() == [] and targets.to_list() == []


def test_collect_targets_stops_at_the_first_bad_value() -> None:
    assert usage_error(collect_targets, ["2.1.0", "torch>=2"]).startswith("--torch 'torch>=2': a version range")
