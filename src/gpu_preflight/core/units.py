"""Sizes of memory, the one home of MiB/GiB arithmetic and how a size is written."""

from __future__ import annotations

import math
import re

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.limits import MAX_INT_DIGITS, MAX_MEMORY_MIB

MIB = 1024 * 1024
GIB = 1024 * MIB


def gib(value: int | None, digits: int = 1) -> str:
    """Bytes as GiB with ``digits`` decimals; ``?`` when unknown."""
    return "?" if value is None else f"{value / GIB:.{digits}f}"


_MEMORY = re.compile(r"^\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[KMGT])?(?:i?B)?\s*$", re.I)
_UNIT_MIB = {"": 1.0, "K": 1 / 1024, "M": 1.0, "G": 1024.0, "T": 1024.0 * 1024.0}


def parse_memory_mib(text: str) -> int:
    """``16GiB`` -> 16384; a bare number is MiB. GB is read as GiB, as GPU vendors mean it
    (a "16GB" T4 has 16 GiB of memory chips)."""
    match = _MEMORY.match(text)
    if not match:
        raise UsageError(f"not a memory size: {text!r} (examples: 16GiB, 24GB, 81559MiB)")
    shown = text if len(text) <= 40 else text[:40] + "..."
    if len(match.group("number")) > MAX_INT_DIGITS:
        raise UsageError(f"memory size out of range: {shown!r} (at most 64 TiB)")
    mib = float(match.group("number")) * _UNIT_MIB[(match.group("unit") or "").upper()]
    if not math.isfinite(mib) or not 1 <= mib <= MAX_MEMORY_MIB:
        raise UsageError(f"memory size out of range: {shown!r} (from 1 MiB to 64 TiB)")
    return int(mib)


def check_seconds(value: float, what: str, maximum: float) -> float:
    """A duration given by the user: a finite number of seconds above 0 and at most ``maximum``
    (nan, inf and 1e308 would end in an OverflowError deep inside a sleep or a timeout)."""
    if not (isinstance(value, (int, float)) and math.isfinite(value) and 0 < value <= maximum):
        raise UsageError(f"{what} must be a number of seconds above 0 and at most {maximum:g}, not {value!r}")
    return float(value)
