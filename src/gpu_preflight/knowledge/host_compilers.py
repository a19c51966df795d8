"""host_compilers.toml: the host compilers (GCC, Clang, MSVC) each CUDA toolkit's nvcc accepts,
one row per run of toolkit releases with the same range."""

from __future__ import annotations

from dataclasses import dataclass

from gpu_preflight.core.versions import Version
from gpu_preflight.knowledge.files import DataFiles
from gpu_preflight.knowledge.provenance import Provenance, weakest_status

HOST_COMPILERS_FILE = "host_compilers.toml"
COMPILER_KINDS = ("gcc", "clang")


@dataclass(frozen=True)
class HostCompilerRange:
    """From toolkit release ``first`` to ``last`` (major.minor, inclusive): the oldest and newest
    compiler major nvcc accepts. None where no source gives the bound."""

    first: Version
    last: Version
    gcc_min: int | None
    gcc_max: int | None
    clang_min: int | None
    clang_max: int | None
    msvc_min: int | None  # _MSC_VER, inclusive
    msvc_max: int | None
    provenance: Provenance

    def bounds(self, kind: str) -> tuple[int | None, int | None]:
        """(oldest, newest) major of compiler ``kind`` ("gcc" or "clang")."""
        if kind == "gcc":
            return self.gcc_min, self.gcc_max
        if kind == "clang":
            return self.clang_min, self.clang_max
        raise ValueError(f"compiler kind must be one of {', '.join(COMPILER_KINDS)}: {kind!r}")

    @property
    def label(self) -> str:
        first, last = self.first, self.last
        return f"CUDA {first}" if first.truncate(2) == last else f"CUDA {first} to {last}"


@dataclass(frozen=True)
class HostCompilerRule:
    """The range a toolkit release is judged by; ``covered`` is False when the release is newer
    than every row (judged by the newest, and then unconfirmed)."""

    range: HostCompilerRange
    covered: bool

    @property
    def status(self) -> str:
        status = self.range.provenance.status
        return status if self.covered else weakest_status(status, "unconfirmed")


def read_host_compiler_ranges(files: DataFiles) -> tuple[HostCompilerRange, ...]:
    """The rows, oldest first; they must not overlap."""
    result: list[HostCompilerRange] = []
    for row in files.rows(HOST_COMPILERS_FILE, "release"):
        first, last = row.version("cuda"), row.version("last")
        if last < first.truncate(2):
            raise row.error(f"'last' {last} is older than 'cuda' {first}")
        if result and first <= result[-1].last:
            raise row.error(
                f"starts at {first}, inside the previous row (up to {result[-1].last}); rows go oldest first"
            )
        bounds = {key: row.integer(key, None) for key in _BOUND_KEYS}
        for kind in ("gcc", "clang", "msvc"):
            low, high = bounds[f"{kind}_min"], bounds[f"{kind}_max"]
            if low is not None and high is not None and low > high:
                raise row.error(f"{kind}_min {low} is above {kind}_max {high}")
        result.append(
            HostCompilerRange(
                first=first,
                last=last,
                gcc_min=bounds["gcc_min"],
                gcc_max=bounds["gcc_max"],
                clang_min=bounds["clang_min"],
                clang_max=bounds["clang_max"],
                msvc_min=bounds["msvc_min"],
                msvc_max=bounds["msvc_max"],
                provenance=row.provenance(),
            )
        )
        row.finish()
    return tuple(result)


_BOUND_KEYS = ("gcc_min", "gcc_max", "clang_min", "clang_max", "msvc_min", "msvc_max")


def find_host_compiler_rule(ranges: tuple[HostCompilerRange, ...], cuda: Version) -> HostCompilerRule | None:
    """The row toolkit release ``cuda`` falls in; a release past the last row gets the newest row,
    not covered; None before the first row (CUDA 10 and older)."""
    found = next((r for r in reversed(ranges) if r.first <= cuda), None)
    if found is None:
        return None
    # past the row's last release: newer than every row, or between two rows (12.7 never shipped)
    return HostCompilerRule(found, covered=cuda.truncate(2) <= found.last)


def first_release_accepting(ranges: tuple[HostCompilerRange, ...], kind: str, major: int) -> HostCompilerRange | None:
    """The oldest row whose nvcc accepts compiler ``kind`` at ``major`` (for "or use CUDA >= X")."""
    for candidate in ranges:
        low, high = candidate.bounds(kind)
        if high is not None and high >= major and (low is None or low <= major):
            return candidate
    return None
