"""What the monitor loop reads samples from: NVML live, or a replay. Both have ``read()`` (the
next sample, or ``None`` when a replay has no more) and ``close()``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from gpu_preflight.monitor.sample import Sample


class Source(Protocol):
    def read(self) -> Sample | None: ...

    def close(self) -> None: ...


class SourceError(Exception):
    """A live source stopped answering (a hung GPU, a crashed helper): the monitor ends with exit 1."""


class NvmlUnavailable(SourceError):
    """No NVML here: no driver, no GPU visible, or the bindings are missing."""


class SeriesSource:
    """Samples already in memory (a parsed recording, a synthetic series in tests)."""

    def __init__(self, samples: Iterable[Sample]):
        self._samples = iter(samples)

    def read(self) -> Sample | None:
        return next(self._samples, None)

    def close(self) -> None:
        pass
