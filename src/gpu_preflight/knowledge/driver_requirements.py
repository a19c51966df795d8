"""The driver a CUDA runtime needs: its toolkit's Table 3 floor, and its major's minor-version
compatibility floor, joined into one ``DriverRequirement``."""

from __future__ import annotations

from gpu_preflight.core.versions import Version
from gpu_preflight.knowledge.minor_compat import driver_platform, find_minor_compat_floor
from gpu_preflight.knowledge.model import DriverRequirement, MinorCompatFloor, ToolkitRelease
from gpu_preflight.knowledge.provenance import Provenance
from gpu_preflight.knowledge.toolkit import find_toolkit_release


def driver_requirement(
    releases: tuple[ToolkitRelease, ...],
    floors: tuple[MinorCompatFloor, ...],
    cuda: Version,
    platform: str,
) -> DriverRequirement:
    """The driver ``cuda`` needs on ``platform``, natively and through minor-version compatibility.

    For a runtime whose update is unknown (``12.4``, as torch reports it) or a release without
    its own Table 3 row (12.3.2, 12.4.127), the native floor is the *highest* among the line's
    rows (12.4 -> 550.54.15, Update 1): a 12.4.x build may need any of them, so the highest is
    the conservative answer. Preview rows (13.4.0) are left out of that, as GA supersedes them,
    and so are unconfirmed rows where confirmed ones exist; an exact version still finds its own
    row.
    """
    platform = driver_platform(platform)
    line = cuda.truncate(2)
    # A full version finds its own row (or its line's "family" row, e.g. 10.1.243).
    exact_row = find_toolkit_release(releases, cuda) if len(cuda.parts) > 2 else None
    if exact_row is not None:
        candidates = [exact_row]
    else:
        candidates = [r for r in releases if r.version.truncate(2) == line and r.kind != "preview"]
    with_floor = [(minimum, r) for r in candidates if (minimum := r.min_driver(platform)) is not None]
    # An unconfirmed row (13.0.3's third-party 580.126.20) must not become the line's floor
    # while confirmed rows exist: we state what a source supports, not a guess.
    confirmed = [(minimum, r) for minimum, r in with_floor if r.provenance.status != "unconfirmed"]
    with_floor = confirmed or with_floor
    native, release = max(with_floor, key=lambda pair: pair[0], default=(None, None))

    notes: list[str] = []
    sources: list[str] = []
    if release is not None:
        status = release.provenance.status
        sources += release.provenance.sources
        if status == "unconfirmed":
            why = release.provenance.note or "third-party"
            notes.append(f"{release.label}: floor not confirmed by NVIDIA's table ({why})")
        if exact_row is None and len(with_floor) > 1:
            notes.append(
                f"highest floor among the CUDA {line} rows ({release.label}): the update of this runtime is unknown"
            )
        if exact_row is None and len(cuda.parts) > 2:
            status = "unconfirmed"
            notes.append(f"CUDA {cuda} has no row of its own in Table 3")
    else:
        status = "unconfirmed"
        sources += [s for r in candidates for s in r.provenance.sources]
        notes.append(
            f"no {platform} driver floor published for CUDA {cuda}"
            if candidates
            else f"CUDA {cuda} is not a known toolkit release"
        )

    floor = find_minor_compat_floor(floors, cuda.major, platform)
    if floor is not None:
        sources += floor.provenance.sources
    if floor is None and release is None:
        notes.append("and no minor-version compatibility floor applies")
    return DriverRequirement(
        cuda=cuda,
        platform=platform,
        native=native,
        exact=release.min_driver_exact(platform) if release else False,
        minor_compat=floor.driver if floor else None,
        minor_compat_exact=floor.exact if floor else False,
        release=release,
        provenance=Provenance(status, tuple(dict.fromkeys(sources)), "; ".join(notes)),
    )
