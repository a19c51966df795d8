"""Issue 17: a client that sends its whole request and then shuts down its writing side
(shutdown(SHUT_WR)) still reads the whole answer; one that really goes away mid-stream still
stops its generation. Real sockets to the app under serve's own uvicorn protocol."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator

import h11
import httpx
import pytest

from gpu_preflight.serve.app import Service, create_app
from gpu_preflight.serve.connection import HalfCloseProtocol
from gpu_preflight.serve.jobs import Scheduler
from gpu_preflight.serve.metrics import Metrics
from gpu_preflight.serve.protocol import Defaults

from support.serving import FakeEngine, free_port

DEFAULTS = Defaults(
    model_name="fake",
    accepted_names=frozenset({"fake"}),
    max_context=64,
    sampling={"temperature": 1.0, "top_p": 1.0, "top_k": 0},
)
USER = [{"role": "user", "content": "hi"}]


def make_app(engine: FakeEngine):
    metrics = Metrics({"model": "fake"})
    service = Service(engine, Scheduler(engine, 8, metrics), DEFAULTS, metrics, {"status": "pass"})
    return create_app(service), None


def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@contextlib.contextmanager
def serving(app) -> Iterator[tuple[int, object]]:
    """The app on a loopback port as launch runs it (HalfCloseProtocol): (port, server)."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", http=HalfCloseProtocol
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started or not thread.is_alive(), timeout=10)
    assert server.started, "the test server did not start"
    try:
        yield port, server
    finally:
        server.should_exit = True
        thread.join(10)


def request_bytes(port: int, path: str, body: dict) -> bytes:
    raw = json.dumps(body).encode()
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(raw)}\r\n\r\n"
    ).encode() + raw


def read_until_eof(sock: socket.socket) -> bytes:
    received = b""
    while piece := sock.recv(65536):  # the socket's timeout guards against a hang
        received += piece
    return received


def parse_response(raw: bytes) -> tuple[int, bytes]:
    """(status, body) of one HTTP/1.1 response, its chunked encoding undone; it must be whole."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="POST", target="/", headers=[("Host", "x"), ("Content-Length", "0")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(raw)
    status, body = None, b""
    while True:
        event = conn.next_event()
        if isinstance(event, h11.Response):
            status = event.status_code
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            break
        else:
            raise AssertionError(f"the response is not whole: {event!r} after {raw[-200:]!r}")
    assert status is not None
    return status, body


def half_closed_exchange(port: int, path: str, body: dict, before_reading=lambda: None) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request_bytes(port, path, body))
        sock.shutdown(socket.SHUT_WR)
        before_reading()
        return parse_response(read_until_eof(sock))


def sse_data(body: bytes) -> list[str]:
    return [line[len("data: ") :] for line in body.decode().split("\n") if line.startswith("data: ")]


def peer_closed(server) -> bool:
    return any(getattr(c, "peer_closed", False) for c in server.server_state.connections)


def test_a_half_closed_client_gets_its_whole_answer():
    app, _ = make_app(FakeEngine("<think>why</think>answer"))
    with serving(app) as (port, _server):
        status, body = half_closed_exchange(port, "/v1/chat/completions", {"model": "fake", "messages": USER})
        assert status == 200, body
        reply = json.loads(body)
        message = reply["choices"][0]["message"]
        assert (message["content"], message["reasoning_content"]) == ("answer", "why")
        assert reply["choices"][0]["finish_reason"] == "stop"

        status, body = half_closed_exchange(port, "/v1/completions", {"model": "fake", "prompt": "x", "max_tokens": 50})
        assert status == 200 and json.loads(body)["choices"][0]["text"] == "<think>why</think>answer"


def test_a_half_closed_client_gets_its_whole_stream():
    app, _ = make_app(FakeEngine("<think>why</think>answer"))
    with serving(app) as (port, _server):
        status, body = half_closed_exchange(
            port, "/v1/chat/completions", {"model": "fake", "messages": USER, "stream": True}
        )
        assert status == 200, body
        events = sse_data(body)
        assert events[-1] == "[DONE]"
        chunks = [json.loads(event) for event in events[:-1]]
        deltas = [chunk["choices"][0]["delta"] for chunk in chunks]
        assert "".join(d.get("reasoning_content", "") for d in deltas) == "why"
        assert "".join(d.get("content", "") for d in deltas) == "answer"
        assert chunks[-1]["choices"][0]["finish_reason"] == "stop"

        status, body = half_closed_exchange(
            port, "/v1/completions", {"model": "fake", "prompt": "x", "max_tokens": 50, "stream": True}
        )
        events = sse_data(body)
        assert status == 200 and events[-1] == "[DONE]"
        assert "".join(json.loads(e)["choices"][0]["text"] for e in events[:-1]) == "<think>why</think>answer"


@pytest.mark.parametrize("stream", [False, True])
def test_the_answer_is_generated_after_the_half_close(stream):
    """The EOF reaches the server while it still owes the answer (generation held)."""
    engine = FakeEngine("x" * 10, stepwise=True)
    app, _ = make_app(engine)
    with serving(app) as (port, server):

        def then_generate() -> None:
            wait_for(engine.started.is_set)
            wait_for(lambda: peer_closed(server))  # the server has read the EOF, kept the connection
            for _ in range(10):
                engine.step.release()

        body = {"model": "fake", "prompt": "x", "stream": stream}
        status, answer = half_closed_exchange(port, "/v1/completions", body, then_generate)
        assert status == 200, answer
        if stream:
            events = sse_data(answer)
            assert events[-1] == "[DONE]"
            assert "".join(json.loads(e)["choices"][0]["text"] for e in events[:-1]) == "x" * 10
        else:
            assert json.loads(answer)["choices"][0]["text"] == "x" * 10
        assert engine.outcomes[0].finish_reason == "stop"
        assert 'status="499"' not in httpx.get(f"http://127.0.0.1:{port}/metrics").text


def test_a_client_that_closes_mid_stream_stops_its_generation():
    engine = FakeEngine("x" * 50, stepwise=True)
    app, _ = make_app(engine)
    with serving(app) as (port, server):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                request_bytes(port, "/v1/chat/completions", {"model": "fake", "messages": USER, "stream": True})
            )
            received = b""
            while b'"role"' not in received:
                received += sock.recv(65536)
            engine.step.release()
            while b'"content":"x"' not in received:
                received += sock.recv(65536)
        wait_for(lambda: peer_closed(server))  # all read, then closed: to the server, a half-close
        # The client is gone all the same: the next writes fail and end the generation.
        deadline = time.monotonic() + 10
        while not engine.outcomes:
            assert time.monotonic() < deadline, "the generation was not stopped"
            engine.step.release()
            time.sleep(0.02)
        assert engine.outcomes[0].finish_reason == "cancelled" and engine.outcomes[0].completion_tokens < 50


def test_a_client_gone_after_a_whole_request_is_generated_for_in_full():
    """The trade-off of issue 17: without a stream nothing is written until the answer is
    whole, so a client that went away after its request costs that one generation."""
    engine = FakeEngine("x" * 10, stepwise=True)
    app, _ = make_app(engine)
    with serving(app) as (port, server):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(request_bytes(port, "/v1/completions", {"model": "fake", "prompt": "x", "max_tokens": 50}))
            wait_for(engine.started.is_set)
        wait_for(lambda: peer_closed(server))
        for _ in range(10):
            engine.step.release()
        wait_for(lambda: engine.outcomes)
        assert engine.outcomes[0].finish_reason == "stop"
        assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200  # the server goes on


def test_eof_before_a_whole_request_is_a_client_gone():
    engine = FakeEngine("ok")
    app, _ = make_app(engine)
    with serving(app) as (port, _server):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                f"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                'Content-Length: 100\r\n\r\n{"prompt": '.encode()
            )
            sock.shutdown(socket.SHUT_WR)
            assert read_until_eof(sock) == b""  # closed, no answer
        assert not engine.started.is_set()
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert 'status="499"' in metrics  # counted as the client closing, as before
