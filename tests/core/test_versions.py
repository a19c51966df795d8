"""Dotted versions compare as NVIDIA compares them."""

from __future__ import annotations

import pytest

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.versions import (
    Version,
    VersionError,
    driver_branch,
    parse_cuda_int,
    variant_cuda,
    variant_for_cuda,
)


@pytest.mark.parametrize(
    ("a", "op", "b"),
    [
        ("470.256.02", "<", "471"),
        ("12.4", "==", "12.4.0"),
        ("455.06", "==", "455.6"),
        ("550.54.15", ">", "550.54.14"),
        ("525.60.13", "<", "525.85.12"),
        ("9.0", "<", "10.0"),
        ("12.10", ">", "12.9"),
    ],
)
def test_ordering(a, op, b):
    left, right = Version.parse(a), Version.parse(b)
    assert {"<": left < right, "==": left == right, ">": left > right}[op]


def test_text_is_kept_for_display():
    assert str(Version.parse(" 455.06 ")) == "455.06"
    assert hash(Version.parse("12.4")) == hash(Version.parse("12.4.0"))


@pytest.mark.parametrize("bad", ["", "abc", "12.", ".4", "1..2", "12.4a", "1" * 50, "-1"])
def test_rejects(bad):
    with pytest.raises(VersionError):
        Version.parse(bad)
    assert Version.parse_or_none(bad) is None


@pytest.mark.parametrize(("value", "text"), [(12040, "12.4"), (11040, "11.4"), (13000, "13.0"), (10010, "10.1")])
def test_cuda_int(value, text):
    assert str(parse_cuda_int(value)) == text


def test_truncate():
    assert str(Version.parse("12.4.1").truncate(2)) == "12.4"
    assert str(Version.parse("13").truncate(2)) == "13.0"


@pytest.mark.parametrize(
    ("driver", "platform", "known", "branch"),
    [
        ("550.54.15", None, (), 550),  # a Linux driver is numbered by its branch
        ("616.00", "linux", (550, 615), 616),  # a developer branch no table lists
        # facts §1b: Windows numbers run ahead of the branch (551.78 is R550, 536.25 R535)
        ("551.78", "windows", (535, 550, 555), 550),
        ("536.25", "windows", (530, 535, 545), 535),
        ("550.12", "windows", (545, 550), 550),
        ("340.52", "windows", (367, 375), None),  # below every known branch: cannot tell
        ("551.78", "windows", (), None),  # no table: a Windows number names no branch
    ],
)
def test_driver_branch(driver, platform, known, branch):
    assert driver_branch(Version.parse(driver), platform, known) == branch


def test_wheel_variant_and_its_cuda_are_inverses():
    for variant in ("cu118", "cu121", "cu92", "cu130"):
        cuda = variant_cuda(variant)
        assert cuda is not None and variant_for_cuda(cuda) == variant


# --- wheel variants ---


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
    with pytest.raises(UsageError, match="^wheel variant"):
        variant_cuda(variant)
