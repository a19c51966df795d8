"""The monitor loop: read a source at a steady interval and attach the hints of the window
ending at each sample. Live NVML and replays go through here alike."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import replace

from gpu_preflight.monitor.hints import THRESHOLDS, Thresholds, find_hints
from gpu_preflight.monitor.sample import Sample
from gpu_preflight.monitor.source import Source


def watch(
    source: Source,
    interval: float,
    count: int | None = None,
    thresholds: Thresholds = THRESHOLDS,
    requests_waiting: Callable[[], int | None] | None = None,
    sleep: Callable[[float], object] = time.sleep,  # what it returns is ignored (Event.wait's bool)
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Sample]:
    """Samples with their hints, until ``count`` samples or the source's end. ``requests_waiting``
    (when the caller serves the model) gives the request queue depth to stamp on each sample."""
    window: deque[Sample] = deque(maxlen=thresholds.window)
    due = clock()
    taken = 0
    while count is None or taken < count:
        sample = source.read()
        if sample is None:
            return
        if requests_waiting is not None:
            sample = replace(sample, requests_waiting=requests_waiting())
        window.append(sample)
        yield replace(sample, hints=find_hints(window, thresholds))
        taken += 1
        if count is not None and taken >= count:
            return
        if taken == 1:
            due = clock()  # the cadence starts after the first sample, which includes NVML's start-up
        due += interval
        delay = due - clock()
        if delay > 0:
            sleep(delay)
        else:
            due = clock()  # fell behind (a slow sample): carry on from now rather than burst
