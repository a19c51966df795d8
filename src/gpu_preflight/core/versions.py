"""Dotted numeric versions as NVIDIA uses them: drivers, CUDA releases, compute capabilities.

NVIDIA compares these numerically component by component with trailing zero components
ignored (libnvidia-container's dsl.c): ``12.4 == 12.4.0`` and ``470.256.02 < 471``. The text as
written is kept for display, because ``455.06`` and ``455.6`` are the same version but only one
is what the user typed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import total_ordering

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


def driver_branch(version: Version) -> int:
    """The driver branch a driver version belongs to: ``550.54.15`` -> 550 (read as R550)."""
    return version.major
