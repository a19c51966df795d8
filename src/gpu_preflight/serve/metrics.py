"""Serving metrics, rendered as Prometheus text (exposition format 0.0.4) without a client
library: a few counters, two histograms and gauges read at scrape time. Thread-safe: the
event loop counts requests, the generation thread counts tokens."""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Callable

PREFIX = "preflight_serve"
TTFT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)


class Histogram:
    def __init__(self, buckets: tuple[float, ...]):
        self.buckets = buckets
        self.counts = [0] * len(buckets)
        self.total = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.total += 1
        self.sum += value
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1


class Metrics:
    def __init__(self, info: dict[str, str] | None = None):
        self._lock = threading.Lock()
        self.info = dict(info or {})
        self.requests: defaultdict[tuple[str, str], int] = defaultdict(int)  # (endpoint, status)
        self.errors: defaultdict[str, int] = defaultdict(int)  # OpenAI error type
        self.prompt_tokens = 0
        self.generation_tokens = 0
        self.ttft = Histogram(TTFT_BUCKETS)
        self.latency = Histogram(LATENCY_BUCKETS)
        self.gauges: dict[str, tuple[str, Callable[[], float]]] = {}

    def gauge(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        self.gauges[name] = (help_text, read)

    def request(self, endpoint: str, status: int) -> None:
        with self._lock:
            self.requests[(endpoint, str(status))] += 1

    def error(self, kind: str) -> None:
        with self._lock:
            self.errors[kind] += 1

    def generation(self, prompt_tokens: int, completion_tokens: int, ttft_s: float | None, latency_s: float) -> None:
        with self._lock:
            self.prompt_tokens += prompt_tokens
            self.generation_tokens += completion_tokens
            if ttft_s is not None:
                self.ttft.observe(ttft_s)
            self.latency.observe(latency_s)

    def render(self) -> str:
        with self._lock:
            lines: list[str] = []
            _family(lines, "info", "gauge", "The served model and the settings derived for it", [(self.info, 1)])
            _family(
                lines,
                "requests_total",
                "counter",
                "HTTP requests by endpoint and status",
                [({"endpoint": e, "status": s}, n) for (e, s), n in sorted(self.requests.items())],
            )
            _family(
                lines,
                "errors_total",
                "counter",
                "Error responses by OpenAI error type",
                [({"type": t}, n) for t, n in sorted(self.errors.items())],
            )
            _family(lines, "prompt_tokens_total", "counter", "Prompt tokens processed", [({}, self.prompt_tokens)])
            _family(lines, "generation_tokens_total", "counter", "Tokens generated", [({}, self.generation_tokens)])
            _histogram(
                lines, "time_to_first_token_seconds", "From request accepted to first generated token", self.ttft
            )
            _histogram(lines, "request_latency_seconds", "From request accepted to last generated token", self.latency)
        for name, (help_text, read) in self.gauges.items():
            _family(lines, name, "gauge", help_text, [({}, read())])
        return "\n".join(lines) + "\n"


def _family(
    lines: list[str], name: str, kind: str, help_text: str, samples: list[tuple[dict[str, str], float]]
) -> None:
    full = f"{PREFIX}_{name}"
    lines += [f"# HELP {full} {help_text}", f"# TYPE {full} {kind}"]
    lines += [f"{full}{_labels(labels)} {_number(value)}" for labels, value in samples]


def _histogram(lines: list[str], name: str, help_text: str, histogram: Histogram) -> None:
    full = f"{PREFIX}_{name}"
    lines += [f"# HELP {full} {help_text}", f"# TYPE {full} histogram"]
    for bound, count in zip(histogram.buckets, histogram.counts, strict=True):
        lines.append(f'{full}_bucket{{le="{_number(bound)}"}} {count}')
    lines += [
        f'{full}_bucket{{le="+Inf"}} {histogram.total}',
        f"{full}_sum {_number(histogram.sum)}",
        f"{full}_count {histogram.total}",
    ]


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{key}="{_escape(str(value))}"' for key, value in labels.items()) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if isinstance(value, float) and math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:g}" if isinstance(value, float) else str(value)
