"""Compute capabilities, architectures, toolkit support, and the binary-compatibility rules."""

from __future__ import annotations

import re

import pytest

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.versions import Version
from gpu_preflight.knowledge import ArchList, ArchListError, KnowledgeBase

from support.knowledge import load_facts, params

V = Version.parse


def compiled(archs: ArchList, kind: str) -> tuple[Version, ...]:
    """The compute capabilities an architecture list has ``kind`` ("sass" or "ptx") code for."""
    return tuple(t.cc for t in archs.targets if t.kind == kind)


FACTS = load_facts()


# --- parsing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec, sass, ptx",
    [
        ("5.0;6.0;7.0;7.5;8.0;8.6;9.0+PTX", "5.0 6.0 7.0 7.5 8.0 8.6 9.0", "9.0"),
        ("sm_50,sm_86,compute_90", "5.0 8.6", "9.0"),
        (
            ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90", "compute_90"],
            "5.0 6.0 7.0 7.5 8.0 8.6 9.0",
            "9.0",
        ),
        ("sm_50,60,70,75,80,86,90", "5.0 6.0 7.0 7.5 8.0 8.6 9.0", ""),  # cuobjdump tables
        ("75,80,86,90,100,120", "7.5 8.0 8.6 9.0 10.0 12.0", ""),
        ("7.5 8.0 10.0 12.0+PTX", "7.5 8.0 10.0 12.0", "12.0"),
        ("sm_90a;sm_100a", "9.0 10.0", ""),
        ("", "", ""),
    ],
)
def test_parse(spec, sass: str, ptx: str) -> None:
    parsed = ArchList.parse(spec)
    assert compiled(parsed, "sass") == tuple(V(v) for v in sass.split())
    assert compiled(parsed, "ptx") == tuple(V(v) for v in ptx.split())


def test_str_round_trip() -> None:
    parsed = ArchList.parse("8.0;8.6;9.0a;9.0+PTX")
    assert str(parsed) == "sm_80,sm_86,sm_90a,sm_90,compute_90"
    assert ArchList.parse(str(parsed)) == parsed


@pytest.mark.parametrize("bad", ["8.6+SASS", "sm_", "Ampere", "8", "compute90", "sm_86x"])
def test_parse_refuses_garbage(bad: str) -> None:
    with pytest.raises(ArchListError) as info:
        ArchList.parse(bad)
    assert isinstance(info.value, UsageError)


# --- binary compatibility ----------------------------------------------------------------


@pytest.mark.parametrize(
    "archs, cc, kind, via",
    [
        ("sm_86", "8.9", "sass", "sm_86"),  # same major, higher minor: runs
        ("sm_86", "8.6", "sass", "sm_86"),
        ("sm_80,sm_86", "8.9", "sass", "sm_86"),  # the closest lower minor is picked
        ("sm_86", "8.0", None, None),  # lower minor than the cubin: no
        ("sm_90", "10.0", None, None),  # another major: SASS never crosses
        ("sm_100", "10.3", "sass", "sm_100"),  # B300 runs sm_100 cubins
        ("sm_120", "10.3", None, None),
        ("sm_90a", "9.0", "sass", "sm_90a"),  # arch-specific: exactly 9.0
        ("sm_90a", "10.0", None, None),
        ("sm_100f", "10.3", None, None),  # family reach unconfirmed: treated as exact
        ("compute_90", "12.0", "ptx", "compute_90"),  # PTX JITs forward
        ("compute_90", "9.0", "ptx", "compute_90"),
        ("compute_90", "8.9", None, None),  # but never backward
        ("sm_90,compute_90", "9.0", "sass", "sm_90"),  # SASS preferred over JIT
        ("5.0;6.0;7.0;7.5;8.0;8.6;9.0", "12.0", None, None),
        ("7.5;8.0;8.6;9.0;10.0;12.0+PTX", "12.1", "sass", "sm_120"),
        ("3.7;5.0;6.0;7.0;7.5;8.0;8.6", "3.5", None, None),
    ],
)
def test_covers(archs: str, cc: str, kind: str | None, via: str | None) -> None:
    coverage = ArchList.parse(archs).covers(V(cc))
    assert (coverage.kind, coverage.via) == (kind, via)
    assert bool(coverage) is (kind is not None)
    if kind == "ptx":
        assert "driver" in coverage.note  # JIT needs a new enough driver: say so
    if kind is None:
        assert coverage.note


# --- architectures and toolkit support ---------------------------------------------------


@pytest.mark.parametrize(
    "cc, name, first_cuda, last_cuda, removed_in, first_branch, last_branch, dropped_in",
    [
        ("3.0", "Kepler", "6.0", "10.2", "11.0", None, 470, 495),
        ("3.7", "Kepler", "6.0", "11.8", "12.0", None, 470, 495),
        ("5.2", "Maxwell", "6.5", "12.9", "13.0", None, 580, 590),
        ("6.1", "Pascal", "8.0", "12.9", "13.0", 367, 580, 590),
        ("7.0", "Volta", "9.0", "12.9", "13.0", 384, 580, 590),
        ("7.5", "Turing", "10.0", None, None, 410, None, None),
        ("8.0", "Ampere", "11.0", None, None, 450, None, None),
        ("8.6", "Ampere", "11.1", None, None, 455, None, None),
        ("8.9", "Ada Lovelace", "11.8", None, None, 520, None, None),
        ("9.0", "Hopper", "11.8", None, None, 520, None, None),
        ("10.0", "Blackwell", "12.8", None, None, 570, None, None),
        ("12.0", "Blackwell", "12.8", None, None, 570, None, None),
        ("10.3", "Blackwell", "12.9", None, None, 575, None, None),
        ("11.0", "Blackwell", "13.0", None, None, None, None, None),
        ("10.7", "Rubin", "13.4", None, None, 615, None, None),
    ],
)
def test_architecture_of_cc(
    kb, cc, name, first_cuda, last_cuda, removed_in, first_branch, last_branch, dropped_in
) -> None:
    arch = kb.architecture_of_cc(V(cc))
    assert arch.name == name
    assert arch.first_cuda == V(first_cuda)
    assert arch.last_cuda == (V(last_cuda) if last_cuda else None)
    assert arch.removed_in_cuda == (V(removed_in) if removed_in else None)
    assert (arch.first_driver_branch, arch.last_driver_branch, arch.dropped_in_branch) == (
        first_branch,
        last_branch,
        dropped_in,
    )
    assert arch.provenance.sources


def test_unknown_cc(kb: KnowledgeBase) -> None:
    assert kb.architecture_of_cc(V("9.1")) is None
    assert kb.cuda_supports_cc(V("13.0"), V("9.1")) is False


def test_recorded_conflicts_say_which_side_was_taken(kb: KnowledgeBase) -> None:
    ampere = kb.architecture_of_cc(V("8.6"))
    assert ampere.first_cuda == V("11.1") and "11.0" in ampere.provenance.conflict
    # NVIDIA's H100 brief (R520) over a third-party note (R525): a hard failure rests on NVIDIA's word
    hopper = kb.architecture_of_cc(V("9.0"))
    assert hopper.first_driver_branch == 520 and "R525" in hopper.provenance.conflict and hopper.provenance.chosen


@pytest.mark.parametrize(
    "cuda, cc, supported",
    [
        ("13.0", "7.0", False),  # CUDA 13 dropped CC < 7.5
        ("13.0", "5.0", False),
        ("12.9", "7.0", True),
        ("12.9.1", "6.1", True),
        ("13.0", "7.5", True),
        ("11.8", "9.0", True),
        ("11.7", "8.9", False),
        ("11.0", "8.6", False),  # conflict: sm_86 arrived in 11.1 (conservative)
        ("11.1", "8.6", True),
        ("10.2", "3.0", True),
        ("11.0", "3.0", False),
        ("11.8", "3.7", True),
        ("12.0", "3.7", False),
        ("12.8", "10.3", False),
        ("12.9", "10.3", True),
        ("12.8", "10.1", True),
        ("13.0", "10.1", False),  # renamed sm_110
        ("13.0", "11.0", True),
        ("12.9", "11.0", False),
        ("13.4", "10.7", True),
        ("9.0", "7.0", True),
        ("8.0", "7.0", False),
    ],
)
def test_cuda_supports_cc(kb, cuda: str, cc: str, supported: bool) -> None:
    assert kb.cuda_supports_cc(V(cuda), V(cc)) is supported


def _reference_lines(text: str, kb: KnowledgeBase) -> list[Version]:
    """'10.0–10.2' / '11.0' / '13.4+' -> the toolkit lines in that range."""
    bounds = re.findall(r"\d+\.\d+", text)
    low = V(bounds[0])
    high = V(bounds[-1]) if not text.endswith("+") else None
    lines = sorted({r.version.truncate(2) for r in kb.toolkit_releases})
    return [line for line in lines if low <= line and (high is None or line <= high)]


@pytest.mark.parametrize(
    "row",
    params(FACTS.get("cuda_arch_support", {}).get("by_cuda_version", []), ids=lambda r: r["cuda"]),
)
def test_cc_window_per_toolkit_matches_the_reference(kb: KnowledgeBase, row: dict) -> None:
    """The per-architecture rows and the per-toolkit min/max table tell the same story."""
    all_ccs = [cc for arch in kb.architectures if not arch.preview for cc in arch.ccs]
    for line in _reference_lines(row["cuda"], kb):
        supported = [cc for cc in all_ccs if kb.cuda_supports_cc(line, cc)]
        assert min(supported) == V(row["min_cc"]), line
        assert max(supported) == V(re.match(r"[\d.]+", row["max_cc"]).group(0)), line
