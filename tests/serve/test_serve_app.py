"""The HTTP API against a fake engine (no torch): auth, readiness, errors, the bounded queue,
disconnects, the reasoning split, metrics. Driven with the official openai client."""

from __future__ import annotations

import json
import socket
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


def make_app(engine: FakeEngine, *, api_key: str | None = None, max_waiting: int = 8, **limits):
    metrics = Metrics({"model": "fake"})
    scheduler = Scheduler(engine, max_waiting, metrics)
    metrics.gauge("requests_waiting", "waiting", lambda: scheduler.waiting)
    service = Service(
        engine, scheduler, DEFAULTS, metrics, {"schema": "gpu-preflight/report/v1", "status": "pass"}, api_key, **limits
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
        # Clients poll /v1/models for readiness (as with vLLM): no model is listed before it can answer.
        listing = httpx.get(f"{url}/v1/models")
        assert listing.status_code == 503 and listing.headers["retry-after"]
        assert listing.json()["error"]["code"] == "model_loading"
        engine.loaded.set()
        wait_for(lambda: httpx.get(f"{url}/ready").status_code == 200)
        assert [m.id for m in client(url).models.list()] == ["fake"]


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

        def next_token_or_done() -> bool:  # the departure is seen at the first write that fails
            engine.step.release()
            return bool(engine.outcomes)

        wait_for(next_token_or_done)
        assert engine.outcomes[0].finish_reason == "cancelled" and engine.outcomes[0].completion_tokens < 50
        # Without streaming a departed client cannot be told from one that half-closed after sending:
        # its answer is generated and the write fails (test_serve_half_close.py).


def test_errors_are_in_openais_format():
    app, _ = make_app(FakeEngine(fail_generate="CUDA out of memory"))
    with running(app, free_port()) as url:
        with pytest.raises(openai.InternalServerError) as caught:
            client(url).chat.completions.create(model="fake", messages=USER)
        assert caught.value.status_code == 500 and caught.value.body["type"] == "server_error"
        assert "CUDA out of memory" not in caught.value.body["message"]  # internals stay in the log
        with pytest.raises(openai.NotFoundError) as caught:  # as OpenAI answers
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


def assert_openai_error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    if code is not None:
        assert error["code"] == code
    for internal in ("Traceback", "Error:", "Exception", 'File "'):
        assert internal not in error["message"]
    return error


def test_a_cross_site_post_that_is_not_json_is_refused():
    """A page on another site can POST text/plain or a form without asking (no CORS
    preflight); application/json needs a preflight, which gets no CORS headers."""
    engine = FakeEngine("ok")
    app, _ = make_app(engine)
    body = json.dumps({"model": "fake", "messages": USER})
    with running(app, free_port()) as url:
        for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
            response = httpx.post(
                f"{url}/v1/chat/completions",
                content=body,
                headers={"content-type": content_type, "origin": "https://evil.example"},
            )
            assert_openai_error(response, 415, "unsupported_media_type")
            assert "access-control-allow-origin" not in response.headers
        assert_openai_error(httpx.post(f"{url}/v1/completions", content=b'{"prompt": "x"}'), 415)
        preflight = httpx.options(
            f"{url}/v1/chat/completions",
            headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
        )
        assert "access-control-allow-origin" not in preflight.headers
        assert not engine.started.is_set()  # nothing was generated
        assert client(url).chat.completions.create(model="fake", messages=USER).choices[0].message.content == "ok"


def test_cors_only_for_the_origins_given():
    app, _ = make_app(FakeEngine("ok"), cors_origins=("https://app.example",))
    with running(app, free_port()) as url:
        allowed = httpx.options(
            f"{url}/v1/chat/completions",
            headers={"origin": "https://app.example", "access-control-request-method": "POST"},
        )
        assert allowed.headers.get("access-control-allow-origin") == "https://app.example"
        other = httpx.options(
            f"{url}/v1/chat/completions",
            headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
        )
        assert other.headers.get("access-control-allow-origin") != "https://evil.example"


def test_a_foreign_host_header_is_refused():
    """DNS rebinding: evil.example resolves to 127.0.0.1; the browser sends Host: evil.example."""
    app, _ = make_app(FakeEngine("ok"))
    port = free_port()
    with running(app, port) as url:
        for host in ("evil.example", f"evil.example:{port}", "", "localhost.evil.example"):
            response = httpx.get(f"{url}/preflight", headers={"host": host})
            assert_openai_error(response, 400, "host_not_allowed")
            assert "status" not in response.json()
        for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "localhost", f"LOCALHOST.:{port}"):
            assert httpx.get(f"{url}/preflight", headers={"host": host}).json()["status"] == "pass", host
        assert httpx.get(f"{url}/preflight", headers={"host": f"localhost:{port + 1}"}).status_code == 400
        assert client(url).models.list().data[0].id == "fake"  # the official client sends 127.0.0.1:PORT
        for probe in ("/health", "/ready", "/metrics"):  # as a platform's health check or scrape names it
            assert httpx.get(f"{url}{probe}", headers={"host": "my-service.namespace:8000"}).status_code == 200


def test_allowed_hosts_extend_the_loopback_names():
    app, _ = make_app(FakeEngine("ok"), allowed_hosts=frozenset({"gpu-box.lan", "proxy.example:443"}))
    with running(app, free_port()) as url:
        assert httpx.get(f"{url}/preflight", headers={"host": "gpu-box.lan:8000"}).status_code == 200
        assert httpx.get(f"{url}/preflight", headers={"host": "proxy.example:443"}).status_code == 200
        assert httpx.get(f"{url}/preflight", headers={"host": "proxy.example:444"}).status_code == 400
        assert httpx.get(f"{url}/preflight", headers={"host": "evil.example"}).status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        b'{"model": ["x"], "messages": [{"role": "user", "content": "hi"}]}',
        b'{"model": "fake", "seed": ' + b"9" * 70 + b', "messages": [{"role": "user", "content": "hi"}]}',
        b'{"model": "fake", "messages": [{"role": "user", "content": "\\ud800"}]}',
        b'{"model": "fake", "messages": [{"role": "user", "content": "x"}], "temperature": NaN}',
        b'{"model": "fake", "messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"model": "fake", "messages": [{"role": "user", "content": "\xff"}]}',
        b'{"model": "fake", "messages": [{"role": "user", "content": "hi"}], '
        b'"response_format": {"type": "json_object"}}',
        b'{"model": "fake", "messages": [{"role": {"a": 1}, "content": "hi"}]}',
        b'{"model": "fake", "messages": [{"role": "user", "content": "hi"}], "stream_options": [1]}',
        b'["not", "an", "object"]',
        b"",
    ],
)
def test_wrong_typed_fields_are_400_without_internals(body):
    app, _ = make_app(FakeEngine("ok"))
    with running(app, free_port()) as url, httpx.Client() as http:
        for path in ("/v1/chat/completions", "/v1/completions"):
            response = http.post(f"{url}{path}", content=body, headers={"content-type": "application/json"})
            assert_openai_error(response, 400)


def test_a_server_error_is_counted_and_keeps_the_connection():
    engine = FakeEngine("ok")

    def broken(messages):
        raise KeyError("internal detail")

    engine.encode_chat = broken  # type: ignore[method-assign]
    app, _ = make_app(engine)
    with running(app, free_port()) as url:
        with httpx.Client() as http:
            response = http.post(f"{url}/v1/chat/completions", json={"model": "fake", "messages": USER})
            error = assert_openai_error(response, 500)
            assert error["type"] == "server_error" and "internal detail" not in error["message"]
            assert response.headers.get("connection", "").lower() != "close"
            assert http.get(f"{url}/health").status_code == 200  # the same connection goes on
        metrics = httpx.get(f"{url}/metrics").text
        assert 'preflight_serve_requests_total{endpoint="/v1/chat/completions",status="500"} 1' in metrics
        assert 'preflight_serve_errors_total{type="server_error"} 1' in metrics


def test_a_large_body_is_413_and_the_running_stream_goes_on():
    engine = FakeEngine("x" * 20, stepwise=True)
    app, _ = make_app(engine, max_body_bytes=1024 * 1024)
    with running(app, free_port()) as url:
        with httpx.stream(
            "POST", f"{url}/v1/chat/completions", json={"model": "fake", "messages": USER, "stream": True}
        ) as stream:
            lines = stream.iter_lines()
            next(lines)  # the role chunk
            engine.step.release()
            assert '"content":"x"' in next(line for line in lines if line.startswith("data:"))
            port = int(url.rsplit(":", 1)[1])
            # Raw sockets, the upload left unfinished: the answer must come before the body does.
            status, body = raw_request(
                port, "POST /v1/chat/completions", {"Content-Length": str(10_000_000)}, b'{"model": "fake", "mess'
            )
            assert status == 413 and json.loads(body)["error"]["code"] == "request_too_large"
            status, body = raw_request(
                port,
                "POST /v1/completions",
                {"Transfer-Encoding": "chunked"},
                b"".join(b"%x\r\n%s\r\n" % (100_000, b" " * 100_000) for _ in range(11)),
            )
            assert status == 413 and json.loads(body)["error"]["code"] == "request_too_large"
            for _ in range(19):
                engine.step.release()
            rest = [line for line in lines if line.startswith("data:")]
        assert rest[-1] == "data: [DONE]"
        assert engine.outcomes[0].finish_reason == "stop"
        metrics = httpx.get(f"{url}/metrics").text
        assert 'endpoint="/v1/chat/completions",status="413"} 1' in metrics


def raw_request(port: int, request_line: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    """Send a JSON request's head and ``body`` (maybe less than it declares), then read the
    answer: (status, body)."""
    head = {"Host": f"127.0.0.1:{port}", "Content-Type": "application/json", **headers}
    lines = [f"{request_line} HTTP/1.1", *(f"{k}: {v}" for k, v in head.items()), "", ""]
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall("\r\n".join(lines).encode() + body)
        answer = b""
        while True:
            piece = sock.recv(65536)
            if not piece:
                break
            answer += piece
            top, _, rest = answer.partition(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in top.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                None,
            )
            if length is not None and len(rest) >= length:
                break
    top, _, rest = answer.partition(b"\r\n\r\n")
    return int(top.split()[1]), rest


def test_a_prompt_too_long_for_the_context_is_refused_before_tokenizing():
    engine = FakeEngine("ok")
    engine.max_token_chars = 4  # no token stands for more than 4 characters
    encoded: list[int] = []
    encode = engine.encode_text
    engine.encode_text = lambda text: encoded.append(len(text)) or encode(text)  # type: ignore[method-assign]
    app, _ = make_app(engine)
    with running(app, free_port()) as url:
        with pytest.raises(openai.BadRequestError) as caught:
            client(url).completions.create(model="fake", prompt="word " * 2_000)
        assert caught.value.body["code"] == "context_length_exceeded" and caught.value.body["param"] == "prompt"
        assert encoded == []
        assert client(url).completions.create(model="fake", prompt="short", max_tokens=2).choices[0].text == "ok"
        assert encoded == [5]


def test_a_stalled_body_gets_408():
    app, _ = make_app(FakeEngine("ok"), body_timeout_s=0.5)
    port = free_port()
    with running(app, port) as url, socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"prompt": '
        )
        answer = b""
        while b"\r\n\r\n" not in answer:
            piece = sock.recv(4096)
            if not piece:
                break
            answer += piece
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert httpx.get(f"{url}/health").status_code == 200
