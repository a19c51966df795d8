"""Parameter counts from config.json: the issue's exact numbers, every built-in profile, bad
configs, and transformers instantiating the same configs on the meta device."""

from __future__ import annotations

import json

import pytest

from gpu_preflight.core.errors import UsageError
from gpu_preflight.fit import data, plan_memory
from gpu_preflight.fit.model_shape import count_parameters, shape_from_config
from gpu_preflight.fit.sources import Model, find_profile, resolve_model

from support.fit_inputs import VIBE_CONFIG, VIBE_KV_BF16_PER_TOKEN, VIBE_PARAMS


def _count(config: dict) -> int:
    return count_parameters(shape_from_config(config, "test")).total


def _model(config: dict) -> Model:
    shape = shape_from_config(config, "test")
    return Model("test", "directory", "test", shape, count_parameters(shape))


def test_vibethinker_shape_has_the_issues_exact_parameter_count():
    assert _count(VIBE_CONFIG) == VIBE_PARAMS


def test_vibethinker_bf16_kv_cache_is_28672_bytes_per_token():
    plan = plan_memory(_model(VIBE_CONFIG), dtype="bfloat16", context=4096)
    assert plan.kv_bytes_per_token == VIBE_KV_BF16_PER_TOKEN
    assert plan.kv_bytes_per_token == 2 * 28 * 2 * 128 * 2


def test_vibethinker_profile_is_the_issues_shape():
    model = resolve_model("VibeThinker-1.5B")
    assert model.source == "profile" and model.params == VIBE_PARAMS
    assert model.shape.head_dim == 128 and model.shape.tied_embeddings


def test_untying_adds_exactly_one_output_head():
    untied = {**VIBE_CONFIG, "tie_word_embeddings": False}
    assert _count(untied) - _count(VIBE_CONFIG) == 151936 * 1536


def test_qwen2_biases_are_counted_on_q_k_v_only():
    llama_shaped = {**VIBE_CONFIG, "model_type": "llama"}  # no biases by default
    assert _count(VIBE_CONFIG) - _count(llama_shaped) == 28 * (1536 + 2 * 256)


def test_grouped_kv_heads_shrink_k_and_v():
    full = {**VIBE_CONFIG, "num_key_value_heads": 12}
    assert _count(full) - _count(VIBE_CONFIG) == 28 * 2 * (1536 + 1) * (1536 - 256)


@pytest.mark.parametrize("profile", data.profiles(), ids=lambda p: p["id"])
def test_every_profile_names_a_source_and_parses(profile):
    assert profile["source"].strip()
    shape = shape_from_config(profile["config"], profile["id"])
    assert not shape.approximate
    assert count_parameters(shape).total > 0
    for alias in [profile["id"], *profile.get("aliases", [])]:
        assert find_profile(alias)["id"] == profile["id"]


@pytest.mark.parametrize(
    "profile_id, published",
    [
        ("Qwen/Qwen2.5-0.5B-Instruct", 494_032_768),  # model card: 0.49B
        ("Qwen/Qwen2.5-1.5B-Instruct", 1_543_714_304),  # model card: 1.54B
        ("Qwen/Qwen2.5-7B-Instruct", 7_615_616_512),  # model card: 7.61B
        ("meta-llama/Llama-3.2-1B", 1_235_814_400),  # 1.23B
        ("meta-llama/Llama-3.2-3B", 3_212_749_824),  # 3.21B
        ("microsoft/Phi-3-mini-4k-instruct", 3_821_079_552),  # 3.8B
        ("mistralai/Mistral-7B-Instruct-v0.3", 7_248_023_552),  # 7.25B
        ("Qwen/Qwen1.5-MoE-A2.7B", 14_315_784_192),  # 14.3B total
    ],
)
def test_profiles_match_the_published_sizes(profile_id, published):
    assert resolve_model(profile_id).params == published


def test_moe_active_parameters_are_fewer():
    model = resolve_model("Qwen1.5-MoE-A2.7B")
    assert 2.6e9 < model.computed.active < 2.9e9  # "A2.7B"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"hidden_size": None}, "has no hidden_size"),
        ({"hidden_size": "1536"}, "hidden_size must be an integer"),
        ({"num_hidden_layers": -1}, "num_hidden_layers must be an integer"),
        ({"num_hidden_layers": 10**9}, "num_hidden_layers must be an integer"),
        ({"vocab_size": 2**40}, "vocab_size must be an integer"),
        ({"num_key_value_heads": 5}, "not a multiple"),
        ({"tie_word_embeddings": "yes"}, "must be true or false"),
        ({"intermediate_size": True}, "intermediate_size must be an integer"),
    ],
)
def test_bad_config_values_are_one_line_usage_errors(change, message):
    config = {k: v for k, v in {**VIBE_CONFIG, **change}.items() if v is not None}
    with pytest.raises(UsageError, match=message):
        shape_from_config(config, "config.json")


def test_config_must_be_an_object():
    with pytest.raises(UsageError, match="not a JSON object"):
        shape_from_config([1, 2], "config.json")


def test_unknown_model_type_is_counted_llama_style_and_says_so():
    shape = shape_from_config({**VIBE_CONFIG, "model_type": "frobnitz"}, "x")
    assert shape.approximate and shape.family == "llama"
    assert any("approximate" in note for note in shape.notes)


def test_multimodal_text_config_is_read():
    config = {"model_type": "gemma3", "text_config": {**VIBE_CONFIG}, "torch_dtype": "bfloat16"}
    shape = shape_from_config(config, "x")
    assert count_parameters(shape).total == VIBE_PARAMS and shape.notes


# --- transformers on the meta device ---------------------------------------------------------

TINY = dict(
    hidden_size=64,
    intermediate_size=160,
    num_hidden_layers=3,
    num_attention_heads=4,
    num_key_value_heads=2,
    vocab_size=1000,
)
ARCHITECTURES = {
    "qwen2": dict(TINY, tie_word_embeddings=True),
    "qwen2-untied": dict(TINY, tie_word_embeddings=False),
    "llama-biases": dict(TINY, attention_bias=True, mlp_bias=True, head_dim=32),
    "mistral": dict(TINY, num_key_value_heads=1),
    "phi3": dict(TINY, num_key_value_heads=4, pad_token_id=0),
    "gemma": dict(TINY, head_dim=16),
    "gemma2": dict(TINY, head_dim=16),
    "gemma3_text": dict(TINY, head_dim=16),
    "qwen3": dict(TINY, head_dim=32),
    "mixtral": dict(TINY, num_local_experts=4, num_experts_per_tok=2),
    "qwen2_moe": dict(
        TINY,
        num_hidden_layers=4,
        moe_intermediate_size=48,
        shared_expert_intermediate_size=96,
        num_experts=6,
        num_experts_per_tok=2,
        decoder_sparse_step=2,
        mlp_only_layers=[3],
    ),
    "qwen3_moe": dict(
        TINY, head_dim=16, moe_intermediate_size=48, num_experts=6, num_experts_per_tok=2, mlp_only_layers=[0]
    ),
}


def _meta_count(model_type: str, config: dict) -> tuple[int, dict]:
    transformers = pytest.importorskip(
        "transformers", reason="transformers is not installed (a CPU build of torch plus transformers is enough)"
    )
    torch = pytest.importorskip("torch", reason="torch is not installed")
    hf_config = transformers.AutoConfig.for_model(model_type, **config)
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(hf_config)
    as_json = json.loads(json.dumps(hf_config.to_dict(), default=str))  # what save_pretrained writes
    return sum(p.numel() for p in model.parameters()), as_json


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_count_matches_transformers_on_the_meta_device(name):
    real, config_json = _meta_count(name.split("-")[0], ARCHITECTURES[name])
    assert _count(config_json) == real


@pytest.mark.parametrize("profile", data.profiles(), ids=lambda p: p["id"])
def test_full_size_profiles_match_transformers_on_the_meta_device(profile):
    config = {k: v for k, v in profile["config"].items() if k not in ("architectures", "model_type", "torch_dtype")}
    real, _ = _meta_count(profile["config"]["model_type"], config)
    assert resolve_model(profile["id"]).params == real
