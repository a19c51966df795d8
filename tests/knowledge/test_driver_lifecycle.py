"""Which driver branch to recommend: the oldest production or long-term branch NVIDIA still
maintains that reaches the floor (driver_branches.toml's lifecycle column), on fixed dates."""

from __future__ import annotations

from datetime import date

import pytest

from gpu_preflight.knowledge import load_knowledge
from gpu_preflight.knowledge.driver_lifecycle import lifecycle, recommended_branch

TODAY = date(2026, 12, 6)


@pytest.fixture(scope="module")
def branches():
    return load_knowledge().driver_branches


def _row(branches, number):
    return next(b for b in branches if b.branch == number)


def test_lifecycle_reads_kind_and_the_last_day_of_the_end_month(branches) -> None:
    r535 = lifecycle(_row(branches, 535))
    assert (r535.kind, r535.end_of_life) == ("LTSB", date(2026, 6, 30))
    assert r535.ended(TODAY) and not r535.ended(date(2026, 6, 30))
    assert lifecycle(_row(branches, 610)).kind == "NFB"
    assert lifecycle(_row(branches, 580)).words == "long-term support, supported until Jun 2028"


@pytest.mark.parametrize(
    ("floor", "today", "expected"),
    [
        # The issue's case: CUDA 11.8's floor is on R520, a feature branch long out of support.
        (520, TODAY, 580),
        (550, TODAY, 580),
        # R535 was the answer while it was maintained (end of life June 2026), not after.
        (535, date(2026, 5, 1), 535),
        (535, TODAY, 580),
        (590, TODAY, 595),  # R590 has no lifecycle row; R595 is a production branch until Mar 2027
        (596, TODAY, 620),  # R610 is a new feature branch: never recommended
        (621, TODAY, None),  # nothing maintained reaches it: say so rather than invent one
    ],
)
def test_recommended_branch(branches, floor: int, today: date, expected: int | None) -> None:
    chosen = recommended_branch(branches, floor, today)
    assert (chosen.branch if chosen else None) == expected
