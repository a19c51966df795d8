"""host_compilers.toml: the GCC/Clang range each nvcc accepts, held to what the sources show.

The bounds asserted here are nvcc's own crt/host_config.h checks where one was read (13.0 on
this machine, 12.6 vendored on GitHub, 12.8 quoted in pytorch #173366, 13.3 in a build log), and
torch.utils.cpp_extension's CUDA_GCC_VERSIONS where that is the source.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gpu_preflight.core.versions import Version
from gpu_preflight.knowledge import KnowledgeBase
from gpu_preflight.knowledge.host_compilers import first_release_accepting

HOST_CONFIG = Path("/usr/local/cuda/include/crt/host_config.h")


@pytest.mark.parametrize(
    "cuda, gcc_max, clang_max",
    [
        ("11.0", 9, 9),
        ("11.4", 10, 11),  # 11.4.0 (nvcc V11.4.48): torch's special case, gcc < 11
        ("11.4.1", 11, 12),  # the 11.4.2 release notes: GCC 11 and Clang 12 from 11.4.1
        ("11.8.0", 11, 14),  # a build log: "gcc versions later than 11 are not supported!"
        ("12.4.1", 13, 16),
        ("12.6.3", 13, 17),  # host_config.h: __GNUC__ > 13; clang 18 passes nvcc but not torch's check
        ("12.8.1", 14, 18),  # pytorch #173366 quotes 12.8's '#if __GNUC__ > 14'
        ("12.9", 14, 18),
        ("13.0.2", 15, 20),  # host_config.h of 13.0 read on this machine
        ("13.2", 15, 21),
        ("13.3.1", 15, None),  # a 13.3 build log: "later than 15"; its Clang bound is not sourced
    ],
)
def test_bounds_per_release(kb: KnowledgeBase, cuda: str, gcc_max: int, clang_max: int | None) -> None:
    rule = kb.host_compilers(cuda)
    assert rule is not None and rule.covered
    assert (rule.range.gcc_max, rule.range.clang_max) == (gcc_max, clang_max)


def test_before_cuda_11_nothing_is_claimed(kb: KnowledgeBase) -> None:
    assert kb.host_compilers("10.2") is None


@pytest.mark.parametrize("cuda", ["12.7", "13.4.1"])
def test_releases_no_row_covers_are_judged_by_the_nearest_older_row_unconfirmed(kb: KnowledgeBase, cuda: str) -> None:
    rule = kb.host_compilers(cuda)
    assert rule is not None and not rule.covered and rule.status == "unconfirmed"


def test_the_rows_never_loosen_the_gcc_bound_and_cite_their_sources(kb: KnowledgeBase) -> None:
    ranges = kb.host_compiler_ranges
    assert [str(r.first) for r in ranges][0] == "11.0"
    highs = [r.gcc_max for r in ranges]
    assert highs == sorted(highs)  # no release accepted an older newest GCC than its predecessor
    for row in ranges:
        assert row.provenance.sources and row.provenance.status in ("observed", "third-party")
        assert bool(row.provenance.conflict) == bool(row.provenance.chosen)


def test_the_first_release_accepting_a_compiler(kb: KnowledgeBase) -> None:
    ranges = kb.host_compiler_ranges
    assert str(first_release_accepting(ranges, "gcc", 14).first) == "12.8"  # type: ignore[union-attr]
    assert str(first_release_accepting(ranges, "gcc", 13).first) == "12.4"  # type: ignore[union-attr]
    assert first_release_accepting(ranges, "gcc", 16) is None  # no release known to take GCC 16 yet


@pytest.mark.skipif(not HOST_CONFIG.is_file(), reason=f"no CUDA toolkit here ({HOST_CONFIG} is absent)")
def test_the_installed_toolkits_host_config_agrees_with_its_row(kb: KnowledgeBase) -> None:
    """The toolkit on this machine: its crt/host_config.h GCC bound is the table's."""
    text = HOST_CONFIG.read_text(encoding="utf-8", errors="replace")
    bound = re.search(r"gcc versions later than (\d+) are not supported", text)
    nvcc_release = re.search(r"cuda-(\d+\.\d+)", str(HOST_CONFIG.resolve()))
    assert bound and nvcc_release, "host_config.h or the toolkit's version not readable"
    rule = kb.host_compilers(Version.parse(nvcc_release.group(1)))
    assert rule is not None and rule.range.gcc_max == int(bound.group(1)), HOST_CONFIG.resolve()
