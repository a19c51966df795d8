"""The HTTP API of the built-in engine (FastAPI): OpenAI's /v1 routes plus /health, /ready,
/metrics and /preflight. Handlers validate, tokenise and queue; the generation thread
(serve/jobs.py) runs the model; text comes back as it is generated."""

from __future__ import annotations

import asyncio
import hmac
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
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gpu_preflight.serve import protocol
from gpu_preflight.serve.engine import EngineError, PromptError
from gpu_preflight.serve.jobs import Job, QueueFull, Sampling, Scheduler
from gpu_preflight.serve.metrics import Metrics
from gpu_preflight.serve.protocol import ApiError, Defaults
from gpu_preflight.serve.text import ReasoningSplitter, split_reasoning

log = logging.getLogger("gpu_preflight.serve")
CLIENT_CLOSED = 499  # nginx's status for "the client closed the request": only ever seen in /metrics


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


def create_app(service: Service) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.scheduler.start()
        yield
        # uvicorn gets here after the in-flight responses finished (SIGTERM, Ctrl-C).
        await run_in_threadpool(service.scheduler.stop)

    app = FastAPI(title="gpu-preflight serve", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
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

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("request failed")
        return await api_error(request, _server_error(exc))

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
        return protocol.model_list(defaults.model_name, service.created, defaults.max_context)

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        authorize(request)
        messages, options = protocol.parse_chat(await _body(request), defaults)
        require_ready()
        try:
            prompt_ids, opens_think = await run_in_threadpool(service.engine.encode_chat, messages)
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
        prompt, options = protocol.parse_completion(await _body(request), defaults)
        require_ready()
        prompt_ids = await run_in_threadpool(service.engine.encode_text, prompt)
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
        """The whole text, or None when the client disconnected first (generation stopped)."""
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
    cause = str(exc) if isinstance(exc, EngineError) else f"{type(exc).__name__}: {exc}"
    return ApiError(500, cause, type="server_error")


async def _body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise ApiError(400, "the request body is not valid JSON") from None


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
    """ASGI middleware: requests by route and status, for /metrics."""

    ROUTES = ("/v1/chat/completions", "/v1/completions", "/v1/models", "/health", "/ready", "/metrics", "/preflight")

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"] if scope["path"] in self.ROUTES else "other"

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.metrics.request(path, message["status"])
            await send(message)

        await self.app(scope, receive, counting_send)
