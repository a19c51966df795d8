"""Sizes of memory, the one home of MiB/GiB arithmetic and how a size is written."""

from __future__ import annotations

import re

from gpu_preflight.core.errors import UsageError

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
    mib = int(float(match.group("number")) * _UNIT_MIB[(match.group("unit") or "").upper()])
    if mib <= 0 or mib > 64 * 1024 * 1024:
        raise UsageError(f"memory size out of range: {text!r}")
    return mib
