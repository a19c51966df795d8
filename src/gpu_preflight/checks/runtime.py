"""Can this driver run code built with this CUDA runtime? The one rule every layer shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gpu_preflight.core.versions import Version

if TYPE_CHECKING:
    from gpu_preflight.knowledge import KnowledgeBase


@dataclass(frozen=True)
class RuntimeVerdict:
    cuda: Version
    driver: Version
    status: str  # native | minor-compat | too-old | unknown
    native: Version | None = None  # driver that supports this CUDA natively
    minor_compat: Version | None = None  # floor of the major's minor-version compatibility
    exact: bool = True  # False when the knowledge base only knows the branch
    branch: int | None = None  # the branch of ``native`` (a Windows number is not one: 551.78 is R550)
    platform: str = "linux"
    family_floor: bool = False  # no native floor known (newer than the table): judged by the major's floor

    @property
    def runs(self) -> bool:
        return self.status in ("native", "minor-compat")

    @property
    def needed(self) -> Version | None:
        """The driver to advise: the native floor, or the family's floor when only that is known."""
        return self.minor_compat if self.family_floor else self.native


def judge_runtime(kb: KnowledgeBase, cuda: Version, driver: Version, platform: str = "linux") -> RuntimeVerdict:
    """``cuda`` as precise as known: ``12.4.0`` finds its own Table 3 row, ``12.4`` the line's
    highest floor (its update is unknown)."""
    requirement = kb.driver_requirement(cuda, platform=platform)
    native = requirement.native
    if native is None:
        floor = requirement.minor_compat
        if floor is None:
            return RuntimeVerdict(cuda, driver, "unknown", platform=platform)
        # A release newer than the driver table (13.5): any X.y runs on the major's floor through
        # minor-version compatibility, so that floor still decides "runs" and "too old".
        return RuntimeVerdict(
            cuda,
            driver,
            "minor-compat" if _at_least(driver, floor) else "too-old",
            minor_compat=floor,
            exact=requirement.minor_compat_exact,
            branch=floor.major,
            platform=platform,
            family_floor=True,
        )
    release = requirement.release
    branch = release.branch if release and release.branch else kb.branch_of(native, platform)
    if _at_least(driver, native):
        status = "native"
    elif requirement.minor_compat is not None and _at_least(driver, requirement.minor_compat):
        status = "minor-compat"
    else:
        status = "too-old"
    return RuntimeVerdict(
        cuda,
        driver,
        status,
        native=native,
        minor_compat=requirement.minor_compat,
        exact=requirement.exact,
        branch=branch,
        platform=platform,
    )


def _at_least(driver: Version, floor: Version) -> bool:
    """A bare branch floor (``615``) is met by any driver of that branch (615.x)."""
    if len(floor.parts) == 1:
        return driver.major >= floor.major
    return driver >= floor
