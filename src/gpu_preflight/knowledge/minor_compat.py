"""minor_compat.toml: the lowest driver on which any CUDA X.y application runs, per major and
platform (CUDA minor-version compatibility, NVIDIA "Table 2")."""

from __future__ import annotations

from gpu_preflight.knowledge.files import DataFiles
from gpu_preflight.knowledge.model import MinorCompatFloor

MINOR_COMPAT_FILE = "minor_compat.toml"
# The platforms NVIDIA's driver tables have a column for.
DRIVER_PLATFORMS = ("linux", "windows")


def driver_platform(platform: str) -> str:
    """``platform`` when the driver tables have a column for it; else a ValueError."""
    if platform not in DRIVER_PLATFORMS:
        raise ValueError(f"platform must be one of {', '.join(DRIVER_PLATFORMS)}: {platform!r}")
    return platform


def read_minor_compat_floors(files: DataFiles) -> tuple[MinorCompatFloor, ...]:
    """One floor per CUDA major and platform (a row holds both platforms' columns)."""
    result = []
    for row in files.rows(MINOR_COMPAT_FILE, "floor"):
        major = row.integer("major")
        upper_branch_note = row.text("upper_branch_note", "")
        provenance = row.provenance()
        for platform in DRIVER_PLATFORMS:
            result.append(
                MinorCompatFloor(
                    major=major,
                    platform=platform,
                    driver=row.version(platform),
                    exact=row.boolean(f"{platform}_exact", True),
                    upper_branch_note=upper_branch_note,
                    provenance=provenance,
                )
            )
        row.finish()
    return tuple(result)


def find_minor_compat_floor(floors: tuple[MinorCompatFloor, ...], major: int, platform: str) -> MinorCompatFloor | None:
    """The floor of CUDA ``major``.x on ``platform``; None for CUDA <= 10 (no such compatibility)."""
    platform = driver_platform(platform)
    return next((f for f in floors if f.major == major and f.platform == platform), None)
