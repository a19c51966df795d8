"""The HTTP API against a fake engine (no torch): auth, readiness, errors, the bounded queue,
disconnects, the reasoning split, metrics. Driven with the official openai client."""

from __future__ import annotations

import threading
import time

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gpu_preflight.serve.app import Service, create_app
from gpu_preflight.serve.jobs import Scheduler
from gpu_preflight.serve.metrics import Metrics
from gpu_preflight.serve.protocol import Defaults

from support.serving import FakeEngine, free_port, running

DEFAULTS = Defaults(
    model_name="fake",
    accepted_names=frozenset({"fake"}),
    max_context=64,
    sampling={"temperature": 1.0, "top_p": 1.0, "top_k": 0},
)
USER = [{"role": "user", "content": "hi"}]


def make_app(engine: FakeEngine, *, api_key: str | None = None, max_waiting: int = 8):
    metrics = Metrics({"model": "fake"})
    scheduler = Scheduler(engine, max_waiting, metrics)
    metrics.gauge("requests_waiting", "waiting", lambda: scheduler.waiting)
    service = Service(
        engine, scheduler, DEFAULTS, metrics, {"schema": "gpu-preflight/report/v1", "status": "pass"}, api_key
    )
    return create_app(service), scheduler


def client(url: str, key: str = "none") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=10)


def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_ready_is_503_until_the_engine_loaded():
    engine = FakeEngine()
    engine.loaded.clear()
    app, _ = make_app(engine)
    with running(app, free_port()) as url:
        assert httpx.get(f"{url}/health").status_code == 200
        assert httpx.get(f"{url}/ready").status_code == 503
        with pytest.raises(openai.InternalServerError) as caught:  # 503: still loading
            client(url).chat.completions.create(model="fake", messages=USER)
        assert caught.value.status_code == 503 and caught.value.body["code"] == "model_loading"
        engine.loaded.set()
        wait_for(lambda: httpx.get(f"{url}/ready").status_code == 200)


def test_a_failed_load_is_reported():
    app, _ = make_app(FakeEngine(fail_load="CUDA error: no kernel image is available"))
    with running(app, free_port()) as url:
        wait_for(lambda: httpx.get(f"{url}/ready").json()["status"] == "failed")
        assert "no kernel image" in httpx.get(f"{url}/ready").json()["error"]


def test_reasoning_is_returned_beside_the_content():
    app, _ = make_app(FakeEngine("<think>why</think>answer"))
    with running(app, free_port()) as url:
        reply = client(url).chat.completions.create(model="fake", messages=USER)
        message = reply.choices[0].message
        assert (message.content, message.reasoning_content) == ("answer", "why")
        stream = client(url).chat.completions.create(model="fake", messages=USER, stream=True)
        deltas = [chunk.choices[0].delta for chunk in stream if chunk.choices]
        assert "".join(getattr(d, "reasoning_content", None) or "" for d in deltas) == "why"
        assert "".join(d.content or "" for d in deltas) == "answer"


def test_api_key():
    app, _ = make_app(FakeEngine("ok"), api_key="sekret")
    with running(app, free_port()) as url:
        with pytest.raises(openai.AuthenticationError) as caught:
            client(url, "wrong").models.list()
        assert caught.value.body["code"] == "invalid_api_key"
        assert httpx.get(f"{url}/preflight").status_code == 401
        assert [m.id for m in client(url, "sekret").models.list()] == ["fake"]
        assert httpx.get(f"{url}/health").status_code == 200  # probes need no key


def test_a_full_queue_is_refused_at_once():
    engine = FakeEngine("abc", stepwise=True)
    app, scheduler = make_app(engine, max_waiting=1)
    with running(app, free_port()) as url:
        results: list[object] = []

        def ask() -> None:
            try:
                results.append(client(url).completions.create(model="fake", prompt="x", max_tokens=3).choices[0].text)
            except openai.APIStatusError as exc:
                results.append(exc.status_code)

        first = threading.Thread(target=ask)
        first.start()
        wait_for(engine.started.is_set)  # generating
        second = threading.Thread(target=ask)
        second.start()
        wait_for(lambda: scheduler.waiting == 1)  # queued
        with pytest.raises(openai.InternalServerError) as caught:
            client(url).completions.create(model="fake", prompt="x", max_tokens=3)
        assert caught.value.status_code == 503 and caught.value.body["code"] == "queue_full"
        for _ in range(6):
            engine.step.release()
        first.join(5), second.join(5)
        assert results == ["abc", "abc"]


def test_a_client_that_disconnects_stops_its_generation():
    engine = FakeEngine("x" * 50, stepwise=True)
    app, _ = make_app(engine)
    with running(app, free_port()) as url:
        with httpx.stream(
            "POST", f"{url}/v1/chat/completions", json={"model": "fake", "messages": USER, "stream": True}
        ) as response:
            lines = response.iter_lines()
            next(lines)  # the role chunk
            engine.step.release()
            assert "x" in next(line for line in lines if line.startswith("data:") and '"content":"x"' in line)
        wait_for(lambda: engine.outcomes)
        assert engine.outcomes[0].finish_reason == "cancelled" and engine.outcomes[0].completion_tokens < 50
        # and without streaming: the disconnect is noticed while waiting for the whole answer
        engine.outcomes.clear()
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{url}/v1/completions", json={"model": "fake", "prompt": "x", "max_tokens": 50}, timeout=0.3)
        wait_for(lambda: engine.outcomes)
        assert engine.outcomes[0].finish_reason == "cancelled"


def test_errors_are_in_openais_format():
    app, _ = make_app(FakeEngine(fail_generate="CUDA out of memory"))
    with running(app, free_port()) as url:
        with pytest.raises(openai.InternalServerError) as caught:
            client(url).chat.completions.create(model="fake", messages=USER)
        assert caught.value.status_code == 500 and "CUDA out of memory" in caught.value.body["message"]
        with pytest.raises(openai.BadRequestError) as caught:
            client(url).chat.completions.create(model="other", messages=USER)
        assert caught.value.body["code"] == "model_not_found"
        response = httpx.post(
            f"{url}/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"
        assert httpx.get(f"{url}/v1/nothing").json()["error"]["type"] == "not_found_error"
        stream = httpx.post(f"{url}/v1/chat/completions", json={"model": "fake", "messages": USER, "stream": True})
        assert '"error"' in stream.text and stream.text.rstrip().endswith("data: [DONE]")


def test_metrics_are_valid_prometheus_text():
    app, _ = make_app(FakeEngine("hello"))
    with running(app, free_port()) as url:
        client(url).completions.create(model="fake", prompt="abc", max_tokens=5)
        with pytest.raises(openai.BadRequestError):
            client(url).completions.create(model="fake", prompt="abc", max_tokens=-1)
        families = {f.name: f for f in text_string_to_metric_families(httpx.get(f"{url}/metrics").text)}
        samples = [s for family in families.values() for s in family.samples]

        def value(name: str, **labels: str) -> float:
            return next(
                s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
            )

        assert value("preflight_serve_requests_total", endpoint="/v1/completions", status="200") == 1
        assert value("preflight_serve_requests_total", endpoint="/v1/completions", status="400") == 1
        assert value("preflight_serve_errors_total", type="invalid_request_error") == 1
        assert (
            value("preflight_serve_generation_tokens_total") == 5 and value("preflight_serve_prompt_tokens_total") == 3
        )
        assert families["preflight_serve_time_to_first_token_seconds"].type == "histogram"
        assert value("preflight_serve_request_latency_seconds_count") == 1
        assert value("preflight_serve_requests_waiting") == 0
