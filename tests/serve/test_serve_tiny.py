"""`preflight serve` end to end: a tiny random Qwen2 chat model built locally, served on a free
loopback port by a real process, driven with the official openai client."""

from __future__ import annotations

import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from support.serving import ServeProcess

USER = [{"role": "user", "content": "hello world"}]
NAME = "tiny-qwen2"  # the directory's name


def client(server, key: str = "none") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=60)


def test_ready_is_503_until_a_forward_pass_succeeded(server):
    assert server.ready_statuses[0] == 503 and server.ready_statuses[-1] == 200
    assert httpx.get(f"{server.url}/health").json()["status"] == "alive"


def test_model_list(server):
    models = client(server).models.list().data
    assert [m.id for m in models] == [NAME] and models[0].max_model_len == 512


def test_chat(server):
    reply = client(server).chat.completions.create(model=NAME, messages=USER, max_tokens=12, seed=1)
    choice = reply.choices[0]
    assert reply.object == "chat.completion" and choice.message.role == "assistant"
    assert isinstance(choice.message.content, str) and choice.finish_reason in ("stop", "length")
    assert 1 <= reply.usage.completion_tokens <= 12 and reply.usage.prompt_tokens > 0
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_streaming_gives_the_same_text_as_one_answer(server):
    fixed = {"model": NAME, "messages": USER, "max_tokens": 24, "temperature": 0, "extra_body": {"ignore_eos": True}}
    whole = client(server).chat.completions.create(**fixed)
    chunks = list(client(server).chat.completions.create(**fixed, stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-2].choices[0].finish_reason == "length"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 24
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == whole.choices[0].message.content
    raw = httpx.post(
        f"{server.url}/v1/chat/completions", json={"model": NAME, "messages": USER, "max_tokens": 3, "stream": True}
    ).text
    assert raw.rstrip().endswith("data: [DONE]")


def test_completions(server):
    reply = client(server).completions.create(
        model=NAME, prompt="the quick brown", max_tokens=16, extra_body={"ignore_eos": True}
    )
    assert (
        reply.object == "text_completion"
        and reply.usage.completion_tokens == 16
        and reply.choices[0].finish_reason == "length"
    )
    streamed = client(server).completions.create(model=NAME, prompt="the quick brown", max_tokens=5, stream=True)
    assert [c.choices[0].finish_reason for c in streamed][-1] in ("stop", "length")


def test_a_seed_makes_sampling_repeatable(server):
    def ask() -> str:
        completion = client(server).completions.create(
            model=NAME, prompt="hello", max_tokens=20, temperature=1.0, top_p=0.9, seed=1234
        )
        return completion.choices[0].text

    assert ask() == ask()


def test_stop_strings_cut_the_text(server):
    fixed = {
        "model": NAME,
        "prompt": "the lazy dog",
        "max_tokens": 40,
        "temperature": 0,
        "extra_body": {"ignore_eos": True},
    }
    text = client(server).completions.create(**fixed).choices[0].text
    stop = next(
        text[i : i + 2] for i in range(4, len(text) - 2) if text[i : i + 2].isprintable() and text[i : i + 2].strip()
    )
    cut = client(server).completions.create(**fixed, stop=[stop]).choices[0]
    assert cut.text == text[: text.index(stop)] and cut.finish_reason == "stop"


def test_eight_concurrent_clients_each_get_their_own_answer(server):
    prompts = [f"the quick brown fox {i}" for i in range(8)]

    def ask(prompt: str) -> str:
        return (
            client(server).completions.create(model=NAME, prompt=prompt, max_tokens=16, temperature=0).choices[0].text
        )

    one_by_one = [ask(p) for p in prompts]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(ask, prompts))
    assert together == one_by_one


@pytest.mark.parametrize(
    ("request_fields", "param"),
    [
        ({"max_tokens": -5}, "max_tokens"),
        ({"max_tokens": 100_000}, "max_tokens"),
        ({"model": ["gpt-4o"]}, "model"),
        ({"seed": 10**70}, "seed"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"messages": [{"role": "user", "content": "hello " * 600}]}, "messages"),
        ({"temperature": -1}, "temperature"),
        ({"n": 3}, "n"),
    ],
)
def test_invalid_requests_are_400(server, request_fields, param):
    with pytest.raises(openai.BadRequestError) as caught:
        client(server).chat.completions.create(**{"model": NAME, "messages": USER, **request_fields})
    assert caught.value.status_code == 400 and caught.value.body["param"] == param


def test_huge_prompts_are_refused_before_tokenizing_while_a_stream_goes_on(server):
    stream = client(server).chat.completions.create(
        model=NAME, messages=USER, max_tokens=64, stream=True, extra_body={"ignore_eos": True}
    )
    chunks = iter(stream)
    next(chunks)
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:  # 10 MB declared, 1 kB sent
        sock.sendall(
            b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 10000000\r\n\r\n" + b'{"prompt": "' + b"a" * 1000
        )
        assert sock.recv(65536).startswith(b"HTTP/1.1 413 ")
    too_long = httpx.post(f"{server.url}/v1/completions", json={"model": NAME, "prompt": "word " * 600_000}, timeout=60)
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "context_length_exceeded"
    assert sum(1 for chunk in chunks if chunk.choices and chunk.choices[0].delta.content) > 1


def test_an_unknown_model_is_404(server):
    with pytest.raises(openai.NotFoundError) as caught:
        client(server).chat.completions.create(model="gpt-4o", messages=USER)
    assert caught.value.body["code"] == "model_not_found" and caught.value.body["param"] == "model"


def test_metrics(server):
    client(server).completions.create(model=NAME, prompt="hello", max_tokens=4, extra_body={"ignore_eos": True})
    text = httpx.get(f"{server.url}/metrics").text
    lines = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert float(lines['preflight_serve_requests_total{endpoint="/v1/completions",status="200"}']) >= 1
    assert float(lines["preflight_serve_generation_tokens_total"]) >= 4
    assert float(lines["preflight_serve_time_to_first_token_seconds_count"]) >= 1
    assert lines["preflight_serve_requests_waiting"] == "0" and lines["preflight_serve_ready"] == "1"
    assert float(lines['preflight_serve_errors_total{type="invalid_request_error"}']) >= 1


def test_preflight_is_the_doctor_report_with_the_derived_settings(server):
    report = httpx.get(f"{server.url}/preflight").json()
    assert report["schema"] == "gpu-preflight/report/v1" and {"status", "host", "findings"} <= set(report)
    settings = report["serve"]["settings"]
    assert (settings["device"], settings["dtype"], settings["max_context"]) == ("cpu", "float32", 512)
    if not report["host"]["gpus"]:  # this machine has no GPU: the fallback is loud
        assert report["findings"][0]["code"] == "serve-cpu-fallback"


def test_profile_system_prompt_api_key_and_sigterm(tiny_model, tmp_path):
    """A second server: VibeThinker's profile, an API key; SIGTERM lets the running stream end."""
    from transformers import AutoTokenizer

    serve = ServeProcess(tiny_model, "--profile", "VibeThinker-1.5B", "--api-key", "k3y", log=tmp_path / "serve.log")
    try:
        serve.wait_until_ready()
        with pytest.raises(openai.AuthenticationError):
            client(serve, "bad").models.list()
        keyed = client(serve, "k3y")
        tokenizer = AutoTokenizer.from_pretrained(tiny_model)
        system = [
            {"role": "system", "content": "You are a programming assistant. Solve the following problem step by step:"}
        ]
        prompt = tokenizer.apply_chat_template(system + USER, tokenize=False, add_generation_prompt=True)
        expected = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        assert keyed.chat.completions.create(model=NAME, messages=USER, max_tokens=1).usage.prompt_tokens == expected
        own = [{"role": "system", "content": "x"}, *USER]
        assert keyed.chat.completions.create(model=NAME, messages=own, max_tokens=1).usage.prompt_tokens < expected

        stream = keyed.completions.create(
            model=NAME, prompt="hello", max_tokens=480, stream=True, extra_body={"ignore_eos": True}
        )
        first = next(iter(stream))
        serve.process.send_signal(signal.SIGTERM)
        rest = list(stream)
        assert first.choices[0].finish_reason is None and rest[-1].choices[0].finish_reason == "length"
        assert serve.process.wait(30) == 0
        log = serve.log.read_text()
        assert "Shutting down" in log and "Waiting for connections to close" in log
    finally:
        serve.stop()


def test_a_stream_whose_client_leaves_frees_its_place_in_the_batch(server):
    def gauges() -> dict[str, str]:
        text = httpx.get(f"{server.url}/metrics").text
        return dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))

    generated_before = float(gauges()["preflight_serve_generation_tokens_total"])
    body = {"model": NAME, "prompt": "hello", "max_tokens": 500, "stream": True, "ignore_eos": True}
    with httpx.stream("POST", f"{server.url}/v1/completions", json=body, timeout=60) as response:
        assert next(response.iter_lines()).startswith("data: ")  # generating; then the client leaves
    deadline = time.monotonic() + 20
    while gauges()["preflight_serve_requests_running"] != "0":  # its row leaves the batch at the next token
        assert time.monotonic() < deadline, "the abandoned stream still holds its place in the batch"
        time.sleep(0.05)
    assert float(gauges()["preflight_serve_generation_tokens_total"]) - generated_before < 500  # cut short
    settings = httpx.get(f"{server.url}/preflight").json()["serve"]["settings"]
    assert settings["max_batch"] > 1 and settings["threads"] >= 1  # derived, with their reasons
    assert {"max_batch", "threads", "engine"} <= set(settings["why"])
