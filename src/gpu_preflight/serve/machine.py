"""What ``serve`` measures beyond the host probe: the CPU's memory and bfloat16 support, and
which Python packages are there. Facts only; serve/settings.py judges them."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class CpuFacts:
    available_bytes: int | None  # MemAvailable; None where /proc/meminfo is not there
    flags: frozenset[str] = frozenset()
    cores: int | None = None  # the cores this process may run on (its affinity), None where unknown


def read_cpu(meminfo: str = "/proc/meminfo", cpuinfo: str = "/proc/cpuinfo") -> CpuFacts:
    available = None
    try:
        with open(meminfo, encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024  # reported in kB
                    break
    except (OSError, ValueError, IndexError):
        pass
    flags: frozenset[str] = frozenset()
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = frozenset(line.partition(":")[2].split())
                    break
    except OSError:
        pass
    return CpuFacts(available, flags, usable_cores())


def usable_cores() -> int | None:
    """The cores this process may use: its affinity mask (a container's cpuset, taskset), not
    the machine's count."""
    try:
        return len(os.sched_getaffinity(0)) or None
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count()


def installed(module: str) -> bool:
    """Whether ``module`` can be imported here, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False
