"""The OpenAI wire format: request bodies in (validated, with the server's defaults filled
in) and response documents out. No I/O and no model here: serve/app.py does the calling."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from gpu_preflight.serve.jobs import Outcome, Sampling

ROLES = ("system", "developer", "user", "assistant", "tool")
MAX_STOP_STRINGS = 16
COMPLETIONS_DEFAULT_MAX_TOKENS = 16  # OpenAI's default for /v1/completions
MAX_INT = 2**31 - 1  # token counts and top_k: anything larger is a mistake, and overflows torch
MIN_SEED, MAX_SEED = -(2**63), 2**64 - 1  # what torch.manual_seed accepts


class ApiError(Exception):
    """An error response in OpenAI's format: {"error": {"message", "type", "param", "code"}}."""

    def __init__(
        self,
        status: int,
        message: str,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


@dataclass(frozen=True)
class Defaults:
    """What the server fills in and enforces: derived settings plus the model's profile."""

    model_name: str  # the id /v1/models lists
    accepted_names: frozenset[str]  # names a request may use for it
    max_context: int
    sampling: dict[str, float]  # temperature, top_p, top_k (0: off)
    system_prompt: str | None = None
    max_new_tokens: int | None = None  # a chat request's default max_tokens; None: the rest of the context


@dataclass(frozen=True)
class Options:
    """The request's generation options, before the prompt's length is known."""

    max_tokens: int | None
    temperature: float
    top_p: float
    top_k: int
    stop: tuple[str, ...]
    seed: int | None
    ignore_eos: bool
    stream: bool
    include_usage: bool


def parse_chat(body: Any, defaults: Defaults) -> tuple[list[dict[str, str]], Options]:
    body = _object(body)
    options = _options(body, defaults)
    messages = _messages(body.get("messages"))
    if defaults.system_prompt and not any(m["role"] == "system" for m in messages):
        messages.insert(0, {"role": "system", "content": defaults.system_prompt})
    return messages, options


def parse_completion(body: Any, defaults: Defaults) -> tuple[str, Options]:
    body = _object(body)
    options = _options(body, defaults)
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise ApiError(400, "prompt must be a string (one prompt per request)", param="prompt")
    asked = [key for key in ("echo", "suffix") if body.get(key)] + (
        ["best_of"] if body.get("best_of") not in (None, 1) else []
    )
    if asked:
        raise ApiError(400, f"{asked[0]} is not supported by this server", param=asked[0])
    return prompt, options


def sampling_for(options: Options, prompt_tokens: int, defaults: Defaults, default_max_tokens: int | None) -> Sampling:
    """The job's sampling, checked against the context: prompt plus max_tokens must fit."""
    room = defaults.max_context - prompt_tokens
    if room < 1:
        raise ApiError(
            400,
            f"the prompt is {prompt_tokens} tokens; this server's context is {defaults.max_context} tokens (prompt "
            "plus output), which leaves no room to generate",
            param="messages",
            code="context_length_exceeded",
        )
    if options.max_tokens is None:
        max_tokens = min(room, default_max_tokens) if default_max_tokens else room
    elif options.max_tokens > room:
        raise ApiError(
            400,
            f"max_tokens {options.max_tokens} plus the prompt's {prompt_tokens} tokens exceed this server's context "
            f"of {defaults.max_context} tokens: ask for at most {room}",
            param="max_tokens",
            code="context_length_exceeded",
        )
    else:
        max_tokens = options.max_tokens
    return Sampling(
        max_tokens, options.temperature, options.top_p, options.top_k, options.stop, options.seed, options.ignore_eos
    )


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return body


def _options(body: dict[str, Any], defaults: Defaults) -> Options:
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise ApiError(400, "model must be a string", param="model")
    if model is not None and model not in defaults.accepted_names:
        raise ApiError(
            404,
            f"the model {model!r} does not exist on this server; it serves {defaults.model_name!r}",
            param="model",
            code="model_not_found",
        )
    n = _integer(body, "n", 1, None)
    if n not in (None, 1):
        raise ApiError(400, "n must be 1: this server returns one choice per request", param="n")
    unsupported = [
        key
        for key, asked in (
            ("logprobs", body.get("logprobs") not in (None, False)),
            ("tools", bool(body.get("tools"))),
            ("response_format", body.get("response_format") not in (None, {"type": "text"})),
        )
        if asked
    ]
    if unsupported:
        raise ApiError(400, f"{unsupported[0]} is not supported by this server", param=unsupported[0])
    max_tokens = _integer(body, "max_completion_tokens", 1, MAX_INT)
    if max_tokens is None:
        max_tokens = _integer(body, "max_tokens", 1, MAX_INT)
    top_k = _integer(body, "top_k", -1, MAX_INT)
    stream = _boolean(body, "stream")
    stream_options = body.get("stream_options") or {}
    if not isinstance(stream_options, dict) or not isinstance(stream_options.get("include_usage") or False, bool):
        raise ApiError(400, "stream_options must be an object; include_usage true or false", param="stream_options")
    return Options(
        max_tokens=max_tokens,
        temperature=_choose(_number(body, "temperature", 0.0, 2.0), defaults.sampling["temperature"]),
        top_p=_choose(_number(body, "top_p", 0.0, 1.0, low_open=True), defaults.sampling["top_p"]),
        top_k=max(0, int(_choose(top_k, defaults.sampling["top_k"]))),  # -1 and 0 both mean off
        stop=_stop(body.get("stop")),
        seed=_integer(body, "seed", MIN_SEED, MAX_SEED),
        ignore_eos=_boolean(body, "ignore_eos"),
        stream=stream,
        include_usage=bool(stream_options.get("include_usage")),
    )


def _messages(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise ApiError(400, "messages must be a non-empty list", param="messages")
    messages = []
    for i, message in enumerate(value):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise ApiError(400, f"messages[{i}] needs a role among {', '.join(ROLES)}", param=f"messages[{i}].role")
        role = "system" if message["role"] == "developer" else message["role"]  # chat templates know "system"
        messages.append({"role": role, "content": _content(message.get("content"), i)})
    return messages


def _content(value: Any, index: int) -> str:
    if value is None or isinstance(value, str):
        return value or ""
    if isinstance(value, list) and all(
        isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str) for part in value
    ):
        return "".join(part["text"] for part in value)
    raise ApiError(
        400,
        f"messages[{index}].content must be text: a string or a list of text parts",
        param=f"messages[{index}].content",
    )


def _stop(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    stops = [value] if isinstance(value, str) else value
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops) or len(stops) > MAX_STOP_STRINGS:
        raise ApiError(400, f"stop must be a string or a list of up to {MAX_STOP_STRINGS} strings", param="stop")
    return tuple(s for s in stops if s)


def _number(body: dict[str, Any], key: str, low: float, high: float, low_open: bool = False) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not (low < value if low_open else low <= value)
        or value > high
    ):
        bound = f"({low:g}, {high:g}]" if low_open else f"[{low:g}, {high:g}]"
        raise ApiError(400, f"{key} must be a number in {bound}, got {json.dumps(value)[:80]}", param=key)
    return float(value)


def _integer(body: dict[str, Any], key: str, low: int | None, high: int | None) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or (low is not None and value < low)
        or (high is not None and value > high)
    ):
        bounds = (
            f" in [{low}, {high}]"
            if low is not None and high is not None
            else f" of at least {low}"
            if low is not None
            else ""
        )
        shown = json.dumps(value) if not isinstance(value, int) or abs(value) < 10**30 else "a larger integer"
        raise ApiError(400, f"{key} must be an integer{bounds}, got {shown[:80]}", param=key)
    return value


def _boolean(body: dict[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if value is not None and not isinstance(value, bool):
        raise ApiError(400, f"{key} must be true or false", param=key)
    return bool(value)


def _choose(value: Any, default: Any) -> Any:
    return default if value is None else value


# --- responses ------------------------------------------------------------------------------


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def now() -> int:
    return int(time.time())


def usage(outcome: Outcome) -> dict[str, int]:
    return {
        "prompt_tokens": outcome.prompt_tokens,
        "completion_tokens": outcome.completion_tokens,
        "total_tokens": outcome.prompt_tokens + outcome.completion_tokens,
    }


def chat_completion(
    id: str, created: int, model: str, content: str, reasoning: str | None, outcome: Outcome
) -> dict[str, Any]:
    message = {"role": "assistant", "content": content, "reasoning_content": reasoning}
    return {
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": outcome.finish_reason, "logprobs": None}],
        "usage": usage(outcome),
    }


def chat_chunk(
    id: str,
    created: int,
    model: str,
    delta: dict[str, str],
    finish_reason: str | None = None,
    with_usage_field: bool = False,
) -> dict[str, Any]:
    chunk = {
        "id": id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
    }
    if with_usage_field:
        chunk["usage"] = None  # OpenAI sends null on every chunk but the last when usage is asked for
    return chunk


def usage_chunk(id: str, created: int, model: str, object: str, outcome: Outcome) -> dict[str, Any]:
    return {"id": id, "object": object, "created": created, "model": model, "choices": [], "usage": usage(outcome)}


def completion(id: str, created: int, model: str, text: str, outcome: Outcome) -> dict[str, Any]:
    return {
        "id": id,
        "object": "text_completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "text": text, "finish_reason": outcome.finish_reason, "logprobs": None}],
        "usage": usage(outcome),
    }


class ChunkTemplate:
    """A chunk's JSON rendered once per request, with a hole for the text: one json.dumps per
    streamed piece instead of one per whole chunk."""

    HOLE = "\u0000hole\u0000"

    def __init__(self, document: dict[str, Any], path: tuple[str | int, ...]):
        target: Any = document  # dicts and lists down the path: ("choices", 0, "delta", "content")
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = self.HOLE
        rendered = json.dumps(document, separators=(",", ":"))
        self._before, _, self._after = rendered.partition(json.dumps(self.HOLE))

    def render(self, text: str) -> bytes:
        return f"data: {self._before}{json.dumps(text)}{self._after}\n\n".encode()


def completion_chunk(
    id: str, created: int, model: str, text: str, finish_reason: str | None = None, with_usage_field: bool = False
) -> dict[str, Any]:
    chunk = {
        "id": id,
        "object": "text_completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "text": text, "finish_reason": finish_reason, "logprobs": None}],
    }
    if with_usage_field:
        chunk["usage"] = None
    return chunk


def model_list(model: str, created: int, max_context: int) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {
                "id": model,
                "object": "model",
                "created": created,
                "owned_by": "gpu-preflight",
                "max_model_len": max_context,
            }
        ],
    }


def sse(document: dict[str, Any] | str) -> bytes:
    """One server-sent event; the stream ends with the string "[DONE]"."""
    data = document if isinstance(document, str) else json.dumps(document, separators=(",", ":"))
    return f"data: {data}\n\n".encode()
