"""driver_branches.toml: each driver branch (R550) and the highest CUDA its drivers report."""

from __future__ import annotations

from dataclasses import replace

from gpu_preflight.core.versions import Version, driver_branch
from gpu_preflight.knowledge.files import DataFiles
from gpu_preflight.knowledge.model import DriverBranch
from gpu_preflight.knowledge.provenance import Provenance

DRIVER_BRANCHES_FILE = "driver_branches.toml"


def read_driver_branches(files: DataFiles) -> tuple[DriverBranch, ...]:
    """Every ``[[branch]]`` row, oldest first."""
    result = []
    for row in files.rows(DRIVER_BRANCHES_FILE, "branch"):
        result.append(
            DriverBranch(
                branch=row.integer("branch"),
                max_cuda=row.version("max_cuda", None),
                lifecycle=row.text("lifecycle", ""),
                provenance=row.provenance(),
            )
        )
        row.finish()
    return tuple(sorted(result, key=lambda b: b.branch))


def branch_of(branches: tuple[DriverBranch, ...], driver: Version, platform: str) -> int | None:
    """The branch of a driver on ``platform`` (core.versions.driver_branch, with the known branches
    that place a Windows number: 551.78 is R550). None: a Windows driver below every known branch."""
    return driver_branch(driver, platform, (b.branch for b in branches))


def find_driver_branch(branches: tuple[DriverBranch, ...], driver: Version, platform: str) -> DriverBranch | None:
    """The branch of a driver and the highest CUDA it reports.

    A branch missing from the table (a developer branch such as 616) gets the max CUDA of the
    nearest lower known branch, flagged ``lower_bound``: drivers are backward compatible, so a
    later branch supports at least every CUDA an earlier one does. The same applies to a listed
    branch whose max CUDA is unconfirmed (R620). Below the oldest known branch nothing safe can be
    said: None.
    """
    branch = branch_of(branches, driver, platform)
    if branch is None:
        return None
    row = next((b for b in branches if b.branch == branch), None)
    if row is not None and row.max_cuda is not None:
        return row
    lower = next((b for b in reversed(branches) if b.branch < branch and b.max_cuda), None)
    if lower is None:
        return row
    if row is not None:
        note = f"{row.provenance.note} At least CUDA {lower.max_cuda}, as R{lower.branch} reports.".strip()
        return replace(row, max_cuda=lower.max_cuda, lower_bound=True, provenance=replace(row.provenance, note=note))
    return DriverBranch(
        branch=branch,
        max_cuda=lower.max_cuda,
        lifecycle="",
        provenance=Provenance(
            "derived",
            lower.provenance.sources,
            f"R{branch} is not in the table; the nearest lower branch R{lower.branch} "
            f"reports CUDA {lower.max_cuda}, so R{branch} supports at least that",
        ),
        known=False,
        lower_bound=True,
    )
