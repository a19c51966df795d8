"""targets/pip.py: requirements files as pip reads them (lines, options, includes, ${VAR}),
and the variant their index options give a torch pin (targets/index.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gpu_preflight.targets.specs import parse_requirements_file

from support.targets import CU118, CU121, WHEEL_CU118, summary, usage_error, write


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
        # BOM, CRLF, a non-ASCII comment, no final newline
        b"\xef\xbb\xbfnumpy\r\n# \xc3\xa9t\xc3\xa9\r\ntorch==2.1.0+cu118",
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
