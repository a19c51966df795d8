"""The servers the browser tests open: the real app on a stub engine (the tiny model's real
process is a fixture in conftest.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from support.serving import FakeEngine, free_port, running

API_KEY = "page-test-key"  # what the real server is started with


@contextlib.contextmanager
def stub_server(engine: FakeEngine, api_key: str | None = None) -> Iterator[str]:
    """The real app (routes, pages, guards) on a stub engine, at the URL yielded."""
    from gpu_preflight.serve.app import Service, create_app
    from gpu_preflight.serve.jobs import Scheduler
    from gpu_preflight.serve.metrics import Metrics
    from gpu_preflight.serve.protocol import Defaults

    metrics = Metrics({"model": "stub"})
    defaults = Defaults("stub", frozenset({"stub"}), 4096, {"temperature": 1.0, "top_p": 1.0, "top_k": 0})
    report = {"schema": "gpu-preflight/report/v1", "status": "pass", "findings": [], "serve": {"engine": "stub"}}
    service = Service(engine, Scheduler(engine, 4, metrics), defaults, metrics, report, api_key)
    with running(create_app(service), free_port()) as url:
        yield url
