"""Request validation and defaults: what a request may ask, and what the server fills in."""

from __future__ import annotations

import pytest

from gpu_preflight.serve.protocol import ApiError, Defaults, parse_chat, parse_completion, sampling_for

DEFAULTS = Defaults(
    model_name="tiny",
    accepted_names=frozenset({"tiny", "/models/tiny"}),
    max_context=100,
    sampling={"temperature": 0.6, "top_p": 0.95, "top_k": 0},
    system_prompt="Be brief.",
    max_new_tokens=40,
)
USER = [{"role": "user", "content": "hi"}]


def chat(**fields):
    return parse_chat({"model": "tiny", "messages": USER, **fields}, DEFAULTS)


def test_profile_defaults_fill_what_the_request_leaves_out():
    messages, options = chat()
    assert (options.temperature, options.top_p, options.top_k) == (0.6, 0.95, 0)
    assert messages[0] == {"role": "system", "content": "Be brief."}
    sampling = sampling_for(options, prompt_tokens=10, defaults=DEFAULTS, default_max_tokens=DEFAULTS.max_new_tokens)
    assert sampling.max_tokens == 40  # the profile's default, within the 90 tokens of room


def test_request_values_win_and_the_system_prompt_is_not_added_twice():
    messages, options = parse_chat(
        {
            "messages": [{"role": "developer", "content": "Mine."}, *USER],
            "temperature": 0,
            "top_k": -1,
            "seed": 7,
            "stop": "x",
        },
        DEFAULTS,
    )
    assert [m["role"] for m in messages] == ["system", "user"] and messages[0]["content"] == "Mine."
    assert (options.temperature, options.top_k, options.seed, options.stop) == (0.0, 0, 7, ("x",))


def test_text_parts_are_joined():
    messages, _ = parse_chat(
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]},
        DEFAULTS,
    )
    assert messages[-1]["content"] == "ab"


def test_default_max_tokens_is_capped_by_the_room_left():
    _, options = chat()
    assert sampling_for(options, 90, DEFAULTS, 40).max_tokens == 10
    assert sampling_for(options, 90, DEFAULTS, None).max_tokens == 10


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"model": ["x"]}, "model"),
        ({"model": {"id": "tiny"}}, "model"),
        ({"seed": 10**70}, "seed"),
        ({"seed": "1"}, "seed"),
        ({"top_k": 10**40}, "top_k"),
        ({"max_tokens": 10**70}, "max_tokens"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}}, "response_format"),
        ({"response_format": "text"}, "response_format"),
        ({"logprobs": True}, "logprobs"),
        ({"stream_options": {"include_usage": "yes"}}, "stream_options"),
        ({"messages": [{"role": ["user"], "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": {"text": "x"}}]}, "messages[0].content"),
        ({"max_tokens": -1}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 2.5}, "max_tokens"),
        ({"temperature": 3}, "temperature"),
        ({"temperature": "hot"}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"n": 2}, "n"),
        ({"stop": 5}, "stop"),
        ({"stream": "yes"}, "stream"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}, "messages[0].content"),
        ({"tools": [{"type": "function"}]}, "tools"),
    ],
)
def test_invalid_requests_are_400_naming_the_field(fields, param):
    with pytest.raises(ApiError) as caught:
        chat(**fields)
    assert caught.value.status == 400 and caught.value.param == param
    assert caught.value.body()["error"]["type"] == "invalid_request_error"


def test_an_unknown_model_is_404_as_openai_answers():
    with pytest.raises(ApiError) as caught:
        chat(model="other")
    assert caught.value.status == 404 and caught.value.code == "model_not_found" and caught.value.param == "model"


def test_plain_text_response_format_and_large_seeds_are_accepted():
    _, options = chat(response_format={"type": "text"}, seed=2**64 - 1)
    assert options.seed == 2**64 - 1
    with pytest.raises(ApiError) as caught:
        chat(seed=10**70)
    assert len(caught.value.message) < 200  # the number is not echoed whole


def test_oversized_max_tokens_and_overlong_prompts_are_400():
    _, options = chat(max_tokens=50)
    with pytest.raises(ApiError) as caught:
        sampling_for(options, 60, DEFAULTS, None)
    assert caught.value.param == "max_tokens" and "at most 40" in caught.value.message
    with pytest.raises(ApiError) as caught:
        sampling_for(chat()[1], 100, DEFAULTS, None)
    assert caught.value.code == "context_length_exceeded"


def test_completion_prompt_forms():
    assert parse_completion({"prompt": ["one"]}, DEFAULTS)[0] == "one"
    with pytest.raises(ApiError):
        parse_completion({"prompt": ["one", "two"]}, DEFAULTS)
    with pytest.raises(ApiError):
        parse_completion({"prompt": "x", "echo": True}, DEFAULTS)
