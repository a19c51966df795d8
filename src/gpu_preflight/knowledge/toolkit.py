"""toolkit.toml: each CUDA toolkit release and the driver bundled with it (NVIDIA "Table 3")."""

from __future__ import annotations

from gpu_preflight.core.versions import Version
from gpu_preflight.knowledge.files import DataFiles
from gpu_preflight.knowledge.model import ToolkitRelease

TOOLKIT_FILE = "toolkit.toml"
KINDS = ("ga", "update", "rc", "preview", "family")


def read_toolkit_releases(files: DataFiles) -> tuple[ToolkitRelease, ...]:
    """Every ``[[release]]`` row, oldest first."""
    result = []
    for row in files.rows(TOOLKIT_FILE, "release"):
        kind = row.text("kind")
        if kind not in KINDS:
            raise row.error(f"kind {kind!r} is not one of {', '.join(KINDS)}")
        result.append(
            ToolkitRelease(
                version=row.version("version"),
                label=row.text("label"),
                kind=kind,
                linux_min_driver=row.version("linux_min_driver", None),
                linux_exact=row.boolean("linux_exact", True),
                windows_min_driver=row.version("windows_min_driver", None),
                windows_exact=row.boolean("windows_exact", True),
                branch=row.integer("branch", None),
                provenance=row.provenance(),
            )
        )
        row.finish()
    return tuple(sorted(result, key=lambda r: r.version))


def find_toolkit_release(releases: tuple[ToolkitRelease, ...], cuda: Version) -> ToolkitRelease | None:
    """The Table 3 row of a toolkit release.

    A full version (``12.4.1``) finds that exact row. A short one (``12.4``) names the line and
    finds its GA row (12.4 -> 12.4.0; 13.4 -> 13.4.1, since 13.4.0 was a preview). A ``family``
    row (13.5.x) answers for every release of its line.
    """
    line = cuda.truncate(2)
    same_line = [r for r in releases if r.version.truncate(2) == line]
    if len(cuda.parts) > 2:
        for r in same_line:
            if len(r.version.parts) > 2 and r.version == cuda:
                return r
    for r in same_line:
        if r.kind == "family" or (len(cuda.parts) <= 2 and r.kind == "ga"):
            return r
    return None
