"""Dotted numeric versions as NVIDIA uses them: drivers, CUDA releases, compute capabilities.

NVIDIA compares these numerically component by component with trailing zero components
ignored (libnvidia-container's dsl.c): ``12.4 == 12.4.0`` and ``470.256.02 < 471``. The text as
written is kept for display, because ``455.06`` and ``455.6`` are the same version but only one
is what the user typed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import total_ordering
from typing import overload

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.text import show

_DOTTED = re.compile(r"\d+(?:\.\d+)*")


class VersionError(ValueError):
    """A string that is not a dotted numeric version."""


@total_ordering
@dataclass(frozen=True)
class Version:
    """A dotted numeric version such as ``550.54.15``, ``12.4`` or ``8.9``."""

    parts: tuple[int, ...]
    text: str = field(default="", compare=False)

    @classmethod
    def parse(cls, text: str) -> Version:
        if not isinstance(text, str):
            raise VersionError(f"not a version: {text!r}")
        stripped = text.strip()
        if not _DOTTED.fullmatch(stripped) or len(stripped) > 40:
            raise VersionError(f"not a version: {text!r}")
        return cls(tuple(int(p) for p in stripped.split(".")), stripped)

    @classmethod
    def parse_or_none(cls, text: str | None) -> Version | None:
        """For values a probe may not have read: None and garbage both give None."""
        try:
            return cls.parse(text) if text else None
        except VersionError:
            return None

    @classmethod
    def of(cls, *parts: int) -> Version:
        return cls(tuple(parts), ".".join(str(p) for p in parts))

    @property
    def _key(self) -> tuple[int, ...]:
        key = list(self.parts)
        while len(key) > 1 and key[-1] == 0:
            key.pop()
        return tuple(key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __lt__(self, other: Version) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key < other._key

    @property
    def major(self) -> int:
        return self.parts[0]

    @property
    def minor(self) -> int:
        return self.parts[1] if len(self.parts) > 1 else 0

    def truncate(self, n: int) -> Version:
        """The first ``n`` components (``12.4.1`` -> ``12.4``), padded with zeros."""
        parts = (self.parts + (0,) * n)[:n]
        return Version.of(*parts)

    def __str__(self) -> str:
        return self.text or ".".join(str(p) for p in self.parts)

    def __repr__(self) -> str:
        return f"Version({str(self)!r})"


def parse_cuda_int(value: int) -> Version:
    """CUDA's integer encoding (``12040`` or NVML's ``nvmlSystemGetCudaDriverVersion``) -> ``12.4``."""
    if value <= 0:
        raise VersionError(f"not a CUDA version number: {value}")
    return Version.of(value // 1000, (value % 1000) // 10)


@overload
def driver_branch(version: Version) -> int: ...
@overload
def driver_branch(version: Version, platform: str | None, known: Iterable[int] = ()) -> int | None: ...
def driver_branch(version: Version, platform: str | None = None, known: Iterable[int] = ()) -> int | None:
    """The driver branch a driver version belongs to (read as R550).

    A Linux driver is numbered by its branch: ``550.54.15`` is R550, ``616.00`` the developer
    branch R616. A Windows driver's number runs ahead of its branch (NVIDIA's Table 3 lists Windows
    551.78 under R550 and 536.25 under R535; there is no R551 or R536), so there the branch is the
    highest of the ``known`` branches at or below its major, and None when none is known.
    """
    if platform != "windows":
        return version.major
    return max((branch for branch in known if branch <= version.major), default=None)


# --- wheel variants -------------------------------------------------------------------------------

# CUDA 7.0 (2015) is older than any wheel or image worth judging; 20 leaves room for releases
# to come. Anything outside is a typo (``0``, ``99.9``), not a CUDA release.
CUDA_MAJORS = range(7, 21)

# PyTorch wheel variants as they appear in a local version (+cu121) or an index path (/whl/cu121).
# packaging normalises locals to lower case with "." separators (+cpu-cxx11-abi -> cpu.cxx11.abi).
WHEEL_VARIANT = re.compile(
    r"cu(?P<major>[0-9]{1,2})(?P<minor>[0-9])|cpu(?:\.cxx11\.abi)?|rocm[0-9]+(?:\.[0-9]+){0,2}|xpu", re.ASCII
)
_VARIANT_HELP = "expected cuXYZ such as cu121, cpu, rocmX.Y or xpu"


def variant_problem(variant: str) -> str | None:
    """Why ``variant`` is not a PyTorch wheel variant, or None when it is one."""
    match = WHEEL_VARIANT.fullmatch(variant)
    if not match:
        return f"+{variant} is not a PyTorch wheel variant ({_VARIANT_HELP})"
    if match["major"] is not None and int(match["major"]) not in CUDA_MAJORS:
        return f"{variant} would be CUDA {match['major']}.{match['minor']}, not a real CUDA version"
    return None


def variant_cuda(variant: str) -> Version | None:
    """The CUDA runtime a wheel variant bundles: ``cu118`` -> 11.8, ``cu92`` -> 9.2; None for
    ``cpu``, ``rocm6.2`` and ``xpu``, which bundle no CUDA."""
    problem = variant_problem(variant.strip().lower()) if isinstance(variant, str) else "not text"
    if problem:
        raise UsageError(f"wheel variant {show(variant)}: {problem}")
    match = WHEEL_VARIANT.fullmatch(variant.strip().lower())
    assert match is not None
    if match["major"] is None:
        return None
    return Version.of(int(match["major"]), int(match["minor"]))


def variant_for_cuda(cuda: Version) -> str:
    """The wheel variant that bundles a CUDA runtime: 12.1 -> ``cu121`` (the inverse of variant_cuda)."""
    return f"cu{cuda.major}{cuda.minor}"
