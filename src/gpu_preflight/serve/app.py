"""The HTTP API of the built-in engine (FastAPI): OpenAI's /v1 routes plus /health, /ready,
/metrics and /preflight. Handlers validate, tokenise and queue; the generation thread
(serve/jobs.py) runs the model; text comes back as it is generated."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import (
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gpu_preflight.serve import protocol
from gpu_preflight.serve.engine import EngineError, PromptError, PromptTooLong
from gpu_preflight.serve.jobs import Job, QueueFull, Sampling, Scheduler
from gpu_preflight.serve.metrics import Metrics
from gpu_preflight.serve.protocol import ApiError, Defaults
from gpu_preflight.serve.text import ReasoningSplitter, split_reasoning

log = logging.getLogger("gpu_preflight.serve")
CLIENT_CLOSED = 499  # nginx's status for "the client closed the request": only ever seen in /metrics
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
MAX_BODY_BYTES = 4 * 1024 * 1024  # a request body beyond this is refused with 413 before it is read
BODY_TIMEOUT_S = 30.0  # the whole body must arrive within this, or 408


@dataclass
class Service:
    """Everything the routes need; built by serve/launch.py (or a test)."""

    engine: Any  # encode_chat(messages) -> (ids, opens_think), encode_text(text) -> ids
    scheduler: Scheduler
    defaults: Defaults
    metrics: Metrics
    preflight: dict[str, Any]  # the doctor report (gpu-preflight/report/v1) plus a "serve" section
    api_key: str | None = None
    created: int = field(default_factory=protocol.now)
    # Host header names accepted ("name" any port, "name:port" exactly, "*" any); the loopback
    # names on the bound port are always accepted. Refusing the rest defeats DNS rebinding.
    allowed_hosts: frozenset[str] = frozenset()
    cors_origins: tuple[str, ...] = ()  # empty: no CORS headers, so browsers keep other sites out
    max_body_bytes: int = MAX_BODY_BYTES
    body_timeout_s: float = BODY_TIMEOUT_S


def create_app(service: Service) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.scheduler.start()
        yield
        # uvicorn gets here after the in-flight responses finished (SIGTERM, Ctrl-C).
        await run_in_threadpool(service.scheduler.stop)

    app = FastAPI(title="gpu-preflight serve", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    # The last added is the outermost: count everything, then refuse foreign hosts and bodies
    # that are not JSON or too large, before CORS or a route sees them.
    if service.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(service.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(
        _Guard,
        metrics=service.metrics,
        allowed_hosts=service.allowed_hosts,
        max_body_bytes=service.max_body_bytes,
    )
    app.add_middleware(_CountRequests, metrics=service.metrics)
    defaults, scheduler, metrics = service.defaults, service.scheduler, service.metrics

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        metrics.error(exc.type)
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        return await api_error(
            request, ApiError(exc.status_code, f"{request.method} {request.url.path}: {exc.detail}", type=kind)
        )

    def authorize(request: Request) -> None:
        if service.api_key is None:
            return
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), service.api_key.encode()):
            raise ApiError(
                401,
                "Incorrect API key provided: send 'Authorization: Bearer KEY' with the key given to --api-key",
                code="invalid_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )

    def require_ready() -> None:
        if scheduler.state == "ready":
            return
        if scheduler.state == "failed":
            raise ApiError(500, f"the model failed to load: {scheduler.failure}", type="server_error")
        raise ApiError(
            503,
            "the model is still loading: GET /ready answers 200 once it can serve",
            type="service_unavailable",
            code="model_loading",
            headers={"Retry-After": "5"},
        )

    from gpu_preflight.serve.pages import add_routes as add_pages

    add_pages(app)  # GET / (chat), /report, /static/<name>: no secret in them, so no key; their API calls send it

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "alive", "model": scheduler.state}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        body = {"status": scheduler.state, "model": defaults.model_name}
        if scheduler.failure:
            body["error"] = scheduler.failure
        return JSONResponse(body, status_code=200 if scheduler.state == "ready" else 503)

    @app.get("/metrics")
    async def prometheus() -> PlainTextResponse:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/preflight")
    async def preflight(request: Request) -> dict[str, Any]:
        authorize(request)
        return service.preflight

    @app.get("/v1/models")
    async def models(request: Request) -> dict[str, Any]:
        authorize(request)
        require_ready()  # clients poll /v1/models for readiness (as with vLLM): it lists a model only once it answers
        return protocol.model_list(defaults.model_name, service.created, defaults.max_context)

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        authorize(request)
        messages, options = protocol.parse_chat(await body(request), defaults)
        require_ready()
        check_size(sum(len(m["content"]) for m in messages), "messages")
        try:
            prompt_ids, opens_think = await run_in_threadpool(service.engine.encode_chat, messages)
        except PromptTooLong as exc:
            raise ApiError(400, str(exc), param="messages", code="context_length_exceeded") from None
        except PromptError as exc:
            raise ApiError(400, str(exc), param="messages") from None
        job = _submit(
            prompt_ids,
            protocol.sampling_for(options, len(prompt_ids), defaults, defaults.max_new_tokens),
            options.stream,
        )
        id, created = protocol.new_id("chatcmpl"), protocol.now()
        if options.stream:
            return _EventStream(_chat_events(job, id, created, opens_think, options.include_usage))
        text = await _collect(request, job)
        if text is None:
            return Response(status_code=CLIENT_CLOSED)
        reasoning, content = split_reasoning(text, opens_think)
        return JSONResponse(
            protocol.chat_completion(id, created, defaults.model_name, content, reasoning, job.final_outcome)
        )

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        authorize(request)
        prompt, options = protocol.parse_completion(await body(request), defaults)
        require_ready()
        check_size(len(prompt), "prompt")
        try:
            prompt_ids = await run_in_threadpool(service.engine.encode_text, prompt)
        except PromptTooLong as exc:
            raise ApiError(400, str(exc), param="prompt", code="context_length_exceeded") from None
        job = _submit(
            prompt_ids,
            protocol.sampling_for(options, len(prompt_ids), defaults, protocol.COMPLETIONS_DEFAULT_MAX_TOKENS),
            options.stream,
        )
        id, created = protocol.new_id("cmpl"), protocol.now()
        if options.stream:
            return _EventStream(_completion_events(job, id, created, options.include_usage))
        text = await _collect(request, job)
        if text is None:
            return Response(status_code=CLIENT_CLOSED)
        return JSONResponse(protocol.completion(id, created, defaults.model_name, text, job.final_outcome))

    async def body(request: Request) -> Any:
        return _parse_json(await _read_body(request, service.max_body_bytes, service.body_timeout_s))

    def check_size(chars: int, param: str) -> None:
        """Refuse a prompt that cannot fit before tokenizing it: no token is longer than the
        engine's longest vocabulary entry, so chars / that is a floor on its token count."""
        longest = getattr(service.engine, "max_token_chars", None)
        if not isinstance(longest, int) or longest < 1:
            return
        floor = chars // (2 * longest)  # halved: a normalizer may compose characters
        if floor >= defaults.max_context:
            raise ApiError(
                400,
                f"the prompt is at least {floor} tokens ({chars} characters); this server's context is "
                f"{defaults.max_context} tokens (prompt plus output)",
                param=param,
                code="context_length_exceeded",
            )

    def _submit(prompt_ids: list[int], sampling: Sampling, streaming: bool) -> Job:
        job = Job(prompt_ids, sampling, asyncio.get_running_loop(), streaming)
        try:
            scheduler.submit(job)
        except QueueFull as exc:
            raise ApiError(
                503,
                f"the server is at capacity: {exc}; retry shortly",
                type="server_overloaded",
                code="queue_full",
                headers={"Retry-After": "1"},
            ) from None
        return job

    async def _collect(request: Request, job: Job) -> str | None:
        """The whole text, or None when the client disconnected first (generation stopped).
        Under launch's HalfCloseProtocol a client's EOF after its complete request is taken for
        a half-close, not a disconnect: for a client that really went away the answer is then
        generated in full (bounded by max_tokens) and its write fails quietly (serve/connection.py)."""
        collecting = asyncio.ensure_future(job.text())
        watching = asyncio.ensure_future(_disconnected(request))
        try:
            done, _ = await asyncio.wait({collecting, watching}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            watching.cancel()
        if collecting in done:
            try:
                return collecting.result()
            except EngineError as exc:
                raise ApiError(500, str(exc), type="server_error") from None
        collecting.cancel()
        scheduler.withdraw(job)
        log.info("client disconnected: generation stopped")
        return None

    async def _chat_events(
        job: Job, id: str, created: int, opens_think: bool, include_usage: bool
    ) -> AsyncGenerator[bytes, None]:
        name, splitter = defaults.model_name, ReasoningSplitter(opens_think)

        def chunk(delta: dict[str, str], finish_reason: str | None = None) -> bytes:
            return protocol.sse(protocol.chat_chunk(id, created, name, delta, finish_reason, include_usage))

        templates = {
            kind: protocol.ChunkTemplate(
                protocol.chat_chunk(id, created, name, {field: ""}, None, include_usage), ("choices", 0, "delta", field)
            )
            for kind, field in (("reasoning", "reasoning_content"), ("content", "content"))
        }

        def pieces(parts: list[tuple[str, str]]) -> list[bytes]:
            return [templates[kind].render(text) for kind, text in parts]

        try:
            yield chunk({"role": "assistant", "content": ""})
            async for text in job.stream():
                for event in pieces(splitter.feed(text)):
                    yield event
            for event in pieces(splitter.flush()):
                yield event
            yield chunk({}, job.final_outcome.finish_reason)
            if include_usage:
                yield protocol.sse(protocol.usage_chunk(id, created, name, "chat.completion.chunk", job.final_outcome))
        except Exception as exc:  # noqa: BLE001 - the status line is sent: the error goes in the stream
            yield _stream_error(exc)
        finally:
            if job.outcome is None:
                scheduler.withdraw(job)  # the client went away (or the stream failed): stop generating
        yield protocol.sse("[DONE]")

    async def _completion_events(job: Job, id: str, created: int, include_usage: bool) -> AsyncGenerator[bytes, None]:
        name = defaults.model_name
        template = protocol.ChunkTemplate(
            protocol.completion_chunk(id, created, name, "", None, include_usage), ("choices", 0, "text")
        )
        try:
            async for text in job.stream():
                yield template.render(text)
            yield protocol.sse(
                protocol.completion_chunk(id, created, name, "", job.final_outcome.finish_reason, include_usage)
            )
            if include_usage:
                yield protocol.sse(protocol.usage_chunk(id, created, name, "text_completion", job.final_outcome))
        except Exception as exc:  # noqa: BLE001
            yield _stream_error(exc)
        finally:
            if job.outcome is None:
                scheduler.withdraw(job)
        yield protocol.sse("[DONE]")

    def _stream_error(exc: Exception) -> bytes:
        error = exc if isinstance(exc, ApiError) else _server_error(exc)
        metrics.error(error.type)
        log.warning("stream failed: %s", error.message)
        return protocol.sse(error.body())

    return app


def _server_error(exc: Exception) -> ApiError:
    """An engine's own message (it says what to change); anything else stays in the log."""
    if isinstance(exc, EngineError):
        return ApiError(500, str(exc), type="server_error")
    return ApiError(500, "the server failed on this request; the details are in its log", type="server_error")


async def _read_body(request: Request, limit: int, timeout: float) -> bytes:
    """The whole body, within ``timeout`` seconds and ``limit`` bytes (a chunked body declares
    no length: it is counted as it comes)."""

    async def read() -> bytes:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
        return b"".join(chunks)

    try:
        return await asyncio.wait_for(read(), timeout)
    except asyncio.TimeoutError:
        raise ApiError(
            408,
            f"the request body did not arrive within {timeout:g} s",
            code="request_timeout",
            headers={"Connection": "close"},
        ) from None
    except ClientDisconnect:
        raise ApiError(CLIENT_CLOSED, "the client closed the connection", code="client_closed") from None


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        f"the request body is larger than this server's limit of {limit} bytes",
        code="request_too_large",
        headers={"Connection": "close"},
    )


def _parse_json(raw: bytes) -> Any:
    """The body as JSON, or a 400: invalid UTF-8, NaN/Infinity, lone surrogates ("\\ud800",
    which no tokenizer can encode) and nesting deeper than the parser's recursion limit are refused here, not deep in a
    handler."""
    invalid = "the request body is not valid JSON"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, f"{invalid}: not UTF-8") from None
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise ApiError(400, f"{invalid}: nested too deeply") from None
    except ValueError:
        raise ApiError(400, invalid) from None
    if "\\u" in text or "\\U" in text:
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except (UnicodeEncodeError, RecursionError):
            raise ApiError(400, f"{invalid}: a string holds a lone UTF-16 surrogate (\\ud800-\\udfff)") from None
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


class _EventStream(StreamingResponse):
    """Server-sent events whose generator is always closed, so that its ``finally`` stops the
    generation at once when the client goes away, whichever way the server noticed."""

    def __init__(self, events: AsyncGenerator[bytes, None]):
        super().__init__(
            events, media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )
        self._events = events  # the generator itself: body_iterator is typed as any async iterable

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._events.aclose()


class _CountRequests:
    """ASGI middleware: requests by route and status, for /metrics. It is also where an
    unexpected exception becomes a 500 in OpenAI's format (counted, no internals, the
    connection kept), instead of Starlette's outermost handler that re-raises it."""

    ROUTES = ("/v1/chat/completions", "/v1/completions", "/v1/models", "/health", "/ready", "/metrics", "/preflight")

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"] if scope["path"] in self.ROUTES else "other"
        started = False

        async def counting_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                self.metrics.request(path, message["status"])
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        except Exception as exc:
            log.exception("request failed")
            if started:
                raise  # the status line is out: nothing better than closing the connection
            error = _server_error(exc)
            self.metrics.error(error.type)
            await _send_error(counting_send, error)


class _Guard:
    """ASGI middleware, before any route: the Host header must name this server (DNS
    rebinding), a POST body must be declared JSON (a cross-site form or ``text/plain`` POST
    needs no CORS preflight, ``application/json`` does) and no larger than the limit."""

    # Health checks and scrapes name the server however their platform does (a pod's address, a
    # service name); these answer without a key and hold nothing a rebinding page could use.
    PROBES = ("/health", "/ready", "/metrics")

    def __init__(self, app: ASGIApp, metrics: Metrics, allowed_hosts: frozenset[str], max_body_bytes: int):
        self.app, self.metrics, self.max_body_bytes = app, metrics, max_body_bytes
        self.allowed = {name.lower().rstrip(".") for name in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        error = self._refusal(scope)
        if error is not None:
            self.metrics.error(error.type)
            await _send_error(send, error)
            return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope) -> ApiError | None:
        headers = {name.lower(): value for name, value in scope["headers"]}
        host = headers.get(b"host", b"").decode("latin-1")
        if scope["path"] not in self.PROBES and not self._host_allowed(host, scope.get("server")):
            return ApiError(
                400,
                f"the Host header {host!r} does not name this server: add it with --allowed-hosts",
                code="host_not_allowed",
                headers={"Connection": "close"},
            )
        if scope["method"] != "POST":
            return None
        length = headers.get(b"content-length", b"")
        if length.strip().isdigit() and int(length) > self.max_body_bytes:
            return _too_large(self.max_body_bytes)
        media_type = headers.get(b"content-type", b"").decode("latin-1").partition(";")[0].strip().lower()
        if media_type != "application/json":
            return ApiError(
                415,
                f"the request body must be sent as Content-Type: application/json, not {media_type or 'none'!r}",
                code="unsupported_media_type",
                headers={"Connection": "close"},
            )
        return None

    def _host_allowed(self, host: str, server: Any) -> bool:
        if "*" in self.allowed:
            return True
        name, port = _split_host(host.strip().lower())
        if not name:
            return False
        name = name.rstrip(".")
        address, bound = (str(server[0]), str(server[1])) if isinstance(server, (tuple, list)) else (None, None)
        if name in LOOPBACK_NAMES and (port is None or bound is None or port == bound):
            return True
        if name == address and _is_ip(name):
            return True  # the address the connection came in on, as a literal: no DNS name to rebind
        return name in self.allowed or (port is not None and f"{_join_host(name)}:{port}" in self.allowed)


def _split_host(host: str) -> tuple[str, str | None]:
    """ "[::1]:8000" -> ("::1", "8000"); "localhost" -> ("localhost", None)."""
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
        return name, port
    if host.count(":") == 1:
        name, _, port = host.partition(":")
        return name, port
    return host, None


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _join_host(name: str) -> str:
    return f"[{name}]" if ":" in name else name


async def _send_error(send: Send, error: ApiError) -> None:
    await JSONResponse(error.body(), status_code=error.status, headers=error.headers)(
        {"type": "http"}, _no_receive, send
    )


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
