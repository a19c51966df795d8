"""Compiled architecture lists (SASS + PTX) and whether they cover a GPU's compute capability.

Binary compatibility rules (NVIDIA compatibility guides, cuda-facts.md section 4):

* SASS (a cubin, ``sm_86``) for X.y runs on a GPU X.z when z >= y: same major only. So sm_86
  runs on 8.9, sm_100 runs on 10.3, but sm_90 does not run on 10.0 and sm_120 not on 10.x.
* Arch-specific targets (``sm_90a``) run on exactly that compute capability. Family targets
  (``sm_100f``) are treated the same way: their reach is not confirmed in our sources.
* PTX (``compute_90``) is JIT-compiled by the driver for any GPU of the same or a higher
  compute capability, provided the driver knows that PTX ISA version.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.versions import Version

# "8.6", "9.0a", "8.6+PTX" (TORCH_CUDA_ARCH_LIST) | "sm_86", "compute_90", "sm_90a" | "86", "100"
_DOTTED = re.compile(r"(\d+)\.(\d)([af]?)(\+PTX)?", re.IGNORECASE)
_NAMED = re.compile(r"(sm|compute)_(\d+)(\d)([af]?)", re.IGNORECASE)
_BARE = re.compile(r"(\d+)(\d)([af]?)")
_SEPARATORS = re.compile(r"[;,\s]+")


class ArchListError(UsageError, ValueError):
    """A string that is not a CUDA architecture list."""


@dataclass(frozen=True)
class ArchTarget:
    cc: Version
    kind: str  # "sass" | "ptx"
    suffix: str = ""  # "" portable | "a" arch-specific | "f" family-specific

    @property
    def name(self) -> str:
        prefix = "sm" if self.kind == "sass" else "compute"
        return f"{prefix}_{self.cc.major}{self.cc.minor}{self.suffix}"

    def runs_on(self, cc: Version) -> bool:
        if self.suffix:
            return self.cc == cc
        if self.kind == "sass":
            return self.cc.major == cc.major and self.cc.minor <= cc.minor
        return self.cc <= cc


@dataclass(frozen=True)
class Coverage:
    """How a GPU is covered by a build: by SASS, by PTX through JIT, or not at all."""

    kind: str | None  # "sass" | "ptx" | None
    via: str | None  # the target that covers it: "sm_86", "compute_90"
    note: str = ""

    def __bool__(self) -> bool:
        return self.kind is not None


@dataclass(frozen=True)
class ArchList:
    targets: tuple[ArchTarget, ...]

    @classmethod
    def parse(cls, spec: str | Iterable[str]) -> ArchList:
        """Parse ``"5.0;8.6;9.0+PTX"``, ``"sm_50,sm_86,compute_90"``, ``"sm_50,60,70"``, or a list
        such as ``torch.cuda.get_arch_list()``. Order is kept, duplicates dropped."""
        items = [spec] if isinstance(spec, str) else list(spec)
        targets: dict[ArchTarget, None] = {}  # an ordered set
        for item in items:
            if not isinstance(item, str):
                raise ArchListError(f"not an architecture: {item!r}")
            for token in _SEPARATORS.split(item.strip()):
                if token:
                    targets.update(dict.fromkeys(_parse_token(token)))
        return cls(tuple(targets))

    def covers(self, cc: Version) -> Coverage:
        """Which compiled target (if any) lets this build run on a GPU of compute capability cc."""
        # The highest matching target is the one the CUDA runtime picks.
        sass = [t for t in self.targets if t.kind == "sass" and t.runs_on(cc)]
        if sass:
            best = max(sass, key=lambda t: t.cc)
            note = "" if best.cc == cc else f"{best.name} SASS runs on {cc} (same major, lower minor)"
            return Coverage("sass", best.name, note)
        ptx = [t for t in self.targets if t.kind == "ptx" and t.runs_on(cc)]
        if ptx:
            best = max(ptx, key=lambda t: t.cc)
            return Coverage(
                "ptx",
                best.name,
                f"no SASS for {cc}: the driver JIT-compiles {best.name} PTX at first load; that "
                "needs a driver that knows the PTX ISA of the build (else 'unsupported PTX "
                "version', error 222) and costs start-up time",
            )
        return Coverage(
            None,
            None,
            f"no SASS for {cc.major}.x at or below {cc} and no PTX at or below {cc}",
        )

    def __str__(self) -> str:
        return ",".join(t.name for t in self.targets)


def _parse_token(token: str) -> list[ArchTarget]:
    if m := _DOTTED.fullmatch(token):
        cc = Version.of(int(m[1]), int(m[2]))
        targets = [ArchTarget(cc, "sass", m[3].lower())]
        if m[4]:
            targets.append(ArchTarget(cc, "ptx", m[3].lower()))
        return targets
    if m := _NAMED.fullmatch(token):
        kind = "sass" if m[1].lower() == "sm" else "ptx"
        return [ArchTarget(Version.of(int(m[2]), int(m[3])), kind, m[4].lower())]
    if m := _BARE.fullmatch(token):
        return [ArchTarget(Version.of(int(m[1]), int(m[2])), "sass", m[3].lower())]
    raise ArchListError(f"not a CUDA architecture: {token!r} (expected e.g. 8.6, 9.0+PTX, sm_86, compute_90)")
