"""Dotted versions compare as NVIDIA compares them."""

from __future__ import annotations

import pytest

from gpu_preflight.core.versions import Version, VersionError, parse_cuda_int


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
