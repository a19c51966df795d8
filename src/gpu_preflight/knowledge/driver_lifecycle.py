"""Driver branch lifecycles: which branches NVIDIA still maintains, and which one to recommend.

``lifecycle`` in driver_branches.toml reads ``"LTSB (EOL Jun 2028)"``: the branch kind (LTSB:
long-term support, PB: production, NFB: new feature branch) and the month support ends. A row
without an end date says nothing about being maintained; only an end date in the past makes a
branch dead.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from gpu_preflight.knowledge.model import DriverBranch

KIND_WORDS = {"LTSB": "long-term support", "PB": "production", "NFB": "new feature branch"}
RECOMMENDABLE = frozenset({"LTSB", "PB"})  # NFBs are short-lived: never the branch to move to
_LIFECYCLE = re.compile(r"^(?P<kind>[A-Z]+)\b(?:\s*\(EOL (?P<month>[A-Z][a-z]{2}) (?P<year>\d{4})\))?")
_MONTHS = {name: number for number, name in enumerate(calendar.month_abbr) if name}


@dataclass(frozen=True)
class Lifecycle:
    kind: str | None  # LTSB | PB | NFB, None when the row does not say
    end_of_life: date | None  # the last day of the month support ends

    @property
    def words(self) -> str:
        kind = KIND_WORDS.get(self.kind or "", "")
        end = f", supported until {self.end_of_life:%b %Y}" if self.end_of_life else ""
        return f"{kind}{end}".strip(", ")

    def ended(self, today: date) -> bool:
        return self.end_of_life is not None and self.end_of_life < today


def lifecycle(branch: DriverBranch) -> Lifecycle:
    match = _LIFECYCLE.match(branch.lifecycle)
    if not match:
        return Lifecycle(None, None)
    kind = match["kind"] if match["kind"] in KIND_WORDS else None
    month = _MONTHS.get(match["month"] or "")
    if month is None:
        return Lifecycle(kind, None)
    year = int(match["year"])
    return Lifecycle(kind, date(year, month, calendar.monthrange(year, month)[1]))


def recommended_branch(branches: Iterable[DriverBranch], at_least: int, today: date) -> DriverBranch | None:
    """The oldest branch >= ``at_least`` that is a production or long-term branch still
    maintained on ``today`` (its end of life known and ahead); None when the table knows none."""
    for branch in sorted(branches, key=lambda b: b.branch):
        life = lifecycle(branch)
        if branch.branch >= at_least and life.kind in RECOMMENDABLE and life.end_of_life and not life.ended(today):
            return branch
    return None
