"""Can this driver run code built with this CUDA runtime? The one rule every layer shares."""

from __future__ import annotations

from dataclasses import dataclass

from gpu_preflight.core.versions import Version


@dataclass(frozen=True)
class RuntimeVerdict:
    cuda: Version
    driver: Version
    status: str  # native | minor-compat | too-old | unknown
    native: Version | None = None  # driver that supports this CUDA natively
    minor_compat: Version | None = None  # floor of the major's minor-version compatibility
    exact: bool = True  # False when the knowledge base only knows the branch
    branch: int | None = None  # the branch of ``native`` (Windows numbers differ: 551.78 is R550)
    platform: str = "linux"

    @property
    def runs(self) -> bool:
        return self.status in ("native", "minor-compat")


def judge_runtime(kb, cuda: Version, driver: Version, platform: str = "linux") -> RuntimeVerdict:
    """``cuda`` as precise as known: ``12.4.0`` finds its own Table 3 row, ``12.4`` the line's
    highest floor (its update is unknown)."""
    requirement = kb.driver_requirement(cuda, platform=platform)
    if requirement is None or requirement.native is None:
        return RuntimeVerdict(cuda, driver, "unknown", platform=platform)
    branch = (
        requirement.release.branch if requirement.release and requirement.release.branch else requirement.native.major
    )
    common = dict(
        native=requirement.native,
        minor_compat=requirement.minor_compat,
        exact=requirement.exact,
        branch=branch,
        platform=platform,
    )
    if _at_least(driver, requirement.native):
        return RuntimeVerdict(cuda, driver, "native", **common)
    if requirement.minor_compat is not None and _at_least(driver, requirement.minor_compat):
        return RuntimeVerdict(cuda, driver, "minor-compat", **common)
    return RuntimeVerdict(cuda, driver, "too-old", **common)


def _at_least(driver: Version, floor: Version) -> bool:
    """A bare branch floor (``615``) is met by any driver of that branch (615.x)."""
    if len(floor.parts) == 1:
        return driver.major >= floor.major
    return driver >= floor
