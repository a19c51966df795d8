"""``preflight monitor``: watch the GPUs while a model runs, and say what the numbers mean.

Flow, one direction: a source (``NvmlSource`` live, or ``open_replay(path)`` for JSON lines the
monitor wrote or nvidia-smi --query-gpu CSV) -> ``watch`` (steady interval, hints over a window)
-> a view (``TerminalView``, ``JsonLinesView``) and/or the Prometheus ``Exporter``.

For ``serve --monitor``: ``start_exporter(port, NvmlSource(), interval=1.0,
requests_waiting=lambda: queue_depth)`` samples in a background thread; ``.close()`` stops it.
Imports here are light; prometheus_client is imported only when an exporter starts.
"""

from gpu_preflight.monitor.exporter import Exporter, start_exporter
from gpu_preflight.monitor.hints import THRESHOLDS, Thresholds, find_hints
from gpu_preflight.monitor.nvml import NvmlReader, NvmlSource
from gpu_preflight.monitor.render import JsonLinesView, TerminalView
from gpu_preflight.monitor.replay import open_replay, read_recording
from gpu_preflight.monitor.sample import SCHEMA, GpuSample, Hint, Process, Sample
from gpu_preflight.monitor.source import (
    NvmlUnavailable,
    SeriesSource,
    Source,
    SourceError,
)
from gpu_preflight.monitor.watch import watch

__all__ = [
    "SCHEMA",
    "THRESHOLDS",
    "Exporter",
    "GpuSample",
    "Hint",
    "JsonLinesView",
    "NvmlReader",
    "NvmlSource",
    "NvmlUnavailable",
    "Process",
    "Sample",
    "SeriesSource",
    "Source",
    "SourceError",
    "TerminalView",
    "Thresholds",
    "find_hints",
    "open_replay",
    "read_recording",
    "start_exporter",
    "watch",
]
