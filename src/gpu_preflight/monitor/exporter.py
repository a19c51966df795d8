"""A Prometheus exporter of the latest sample (`--prometheus PORT`, and `serve --monitor`).

Metrics follow Prometheus naming (base units, ratios 0..1), labelled `gpu` (index), `uuid` and
`name`; a value the source does not report is left out rather than exported as 0.
`gpu_preflight_build_info` carries this tool's version, the driver version and the driver's
CUDA version (the highest CUDA the driver supports, not a runtime's).
Needs `prometheus_client` (the `monitor` extra); it is imported only here.
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from gpu_preflight import __version__
from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.units import MIB
from gpu_preflight.monitor.sample import THROTTLE_REASON_BITS, Sample
from gpu_preflight.monitor.source import Source, SourceError

GPU_LABELS = ["gpu", "uuid", "name"]
RETRY_AFTER_S = 10.0  # a failed live source is retried this often (a fresh NVML helper each time)

# metric name, help, sample field, factor to the metric's base unit
GPU_GAUGES = (
    (
        "gpu_preflight_gpu_utilization_ratio",
        "Share of time one or more kernels ran (NVML GPU utilization)",
        "utilization_gpu_pct",
        0.01,
    ),
    (
        "gpu_preflight_memory_utilization_ratio",
        "Share of time the memory controller was busy",
        "utilization_memory_pct",
        0.01,
    ),
    ("gpu_preflight_memory_used_bytes", "GPU memory in use", "memory_used_mib", MIB),
    ("gpu_preflight_memory_total_bytes", "GPU memory in total", "memory_total_mib", MIB),
    ("gpu_preflight_temperature_celsius", "GPU temperature", "temperature_c", 1),
    ("gpu_preflight_power_watts", "Power draw", "power_w", 1),
    ("gpu_preflight_power_limit_watts", "Enforced power limit", "power_limit_w", 1),
    ("gpu_preflight_sm_clock_hertz", "SM clock", "sm_clock_mhz", 1e6),
    ("gpu_preflight_memory_clock_hertz", "Memory clock", "memory_clock_mhz", 1e6),
    ("gpu_preflight_sm_clock_max_hertz", "Highest SM clock", "sm_clock_max_mhz", 1e6),
    ("gpu_preflight_sm_clock_base_hertz", "Base SM clock (default applications clock)", "sm_clock_base_mhz", 1e6),
    ("gpu_preflight_pcie_rx_bytes_per_second", "PCIe receive throughput (NVML reports KB/s)", "pcie_rx_kb_s", 1000),
    ("gpu_preflight_pcie_tx_bytes_per_second", "PCIe transmit throughput (NVML reports KB/s)", "pcie_tx_kb_s", 1000),
    ("gpu_preflight_ecc_corrected_errors", "Corrected ECC errors since the driver loaded", "ecc_errors_corrected", 1),
    (
        "gpu_preflight_ecc_uncorrected_errors",
        "Uncorrected ECC errors since the driver loaded",
        "ecc_errors_uncorrected",
        1,
    ),
)


class Exporter:
    """Serves ``/metrics`` from the latest ``publish``ed sample. ``close()`` stops it."""

    def __init__(self, server: WSGIServer):
        self._server = server
        self._lock = threading.Lock()
        self._latest: Sample | None = None
        self._up = 0
        self._published_at = 0.0
        self._xids: Counter[tuple[str, str, str, str]] = Counter()  # (gpu, uuid, name, xid) -> events seen
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=server.serve_forever, name="prometheus-exporter", daemon=True)]
        self._threads[0].start()

    @property
    def port(self) -> int:
        return self._server.server_port

    def publish(self, sample: Sample) -> None:
        with self._lock:
            self._latest, self._up, self._published_at = sample, 1, time.time()
            for gpu in sample.gpus:
                for xid in gpu.xid_errors or []:
                    self._xids[(str(gpu.index), gpu.uuid or "", gpu.name, str(xid))] += 1

    def mark_down(self) -> None:
        with self._lock:
            self._up = 0

    def follow(self, source: Source, interval: float, requests_waiting: Callable[[], int | None] | None = None) -> None:
        """Sample ``source`` in a background thread until ``close()``, which also closes it."""
        from gpu_preflight.monitor.watch import watch

        def loop() -> None:
            try:
                while not self._stop.is_set():
                    try:
                        for sample in watch(source, interval, requests_waiting=requests_waiting, sleep=self._stop.wait):
                            self.publish(sample)
                            if self._stop.is_set():
                                return
                        return  # a replay ended: keep serving its last sample
                    except SourceError:
                        self.mark_down()
                        self._stop.wait(max(interval, RETRY_AFTER_S))
            finally:
                source.close()

        thread = threading.Thread(target=loop, name="gpu-sampler", daemon=True)
        self._threads.append(thread)
        thread.start()

    def close(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()  # release the port now (shutdown alone keeps it bound)
        for thread in self._threads:
            thread.join(timeout=5)

    def collect(self) -> Iterator[Any]:
        """prometheus_client's collector protocol: called on each scrape. Yields its metric
        families (``Any``: prometheus_client is imported lazily, and may be absent for mypy)."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        with self._lock:
            sample, up, xids, published_at = self._latest, self._up, dict(self._xids), self._published_at
        build = GaugeMetricFamily(
            "gpu_preflight_build_info",
            "gpu-preflight version, NVIDIA driver version and the driver's CUDA version",
            labels=["version", "driver_version", "cuda_driver_version"],
        )
        build.add_metric(
            [__version__, (sample and sample.driver_version) or "", (sample and sample.cuda_driver_version) or ""], 1
        )
        yield build
        yield GaugeMetricFamily(
            "gpu_preflight_up", "1 when the last sample was read, 0 when the source failed", value=up
        )
        if sample is None:
            return
        yield GaugeMetricFamily(
            "gpu_preflight_last_sample_timestamp_seconds", "When the latest sample was published", value=published_at
        )
        if sample.requests_waiting is not None:
            yield GaugeMetricFamily(
                "gpu_preflight_requests_waiting", "Requests queued by the model server", value=sample.requests_waiting
            )
        labels = {gpu.index: [str(gpu.index), gpu.uuid or "", gpu.name] for gpu in sample.gpus}
        for name, text, field, factor in GPU_GAUGES:
            family = GaugeMetricFamily(name, text, labels=GPU_LABELS)
            for gpu in sample.gpus:
                if (value := getattr(gpu, field)) is not None:
                    family.add_metric(labels[gpu.index], value * factor)
            yield family
        processes = GaugeMetricFamily("gpu_preflight_processes", "Processes holding GPU memory", labels=GPU_LABELS)
        throttle = GaugeMetricFamily(
            "gpu_preflight_clock_throttle_active",
            "1 when a clock throttle (event) reason is active",
            labels=[*GPU_LABELS, "reason"],
        )
        hints = GaugeMetricFamily(
            "gpu_preflight_hint", "1 for each hint that holds over the current window", labels=[*GPU_LABELS, "hint"]
        )
        for gpu in sample.gpus:
            if gpu.processes is not None:
                processes.add_metric(labels[gpu.index], len(gpu.processes))
            if gpu.throttle_reasons is not None:
                for reason in THROTTLE_REASON_BITS.values():
                    throttle.add_metric([*labels[gpu.index], reason], 1 if reason in gpu.throttle_reasons else 0)
        for hint in sample.hints:
            if hint.gpu in labels:
                hints.add_metric([*labels[hint.gpu], hint.code], 1)
        xid_family = CounterMetricFamily(
            "gpu_preflight_xid_errors", "XID error events seen since the exporter started", labels=[*GPU_LABELS, "xid"]
        )
        for key, count in sorted(xids.items()):
            xid_family.add_metric(list(key), count)
        yield from (processes, throttle, hints, xid_family)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # a scrape every few seconds is not news
        pass


def start_exporter(
    port: int,
    source: Source | None = None,
    interval: float = 1.0,
    addr: str = "127.0.0.1",
    requests_waiting: Callable[[], int | None] | None = None,
) -> Exporter:
    """Listen on ``addr:port``, this machine only unless told otherwise (port 0: any free port;
    see ``.port``; an IPv6 address may come in brackets). With ``source``, sample it
    every ``interval`` seconds in a background thread (what ``serve --monitor`` wants); without,
    the caller ``publish``es samples itself. A port that cannot be bound raises ``UsageError``."""
    try:
        from prometheus_client import CollectorRegistry, make_wsgi_app
    except ImportError:
        raise UsageError("--prometheus needs prometheus_client: pip install 'gpu-preflight[monitor]'") from None
    registry = CollectorRegistry(auto_describe=False)
    addr = addr.strip().strip("[]")
    server_class = type("_Server6", (_Server,), {"address_family": socket.AF_INET6}) if ":" in addr else _Server
    try:
        server: WSGIServer = make_server(addr, port, make_wsgi_app(registry), server_class, handler_class=_QuietHandler)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(f"--prometheus: port {port} is already in use on {addr}; choose another port") from None
        raise UsageError(f"--prometheus: cannot listen on {addr}:{port}: {exc.strerror or exc}") from None
    exporter = Exporter(server)
    registry.register(exporter)
    if source is not None:
        exporter.follow(source, interval, requests_waiting)
    return exporter
