"""targets.py: --torch / --cuda values, requirements files and pyproject.toml into target objects."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.versions import Version
from gpu_preflight.targets.specs import (
    CudaTarget,
    Targets,
    TorchTarget,
    collect_targets,
    index_url_variant,
    parse_cuda_spec,
    parse_requirements_file,
    parse_torch_spec,
    variant_cuda,
)

CU118 = "https://download.pytorch.org/whl/cu118"
CU121 = "https://download.pytorch.org/whl/cu121"
WHEEL_CU118 = "https://download.pytorch.org/whl/cu118/torch-2.1.0%2Bcu118-cp310-cp310-linux_x86_64.whl"


def usage_error(call, *args) -> str:
    """The message of the UsageError ``call(*args)`` raises, checked to be one line."""
    with pytest.raises(UsageError) as info:
        call(*args)
    message = str(info.value)
    assert message and "\n" not in message and "\r" not in message
    return message


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


# --- variants and index URLs --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ("cu118", Version.of(11, 8)),
        ("cu121", Version.of(12, 1)),
        ("cu92", Version.of(9, 2)),
        ("cu75", Version.of(7, 5)),
        ("cu102", Version.of(10, 2)),
        ("cu130", Version.of(13, 0)),
        ("CU124", Version.of(12, 4)),
        ("cpu", None),
        ("cpu.cxx11.abi", None),
        ("rocm6.2", None),
        ("rocm5.4.2", None),
        ("xpu", None),
    ],
)
def test_variant_cuda(variant: str, expected: Version | None) -> None:
    assert variant_cuda(variant) == expected
    if expected is not None:
        assert str(variant_cuda(variant)) == f"{expected.major}.{expected.minor}"


@pytest.mark.parametrize("variant", ["", "cu", "cuda", "cu1", "cu1180", "cu62", "gpu", "rocm", "cu11.8", None])
def test_variant_cuda_rejects(variant: str) -> None:
    assert usage_error(variant_cuda, variant).startswith("wheel variant")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://download.pytorch.org/whl/cu121", "cu121"),
        ("https://download.pytorch.org/whl/cu121/", "cu121"),
        ("https://download.pytorch.org/whl/nightly/cu128", "cu128"),
        ("https://download.pytorch.org/whl/test/cu126", "cu126"),
        ("https://download.pytorch.org/whl/cpu", "cpu"),
        ("https://download.pytorch.org/whl/rocm6.2", "rocm6.2"),
        ("https://download.pytorch.org/whl/xpu", "xpu"),
        ("https://download.pytorch.org/whl/cu111/torch_stable.html", "cu111"),
        ("  https://download.pytorch.org/whl/CU118  ", "cu118"),
        ("https://user:secret@mirror.example/pytorch/whl/cu124/simple", "cu124"),
        ("https://download.pytorch.org/whl/torch_stable.html", None),
        ("https://download.pytorch.org/whl", None),
        ("https://download.pytorch.org/whl/cu62", None),
        ("https://pypi.org/simple", None),
        ("https://example.com/cu121", None),
        ("", None),
        ("not a url", None),
        ("http://[::1", None),
    ],
)
def test_index_url_variant(url: str, expected: str | None) -> None:
    assert index_url_variant(url) == expected


# --- requirements.txt ---------------------------------------------------------------------------


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in tmp_path so that sources read "requirements.txt:3" as a user would see them."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str | bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        text = text.encode()
    path.write_bytes(text)
    return str(path)


def summary(targets: list[TorchTarget]) -> list[tuple]:
    return [(t.torch_version, t.variant, t.index_url, t.source, t.pinned) for t in targets]


def test_requirements_pins_comments_and_line_numbers(in_tmp: Path) -> None:
    write(
        in_tmp / "requirements.txt",
        "# the stack\n\nnumpy==1.26.4\ntorch==2.1.0+cu118  # GPU build\ntransformers>=4.40\n",
    )
    assert summary(parse_requirements_file("requirements.txt")) == [
        ("2.1.0", "cu118", None, "requirements.txt:4", True)
    ]


def test_requirements_without_torch(in_tmp: Path) -> None:
    write(
        in_tmp / "requirements.txt",
        "numpy==1.26\ntorchvision==0.16.0+cu118\ntorch-tensorrt==2.1.0\npytorch-lightning\n",
    )
    assert parse_requirements_file("requirements.txt") == []


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "   \n\t\n"])
def test_requirements_empty_file_pins_nothing(in_tmp: Path, text: str) -> None:
    write(in_tmp / "requirements.txt", text)
    assert parse_requirements_file("requirements.txt") == []


@pytest.mark.parametrize(
    "data",
    [
        b"numpy\r\n\r\ntorch==2.1.0+cu118\r\n",  # Windows
        b"numpy\r\rtorch==2.1.0+cu118\r",  # old Mac
        b"\xef\xbb\xbfnumpy\n\ntorch==2.1.0+cu118\n",  # UTF-8 with a BOM
        b"\xef\xbb\xbfnumpy\r\n# \xc3\xa9t\xc3\xa9\r\ntorch==2.1.0+cu118",  # BOM, CRLF, non-ASCII comment, no final newline
    ],
)
def test_requirements_line_endings_and_bom(in_tmp: Path, data: bytes) -> None:
    write(in_tmp / "requirements.txt", data)
    assert summary(parse_requirements_file("requirements.txt")) == [
        ("2.1.0", "cu118", None, "requirements.txt:3", True)
    ]


def test_requirements_bom_on_the_torch_line(in_tmp: Path) -> None:
    write(in_tmp / "requirements.txt", b"\xef\xbb\xbftorch==2.4.1\r\n")
    assert summary(parse_requirements_file("requirements.txt")) == [("2.4.1", None, None, "requirements.txt:1", True)]


def test_requirements_continuation_lines_and_hashes(in_tmp: Path) -> None:
    write(
        in_tmp / "requirements.txt",
        "numpy==1.26.4 \\\n"
        "    --hash=sha256:aaaa\n"
        'torch==2.1.0+cu118 ; platform_system == "Linux" \\\n'
        "    --hash=sha256:bbbb \\\n"
        "    --hash=sha256:cccc\n"
        "tor\\\n"
        "ch==2.4.1+cu121\n"
        "# a comment ending in a backslash is not continued \\\n"
        "torch==2.2.0+cpu --hash=sha256:dddd\n",
    )
    targets = parse_requirements_file("requirements.txt")
    assert summary(targets) == [
        ("2.1.0", "cu118", None, "requirements.txt:3", True),
        ("2.4.1", "cu121", None, "requirements.txt:6", True),
        ("2.2.0", "cpu", None, "requirements.txt:9", True),
    ]
    assert targets[0].marker == 'platform_system == "Linux"'


def test_requirements_continuation_at_end_of_file(in_tmp: Path) -> None:
    write(in_tmp / "requirements.txt", b"numpy\r\ntorch==2.1.0+cu118 \\\r\n")
    assert summary(parse_requirements_file("requirements.txt")) == [
        ("2.1.0", "cu118", None, "requirements.txt:2", True)
    ]


def test_requirements_markers_are_kept_not_evaluated(in_tmp: Path) -> None:
    write(
        in_tmp / "requirements.txt",
        'torch==2.1.0+cu118; platform_system == "Linux"\n'
        "torch==2.1.0; sys_platform == 'darwin'\n"
        'torch==2.1.0+cpu ; platform_system == "Windows" and python_version < "3.12"\n',
    )
    targets = parse_requirements_file("requirements.txt")
    assert [(t.variant, t.marker) for t in targets] == [
        ("cu118", 'platform_system == "Linux"'),
        (None, 'sys_platform == "darwin"'),
        ("cpu", 'platform_system == "Windows" and python_version < "3.12"'),
    ]
    assert targets[1].describe() == (
        'torch 2.1.0 (default PyPI wheel) from requirements.txt:2 where sys_platform == "darwin"'
    )


@pytest.mark.parametrize(
    ("options", "variant", "index_url"),
    [
        (f"--extra-index-url {CU118}", "cu118", CU118),
        (f"--index-url {CU121}", "cu121", CU121),
        (f"--index-url={CU121}/", "cu121", CU121 + "/"),
        ("-i https://download.pytorch.org/whl/cpu", "cpu", "https://download.pytorch.org/whl/cpu"),
        ("-ihttps://download.pytorch.org/whl/rocm6.2", "rocm6.2", "https://download.pytorch.org/whl/rocm6.2"),
        (
            "--extra-index-url https://download.pytorch.org/whl/nightly/cu128",
            "cu128",
            "https://download.pytorch.org/whl/nightly/cu128",
        ),
        (
            "-f https://download.pytorch.org/whl/cu111/torch_stable.html",
            "cu111",
            "https://download.pytorch.org/whl/cu111/torch_stable.html",
        ),
        ("--find-links https://download.pytorch.org/whl/torch_stable.html", None, None),
        ("--extra-index-url https://pypi.org/simple", None, None),
        ("--index-url https://mirror.example/simple", None, "https://mirror.example/simple"),
        ("--index-url https://mirror.example/simple\n--extra-index-url " + CU118, "cu118", CU118),
        ("--trusted-host download.pytorch.org --extra-index-url " + CU118, "cu118", CU118),
        (f"--extra-index-url {CU118}\n--extra-index-url {CU121}", "cu121", CU121),
        # The highest local version wins, whatever the URLs and their order.
        (f"--extra-index-url https://a.example/whl/cu121\n-i {CU118}", "cu121", "https://a.example/whl/cu121"),
        ("", None, None),
    ],
)
def test_requirements_plain_pin_takes_the_variant_of_a_pytorch_index(
    in_tmp: Path, options: str, variant: str | None, index_url: str | None
) -> None:
    write(in_tmp / "requirements.txt", f"{options}\ntorch==2.1.0\n")
    [target] = parse_requirements_file("requirements.txt")
    assert (target.torch_version, target.variant, target.index_url) == ("2.1.0", variant, index_url)
    assert target.pinned


def test_requirements_index_option_after_the_pin_still_applies(in_tmp: Path) -> None:
    write(in_tmp / "requirements.txt", f"torch==2.1.0\n--extra-index-url {CU118}\n")
    [target] = parse_requirements_file("requirements.txt")
    assert (target.variant, target.index_url, target.source) == ("cu118", CU118, "requirements.txt:1")
    assert target.notes == ("the cu118 index is named: its +cu118 wheel outranks PyPI's plain one",)
    assert target.describe() == "torch 2.1.0+cu118 (CUDA 11.8 runtime) from requirements.txt:1"


def test_requirements_several_pytorch_indexes_take_the_highest_local_version(in_tmp: Path) -> None:
    write(in_tmp / "requirements.txt", f"--extra-index-url {CU121}\n--extra-index-url {CU118}\ntorch==2.1.0\n")
    [target] = parse_requirements_file("requirements.txt")
    assert target.variant == "cu121"
    assert target.notes == ("several PyTorch indexes (cu118, cu121): pip takes the highest local version, +cu121",)


@pytest.mark.parametrize(
    ("options", "index_url", "note"),
    [
        (f"--extra-index-url {CU118}", CU118, None),
        (
            f"--extra-index-url {CU121}",
            None,
            "+cu118 wheels are not on PyPI: name the index https://download.pytorch.org/whl/cu118",
        ),
        (f"--index-url {CU121}", CU121, "+cu118 is pinned but --index-url serves only cu121 wheels"),
        ("", None, "+cu118 wheels are not on PyPI: name the index https://download.pytorch.org/whl/cu118"),
        ("-i https://mirror.example/simple", "https://mirror.example/simple", None),
    ],
)
def test_requirements_pinned_variant_wins_over_indexes(
    in_tmp: Path, options: str, index_url: str | None, note: str | None
) -> None:
    write(in_tmp / "requirements.txt", f"{options}\ntorch==2.1.0+cu118\n")
    [target] = parse_requirements_file("requirements.txt")
    assert (target.variant, target.index_url, target.notes) == ("cu118", index_url, (note,) if note else ())


@pytest.mark.parametrize(
    ("line", "specifier", "note"),
    [
        ("torch>=2.1", ">=2.1", "torch>=2.1 does not pin one release"),
        ("torch~=2.4.0", "~=2.4.0", "torch~=2.4.0 does not pin one release"),
        ("torch>=2.1,<2.2", "<2.2,>=2.1", "does not pin one release"),
        ("torch", "", "torch without a version does not pin one release"),
        (
            "torch @ git+https://github.com/pytorch/pytorch@v2.1.0",
            " @ git+https://github.com/pytorch/pytorch@v2.1.0",
            "its version is unknown until it is built",
        ),
    ],
)
def test_requirements_ranges_are_kept_unpinned(in_tmp: Path, line: str, specifier: str, note: str) -> None:
    write(in_tmp / "requirements.txt", f"{line}\n")
    [target] = parse_requirements_file("requirements.txt")
    assert (target.torch_version, target.variant, target.pinned, target.specifier) == (None, None, False, specifier)
    assert note in target.notes[0]


def test_requirements_range_with_pytorch_index_still_knows_the_variant(in_tmp: Path) -> None:
    write(in_tmp / "requirements.txt", f"-i {CU121}\ntorch>=2.1\n")
    [target] = parse_requirements_file("requirements.txt")
    assert (target.torch_version, target.variant, target.pinned) == (None, "cu121", False)
    assert target.describe() == (
        "torch>=2.1 (not pinned to one release, cu121 wheel, CUDA 12.1 runtime) from requirements.txt:2"
    )


def test_requirements_environment_variables_are_expanded_as_pip_does(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_INDEX", "https://download.pytorch.org/whl/cu124")
    monkeypatch.setenv("TORCH_VERSION", "2.5.1")
    monkeypatch.delenv("UNSET_VAR", raising=False)
    write(in_tmp / "requirements.txt", "--extra-index-url ${TORCH_INDEX}\ntorch==${TORCH_VERSION}\n")
    assert summary(parse_requirements_file("requirements.txt")) == [
        ("2.5.1", "cu124", "https://download.pytorch.org/whl/cu124", "requirements.txt:2", True)
    ]
    write(in_tmp / "requirements.txt", "torch==${UNSET_VAR}\n")
    assert usage_error(parse_requirements_file, "requirements.txt") == (
        "requirements.txt:1: not a valid requirement: 'torch==${UNSET_VAR}'"
    )


def test_requirements_series_pin_is_pinned(in_tmp: Path) -> None:
    write(in_tmp / "requirements.txt", "torch==2.4.*\n")
    assert summary(parse_requirements_file("requirements.txt")) == [("2.4", None, None, "requirements.txt:1", True)]


def test_requirements_direct_wheels(in_tmp: Path) -> None:
    write(
        in_tmp / "requirements.txt",
        f"--extra-index-url {CU121}\n"
        f"torch @ {WHEEL_CU118}\n"
        "./wheels/torch-2.4.1+cu124-cp311-cp311-linux_x86_64.whl\n"
        "https://files.example/torch-2.2.0-cp310-cp310-manylinux1_x86_64.whl\n"
        "wheels\\torchvision-0.16.0-cp310-cp310-win_amd64.whl\n",
    )
    # The file name decides the variant of a direct wheel; indexes do not apply to it.
    assert [(t.torch_version, t.variant, t.pinned, t.source) for t in parse_requirements_file("requirements.txt")] == [
        ("2.1.0", "cu118", True, "requirements.txt:2"),
        ("2.4.1", "cu124", True, "requirements.txt:3"),
        ("2.2.0", None, True, "requirements.txt:4"),
    ]


def test_requirements_other_lines_pip_accepts_are_ignored(in_tmp: Path) -> None:
    write(
        in_tmp / "requirements.txt",
        "-e .\n--editable ./libs/thing\n./local/package\nhttps://example.com/pkg-1.0.tar.gz\n"
        "git+https://github.com/x/y.git#egg=y\n--pre\n--no-index\n--only-binary :all:\n--prefer-binary\n"
        "Torch[Opt-Einsum]==2.3.1\n",
    )
    assert summary(parse_requirements_file("requirements.txt")) == [("2.3.1", None, None, "requirements.txt:10", True)]


def test_requirements_includes_are_relative_to_the_including_file(in_tmp: Path) -> None:
    write(in_tmp / "env" / "base.txt", "numpy\n-r gpu/torch.txt\n--requirement=../common.txt\n-c constraints.txt\n")
    write(in_tmp / "env" / "gpu" / "torch.txt", f"--extra-index-url {CU121}\ntorch==2.4.1\n")
    write(in_tmp / "common.txt", "-rmore.txt\n")
    write(in_tmp / "more.txt", "torch==2.4.1; sys_platform == 'linux'\n")
    write(in_tmp / "env" / "constraints.txt", "torch==2.4.1+cu121\n")
    targets = parse_requirements_file(os.path.join("env", "base.txt"))
    assert summary(targets) == [
        ("2.4.1", "cu121", CU121, os.path.join("env", "gpu", "torch.txt") + ":2", True),
        ("2.4.1", "cu121", CU121, os.path.join("env", "..", "more.txt") + ":1", True),
        ("2.4.1", "cu121", CU121, os.path.join("env", "constraints.txt") + ":1", True),
    ]


def test_requirements_file_included_twice_is_read_once(in_tmp: Path) -> None:
    write(in_tmp / "a.txt", "-r b.txt\n-r c.txt\n")
    write(in_tmp / "b.txt", "-r d.txt\n")
    write(in_tmp / "c.txt", "-r d.txt\n")
    write(in_tmp / "d.txt", "torch==2.1.0+cu118\n")
    assert summary(parse_requirements_file("a.txt")) == [("2.1.0", "cu118", None, "d.txt:1", True)]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"a.txt": "-r a.txt\n"}, "a.txt:1: '-r a.txt': include loop back to 'a.txt'"),
        (
            {"a.txt": "torch==2.1.0\n-r b.txt\n", "b.txt": "\n-r a.txt\n"},
            "b.txt:2: '-r a.txt': include loop back to 'a.txt'",
        ),
        ({"a.txt": "-r missing.txt\n"}, "a.txt:1: '-r missing.txt': cannot read: No such file or directory"),
        ({"a.txt": "-r sub\n", "sub/x.txt": ""}, "a.txt:1: '-r sub': is a directory, not a file"),
        (
            {"a.txt": "-r https://example.com/req.txt\n"},
            "a.txt:1: '-r https://example.com/req.txt': includes by URL are not fetched; download the file and pass it",
        ),
        ({"a.txt": "-r\n"}, "a.txt:1: -r needs a value"),
        ({"a.txt": "--index-url=\ntorch==2.1.0\n"}, "a.txt:1: --index-url needs a value"),
        (
            {"a.txt": "numpy\nthis is not a requirement!\n"},
            "a.txt:2: not a valid requirement: 'this is not a requirement!'",
        ),
        ({"a.txt": "torch=2.1.0\n"}, "a.txt:1: not a valid requirement: 'torch=2.1.0'"),
        (
            {"a.txt": "torch==2.1.0+foo\n"},
            "a.txt:1: +foo is not a PyTorch wheel variant (expected cuXYZ such as cu121, cpu, rocmX.Y or xpu)",
        ),
        (
            {"a.txt": "-r b.txt\n", "b.txt": b"\x00\x01\x02"},
            "a.txt:1: '-r b.txt': contains control characters, not a text file",
        ),
    ],
)
def test_requirements_bad_lines_and_includes(in_tmp: Path, files: dict[str, str | bytes], message: str) -> None:
    for name, text in files.items():
        write(in_tmp / name, text)
    assert usage_error(parse_requirements_file, "a.txt") == message


def include_chain(directory: Path, includes: int) -> str:
    """f0.txt includes f1.txt ... includes f{includes}.txt, which pins torch."""
    for i in range(includes):
        write(directory / f"f{i}.txt", f"-r f{i + 1}.txt\n")
    write(directory / f"f{includes}.txt", "torch==2.4.1+cu121\n")
    return "f0.txt"


def test_requirements_ten_nested_includes_are_read(in_tmp: Path) -> None:
    assert summary(parse_requirements_file(include_chain(in_tmp, 10))) == [("2.4.1", "cu121", None, "f10.txt:1", True)]


def test_requirements_eleven_nested_includes_are_refused(in_tmp: Path) -> None:
    assert usage_error(parse_requirements_file, include_chain(in_tmp, 11)) == (
        "f10.txt:1: '-r f11.txt': includes nested deeper than 10 files"
    )


# --- unusable files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not UTF-8 text (a binary file?)"),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00", "contains control characters, not a text file"),
        (b"torch==2.1.0\x00\n", "contains control characters, not a text file"),
        (b"torch==2.1.0\n\xff\xfe\xfa", "not UTF-8 text (a binary file?)"),
        ("torch==2.1.0\n".encode("utf-16"), "UTF-16 text (PowerShell's '>' writes it); save the file as UTF-8"),
        (b"# " + b"x" * (1024 * 1024) + b"\n", "larger than 1 MiB, not a requirements file"),
    ],
)
def test_unusable_files(in_tmp: Path, data: bytes, message: str) -> None:
    write(in_tmp / "requirements.txt", data)
    assert usage_error(parse_requirements_file, "requirements.txt") == f"--requirements 'requirements.txt': {message}"


def test_file_of_exactly_one_mib_is_read(in_tmp: Path) -> None:
    head = b"torch==2.1.0+cu118\n# "
    write(in_tmp / "requirements.txt", head + b"x" * (1024 * 1024 - len(head) - 1) + b"\n")
    assert len(parse_requirements_file("requirements.txt")) == 1


def test_missing_file(in_tmp: Path) -> None:
    assert usage_error(parse_requirements_file, "nope.txt") == (
        "--requirements 'nope.txt': cannot read: No such file or directory"
    )


def test_directory(in_tmp: Path) -> None:
    message = usage_error(parse_requirements_file, str(in_tmp))
    assert message == f"--requirements {str(in_tmp)!r}: is a directory, not a file"


def test_unreadable_file(in_tmp: Path) -> None:
    path = write(in_tmp / "requirements.txt", "torch==2.1.0\n")
    os.chmod(path, 0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as a user who reads any file (root)")
        assert usage_error(parse_requirements_file, "requirements.txt") == (
            "--requirements 'requirements.txt': cannot read: Permission denied"
        )
    finally:
        os.chmod(path, 0o644)


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


# --- pyproject.toml -----------------------------------------------------------------------------


def test_pyproject_project_dependencies(in_tmp: Path) -> None:
    write(
        in_tmp / "pyproject.toml",
        '[project]\nname = "app"\ndependencies = [\n  "numpy>=1.26",\n  "torch==2.1.0+cu118",\n]\n\n'
        "[project.optional-dependencies]\ncpu = ['torch==2.1.0+cpu ; sys_platform == \"darwin\"']\nother = ['rich']\n\n"
        '[dependency-groups]\ndev = [{include-group = "test"}, "torch>=2.1"]\ntest = ["pytest"]\n',
    )
    targets = parse_requirements_file("pyproject.toml")
    assert summary(targets) == [
        ("2.1.0", "cu118", None, "pyproject.toml:5", True),
        ("2.1.0", "cpu", None, "pyproject.toml:9", True),
        (None, None, None, "pyproject.toml:13", False),
    ]
    assert targets[1].marker == 'sys_platform == "darwin"'


def test_pyproject_without_torch(in_tmp: Path) -> None:
    write(
        in_tmp / "pyproject.toml", '[project]\nname = "app"\ndependencies = ["numpy"]\n[tool.ruff]\nline-length = 99\n'
    )
    assert parse_requirements_file("pyproject.toml") == []


def test_pyproject_recognised_by_content(in_tmp: Path) -> None:
    write(in_tmp / "deps.in", '# generated\n[project]\ndependencies = ["torch==2.6.0"]\n')
    assert summary(parse_requirements_file("deps.in")) == [("2.6.0", None, None, "deps.in:3", True)]


UV_INDEXES = """
[[tool.uv.index]]
name = "pytorch-cpu"
url = "https://download.pytorch.org/whl/cpu"
explicit = true

[[tool.uv.index]]
name = "pytorch-cu124"
url = "https://download.pytorch.org/whl/cu124"
explicit = true
"""


def test_pyproject_uv_source_names_the_index(in_tmp: Path) -> None:
    write(
        in_tmp / "pyproject.toml",
        '[project]\ndependencies = ["torch==2.5.1"]\n\n[tool.uv.sources]\ntorch = { index = "pytorch-cu124" }\n'
        + UV_INDEXES,
    )
    [target] = parse_requirements_file("pyproject.toml")
    assert (target.torch_version, target.variant, target.index_url, target.source) == (
        "2.5.1",
        "cu124",
        "https://download.pytorch.org/whl/cu124",
        "pyproject.toml:2",
    )
    assert "uv source: index 'pytorch-cu124'" in target.notes


def test_pyproject_uv_sources_per_platform(in_tmp: Path) -> None:
    write(
        in_tmp / "pyproject.toml",
        "[project]\ndependencies = [\"torch>=2.5 ; python_version >= '3.10'\"]\n\n[tool.uv.sources]\ntorch = [\n"
        '  { index = "pytorch-cpu", marker = "sys_platform != \'linux\'" },\n'
        '  { index = "pytorch-cu124", marker = "sys_platform == \'linux\'" },\n]\n' + UV_INDEXES,
    )
    targets = parse_requirements_file("pyproject.toml")
    assert [(t.variant, t.marker, t.pinned) for t in targets] == [
        ("cpu", "(python_version >= \"3.10\") and (sys_platform != 'linux')", False),
        ("cu124", "(python_version >= \"3.10\") and (sys_platform == 'linux')", False),
    ]


def test_pyproject_uv_sources_per_extra(in_tmp: Path) -> None:
    write(
        in_tmp / "pyproject.toml",
        '[project.optional-dependencies]\ncpu = ["torch==2.6.0"]\ncu124 = ["torch==2.6.0+cu124"]\n\n[tool.uv.sources]\n'
        'torch = [{ index = "pytorch-cpu", extra = "cpu" },\n'
        '         { index = "pytorch-cu124", extra = "cu124" }]\n' + UV_INDEXES,
    )
    targets = parse_requirements_file("pyproject.toml")
    # A source for one extra applies to that extra's torch line only.
    assert [(t.variant, t.marker, t.source) for t in targets] == [
        ("cpu", "extra == 'cpu'", "pyproject.toml:2"),
        ("cu124", "extra == 'cu124'", "pyproject.toml:3"),
    ]


@pytest.mark.parametrize(
    ("uv", "variant"),
    [
        ('[[tool.uv.index]]\nname = "pytorch"\nurl = "https://download.pytorch.org/whl/cu121"\n', "cu121"),
        (
            '[[tool.uv.index]]\nname = "pytorch"\nurl = "https://download.pytorch.org/whl/cu121"\nexplicit = true\n',
            None,
        ),
        (
            '[[tool.uv.index]]\nname = "mirror"\nurl = "https://mirror.example/simple"\n\n'
            '[[tool.uv.index]]\nname = "pt"\nurl = "https://download.pytorch.org/whl/cu118"\n',
            "cu118",
        ),
        ('[tool.uv]\nextra-index-url = ["https://download.pytorch.org/whl/cu118"]\n', "cu118"),
        ('[tool.uv]\nindex-url = "https://download.pytorch.org/whl/cpu"\n', "cpu"),
    ],
)
def test_pyproject_uv_indexes_without_sources(in_tmp: Path, uv: str, variant: str | None) -> None:
    write(in_tmp / "pyproject.toml", '[project]\ndependencies = ["torch==2.4.1"]\n\n' + uv)
    [target] = parse_requirements_file("pyproject.toml")
    assert target.variant == variant


POETRY_SOURCES = """
[[tool.poetry.source]]
name = "pytorch-cu118"
url = "https://download.pytorch.org/whl/cu118"
priority = "explicit"

[[tool.poetry.source]]
name = "pytorch-cpu"
url = "https://download.pytorch.org/whl/cpu"
priority = "supplemental"
"""


@pytest.mark.parametrize(
    ("dependency", "expected"),
    [
        ('torch = "2.1.0"', ("2.1.0", None, True, "==2.1.0")),
        ('torch = "==2.1.0+cpu"', ("2.1.0", "cpu", True, "==2.1.0+cpu")),
        ('torch = { version = "2.1.0", source = "pytorch-cu118" }', ("2.1.0", "cu118", True, "==2.1.0")),
        ('torch = { version = "2.1.0+cu118", source = "pytorch-cu118" }', ("2.1.0", "cu118", True, "==2.1.0+cu118")),
        ('torch = "^2.1"', (None, None, False, "^2.1")),
        ('torch = "~2.1.0"', (None, None, False, "~2.1.0")),
        ('torch = ">=2.1,<2.3"', (None, None, False, ">=2.1,<2.3")),
        ('torch = "*"', (None, None, False, "")),
        ('torch = { git = "https://github.com/pytorch/pytorch.git" }', (None, None, False, "")),
        (f'torch = {{ url = "{WHEEL_CU118}" }}', ("2.1.0", "cu118", True, f" @ {WHEEL_CU118}")),
    ],
)
def test_pyproject_poetry(in_tmp: Path, dependency: str, expected: tuple) -> None:
    write(
        in_tmp / "pyproject.toml",
        f'[tool.poetry]\nname = "app"\n\n[tool.poetry.dependencies]\npython = "^3.10"\n{dependency}\n' + POETRY_SOURCES,
    )
    [target] = parse_requirements_file("pyproject.toml")
    assert (target.torch_version, target.variant, target.pinned, target.specifier) == expected
    assert target.source == "pyproject.toml:6"


def test_pyproject_poetry_per_platform_and_groups(in_tmp: Path) -> None:
    write(
        in_tmp / "pyproject.toml",
        '[tool.poetry.dependencies]\npython = "^3.10"\n\n[tool.poetry.group.gpu.dependencies]\ntorch = [\n'
        '  { version = "2.1.0", source = "pytorch-cu118", markers = "sys_platform == \'linux\'" },\n'
        '  { version = "2.1.0", platform = "darwin" },\n]\n' + POETRY_SOURCES,
    )
    targets = parse_requirements_file("pyproject.toml")
    assert [(t.variant, t.marker, t.source) for t in targets] == [
        ("cu118", "sys_platform == 'linux'", "pyproject.toml:5"),
        (None, "sys_platform == 'darwin'", "pyproject.toml:5"),
    ]


def test_pyproject_poetry_primary_source_applies_without_naming_it(in_tmp: Path) -> None:
    write(
        in_tmp / "pyproject.toml",
        '[tool.poetry.dependencies]\ntorch = "2.1.0"\n\n[[tool.poetry.source]]\nname = "pt"\n'
        'url = "https://download.pytorch.org/whl/cu121"\npriority = "primary"\n',
    )
    [target] = parse_requirements_file("pyproject.toml")
    assert (target.variant, target.index_url) == ("cu121", "https://download.pytorch.org/whl/cu121")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[project\n", "not valid TOML: Expected ']' at the end of a table declaration (at line 1, column 9)"),
        ("a = [" * 5000, "not valid TOML: Invalid value (at line 1, column 6)"),
        ("a = " + "[" * 5000 + "]" * 5000, "not valid TOML: nested too deeply"),
        ('[project]\ndependencies = "torch"\n', "[project.dependencies] must be a list of requirement strings"),
        ("[project]\ndependencies = [1]\n", "[project.dependencies] must be a list of requirement strings"),
        (
            '[project]\ndependencies = ["torch==2.x"]\n',
            "[project.dependencies] has an invalid requirement 'torch==2.x'",
        ),
        ('[project]\ndependencies = ["torch==2.1.0+foo"]\n', "+foo is not a PyTorch wheel variant"),
        (
            '[project]\ndependencies = ["torch"]\n[tool.uv.sources]\ntorch = { index = "nope" }\n',
            "[tool.uv.sources] torch names index 'nope', which no [[tool.uv.index]] defines",
        ),
        (
            '[tool.poetry.dependencies]\ntorch = { version = "2.1.0", source = "nope" }\n',
            "[tool.poetry.dependencies] torch: source 'nope' is not a [[tool.poetry.source]]",
        ),
        (
            "[tool.poetry.dependencies]\ntorch = 2\n",
            "[tool.poetry.dependencies] torch: must be a version string or a table",
        ),
        ('[tool.poetry.dependencies]\ntorch = "2.x"\n', "'2.x' is not a version"),
    ],
)
def test_pyproject_errors(in_tmp: Path, text: str, message: str) -> None:
    write(in_tmp / "pyproject.toml", text)
    got = usage_error(parse_requirements_file, "pyproject.toml")
    assert got.startswith("--requirements 'pyproject.toml': ") or got.startswith("pyproject.toml")
    assert message in got


# --- value objects and the container ------------------------------------------------------------


def test_targets_are_frozen() -> None:
    target = parse_torch_spec("2.1.0+cu118")
    with pytest.raises(dataclasses.FrozenInstanceError):
        target.variant = "cu121"  # type: ignore[misc]
    assert target == parse_torch_spec("2.1.0+cu118")
    assert hash(target) == hash(parse_torch_spec("2.1.0+cu118"))


@pytest.mark.parametrize(
    ("target", "text"),
    [
        (parse_torch_spec("2.1.0+cu118"), "torch 2.1.0+cu118 (CUDA 11.8 runtime) from --torch 2.1.0+cu118"),
        (parse_torch_spec("2.6.0"), "torch 2.6.0 (default PyPI wheel) from --torch 2.6.0"),
        (parse_torch_spec("2.3.0+cpu"), "torch 2.3.0+cpu from --torch 2.3.0+cpu"),
        (parse_cuda_spec("cu124"), "CUDA runtime 12.4 from --cuda cu124"),
        (TorchTarget(None, None, None, "r.txt:1", pinned=False), "torch (not pinned to one release) from r.txt:1"),
    ],
)
def test_describe(target, text: str) -> None:
    assert target.describe() == text


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
