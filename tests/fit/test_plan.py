"""The memory plan's arithmetic and each engine's rule, against hand-made hosts."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from gpu_preflight.core.errors import UsageError
from gpu_preflight.fit import data, fit_device, fit_devices, plan_memory, resolve_model
from gpu_preflight.fit.model_shape import count_parameters, shape_from_config
from gpu_preflight.fit.plan import vllm_batch_defaults, with_settings
from gpu_preflight.fit.sources import Model

from support.fit_inputs import (
    GIB,
    MIB,
    VIBE_CONFIG,
    VIBE_KV_BF16_PER_TOKEN,
    VIBE_PARAMS,
    gpu,
    host,
)

RULES = data.rules()
T4 = gpu("Tesla T4", 15360, cc="7.5")
H100 = gpu("NVIDIA H100 80GB HBM3", 81559, cc="9.0")
A100 = gpu("NVIDIA A100-SXM4-80GB", 81920, cc="8.0")


@pytest.fixture(scope="module")
def vibe() -> Model:
    return resolve_model("VibeThinker-1.5B")


@pytest.mark.parametrize("dtype, bytes_per_param", [("float32", 4), ("bfloat16", 2), ("float16", 2)])
def test_float_weights_are_params_times_dtype_size(vibe, dtype, bytes_per_param):
    assert plan_memory(vibe, dtype=dtype, context=1).weight_bytes == VIBE_PARAMS * bytes_per_param


@pytest.mark.parametrize("dtype, bits", [("int8", 8), ("fp8", 8), ("int4", 4.15625)])
def test_quantised_weights_keep_the_embedding_at_16_bits(vibe, dtype, bits):
    embedding = 151936 * 1536  # tied: the output head is the same tensor
    expected = math.ceil(embedding * 2 + (VIBE_PARAMS - embedding) * bits / 8)
    assert plan_memory(vibe, dtype=dtype, context=1).weight_bytes == expected


def test_dtype_aliases(vibe):
    assert plan_memory(vibe, dtype="bf16", context=1).settings.dtype == "bfloat16"
    assert plan_memory(vibe, dtype="torch.float16", context=1).settings.dtype == "float16"
    with pytest.raises(UsageError, match="unknown dtype"):
        plan_memory(vibe, dtype="fp7", context=1)


def test_kv_cache_is_two_x_layers_x_kv_heads_x_head_size_x_bytes_x_tokens_x_batch(vibe):
    plan = plan_memory(vibe, context=4096, batch=3, engine="transformers")
    assert plan.breakdown(4096, 3).kv_cache == VIBE_KV_BF16_PER_TOKEN * 4096 * 3


def test_fp8_kv_cache_halves_it_and_fp32_doubles_it(vibe):
    assert plan_memory(vibe, context=1, kv_cache_dtype="fp8").kv_bytes_per_token == VIBE_KV_BF16_PER_TOKEN // 2
    assert plan_memory(vibe, dtype="float32", context=1).kv_bytes_per_token == VIBE_KV_BF16_PER_TOKEN * 2
    with pytest.raises(UsageError, match="kv-cache-dtype"):
        plan_memory(vibe, context=1, kv_cache_dtype="int4")


def test_quantised_weights_compute_and_cache_in_16_bits(vibe):
    plan = plan_memory(vibe, dtype="int4", context=1)
    assert plan.settings.compute_dtype == "bfloat16" and plan.kv_bytes_per_token == VIBE_KV_BF16_PER_TOKEN


def test_vllm_pages_the_kv_cache_in_blocks_of_16(vibe):
    plan = plan_memory(vibe, context=17)
    assert plan.breakdown(17, 1, H100).kv_cache == VIBE_KV_BF16_PER_TOKEN * 32


def test_default_context_is_the_models_limit_and_a_missing_one_needs_context():
    model = resolve_model("Qwen2.5-0.5B-Instruct")
    assert plan_memory(model).settings.context == 32768
    shape = shape_from_config({k: v for k, v in VIBE_CONFIG.items() if k != "max_position_embeddings"}, "x")
    with pytest.raises(UsageError, match="give --context"):
        plan_memory(Model("x", "directory", "x", shape, count_parameters(shape)))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"context": 0}, "--context"),
        ({"batch": 0}, "--batch"),
        ({"engine": "tgi"}, "--engine"),
        ({"tensor_parallel": 2, "engine": "transformers"}, "only with --engine vllm"),
        ({"tensor_parallel": 5}, "cannot be split"),
        ({"tensor_parallel": 0}, "at least 1"),
        ({"gpu_memory_utilization": 1.5}, "gpu-memory-utilization"),
        ({"gpu_memory_utilization": 0.5, "engine": "transformers"}, "use it with --engine vllm"),
    ],
)
def test_unusable_settings_are_usage_errors(vibe, kwargs, message):
    with pytest.raises(UsageError, match=message):
        plan_memory(vibe, **{"context": 1024, **kwargs})


def test_vllm_budget_is_a_fraction_of_total_memory_not_of_free(vibe):
    plan = plan_memory(vibe, context=4096)
    budget, reason = plan.budget(gpu("NVIDIA H100 80GB HBM3", 81559, used_mib=4000))
    assert reason is None and budget == math.floor(0.9 * 81559 * MIB)


def test_vllm_refuses_to_start_when_others_hold_too_much(vibe):
    busy = gpu("NVIDIA H100 80GB HBM3", 81559, used_mib=20000)
    fit = fit_device(plan_memory(vibe, context=4096), busy)
    assert not fit.fits and "refuses to start" in fit.reason and fit.max_context == 0
    assert fit_device(plan_memory(vibe, context=4096, gpu_memory_utilization=0.7), busy).fits


@pytest.mark.parametrize(
    "engine, share",
    [("vllm", None), ("transformers", 0.9)],
)
def test_settings_hold_vllm_and_only_vllm_to_a_memory_share(vibe, engine, share):
    # budget() multiplies vLLM's share by the GPU's memory: a vLLM plan built without one used
    # to fail there with "None * int", far from where it was built. It is refused when built.
    settings = plan_memory(vibe, context=4096, engine="transformers").settings
    with pytest.raises(ValueError, match="vLLM needs one, other engines take none"):
        replace(settings, engine=engine, gpu_memory_utilization=share)


def test_replanning_for_vllm_takes_vllms_default_share(vibe):
    plan = with_settings(plan_memory(vibe, context=4096, engine="transformers"), engine="vllm")
    assert plan.settings.gpu_memory_utilization == RULES["engine"]["vllm"]["gpu_memory_utilization"]
    budget, reason = plan.budget(H100)
    assert reason is None and budget == math.floor(plan.settings.gpu_memory_utilization * 81559 * MIB)


def test_transformers_uses_what_other_processes_leave(vibe):
    plan = plan_memory(vibe, context=4096, engine="transformers")
    idle, busy = fit_device(plan, T4), fit_device(plan, gpu("Tesla T4", 15360, used_mib=6000, cc="7.5"))
    assert busy.budget_bytes == idle.budget_bytes - 6000 * MIB == (15360 - 6000) * MIB
    assert busy.max_context < idle.max_context


def test_overhead_is_the_data_files_constants(vibe):
    overhead = RULES["overhead"]
    vllm = plan_memory(vibe, context=4096).breakdown(4096, 1, H100)
    expected = (
        overhead["cuda_context_mib"] + overhead["workspace_mib"] + RULES["engine"]["vllm"]["cuda_graphs_mib"]
    ) * MIB
    assert vllm.overhead == expected
    hf = plan_memory(vibe, context=4096, engine="transformers").breakdown(4096, 1)
    slack = math.ceil(RULES["engine"]["transformers"]["allocator_slack"] * (hf.kv_cache + hf.activations))
    assert hf.overhead == (overhead["cuda_context_mib"] + overhead["workspace_mib"]) * MIB + slack


def test_transformers_activations_grow_with_the_prompt_vllm_chunks_it(vibe):
    hf = plan_memory(vibe, context=1, engine="transformers")
    assert hf.breakdown(32768, 1).activations > 3 * hf.breakdown(8192, 1).activations
    vllm = plan_memory(vibe, context=1)
    assert vllm.breakdown(32768, 1, H100).activations == vllm.breakdown(8192, 1, H100).activations


def test_vllm_batch_defaults_follow_the_gpu():
    assert vllm_batch_defaults(H100)["max_num_batched_tokens"] == 8192
    assert vllm_batch_defaults(A100)["max_num_batched_tokens"] == 2048  # the A100 exception
    assert vllm_batch_defaults(T4)["max_num_seqs"] == 256


def test_largest_context_fits_and_one_more_token_does_not(vibe):
    plan = plan_memory(vibe, context=131072, engine="transformers")
    fit = fit_device(plan, T4)
    assert 0 < fit.max_context < 131072 and not fit.context_capped_by_model
    budget = fit.budget_bytes
    assert plan.breakdown(fit.max_context, 1).total <= budget < plan.breakdown(fit.max_context + 1, 1).total


def test_largest_batch_fits_and_one_more_does_not(vibe):
    plan = plan_memory(vibe, context=32768)
    fit = fit_device(plan, H100)
    assert fit.max_concurrency > 1
    assert plan.breakdown(32768, fit.max_concurrency, H100).total <= fit.budget_bytes
    assert plan.breakdown(32768, fit.max_concurrency + 1, H100).total > fit.budget_bytes


def test_context_is_capped_by_the_model_and_says_so(vibe):
    fit = fit_device(plan_memory(vibe, context=4096), H100)
    assert fit.max_context == 131072 and fit.context_capped_by_model


def test_weights_that_do_not_fit_leave_no_context():
    model = resolve_model("Qwen2.5-7B-Instruct")
    fit = fit_device(plan_memory(model, dtype="float32", context=1024), T4)
    assert not fit.fits and fit.max_context == 0 and fit.max_concurrency == 0


def test_mixed_gpus_are_judged_one_by_one_never_summed():
    model = resolve_model("Qwen2.5-7B-Instruct")
    plan = plan_memory(model, context=8192)
    small = gpu("Tesla T4", 15360, cc="7.5")
    alone = fit_device(plan, small)
    together = fit_devices(plan, host(small, small, small))
    assert [d.fits for d in together] == [alone.fits] * 3 == [False] * 3


def test_tensor_parallel_shards_weights_and_kv_heads():
    model = resolve_model("Qwen2.5-7B-Instruct")  # 4 KV heads
    one = plan_memory(model, context=8192)
    two = plan_memory(model, context=8192, tensor_parallel=2)
    assert two.breakdown(8192, 1, T4).weights == math.ceil(one.weight_bytes / 2)
    assert two.kv_bytes_per_token_per_gpu == one.kv_bytes_per_token // 2
    eight = plan_memory(model, context=8192, tensor_parallel=4)
    assert eight.kv_bytes_per_token_per_gpu == one.kv_bytes_per_token // 4
    devices = fit_devices(two, host(T4, T4, T4))
    assert [d.index for d in devices] == [0, 1] and all(d.fits for d in devices)


def test_more_ranks_than_kv_heads_replicate_them(vibe):
    plan = plan_memory(vibe, context=1, tensor_parallel=4)  # 2 KV heads over 4 GPUs
    assert plan.kv_bytes_per_token_per_gpu == VIBE_KV_BF16_PER_TOKEN // 2


def test_unknown_memory_is_no_verdict(vibe):
    fit = fit_device(plan_memory(vibe, context=1024), gpu("Tesla T4", None, cc="7.5"))
    assert not fit.fits and fit.free_bytes is None and "unknown" in fit.reason


def test_moe_plans_all_experts_resident():
    model = resolve_model("Qwen1.5-MoE-A2.7B")
    plan = plan_memory(model, context=4096)
    assert plan.weight_bytes == model.params * 2 and any("experts" in note for note in plan.notes)


def test_a_quantised_checkpoint_loads_as_stored(tmp_path):
    from support.fit_inputs import TINY_CONFIG, model_dir, tiny_tensors

    config = {**TINY_CONFIG, "quantization_config": {"quant_method": "awq", "bits": 4}}
    tensors = {
        name: ("I32", [max(1, shape[0] // 8)] + shape[1:]) if "proj" in name else (dtype, shape)
        for name, (dtype, shape) in tiny_tensors(TINY_CONFIG).items()
    }
    model = resolve_model(str(model_dir(tmp_path, config, tensors)))
    plan = plan_memory(model, context=16)
    assert plan.settings.dtype == "int4" and not plan.settings.dtype_requested
    assert plan.weight_bytes == model.stored.bytes and model.params_source == "architecture"
    with pytest.raises(UsageError, match="unknown size"):
        model.shape.quantization["bits"] = 3
        plan_memory(model, context=16)


def test_sizes_are_plausible_for_the_seed_question(vibe):
    # VibeThinker-1.5B in bf16 is ~2.9 GiB of weights: it fits a T4 at its full context under vLLM.
    fit = fit_device(plan_memory(vibe), T4)
    assert 2.8 * GIB < fit.bytes.weights < 2.9 * GIB
    assert fit.fits and fit.max_concurrency >= 2


def test_vllm_kv_cache_capacity_is_what_the_reservation_leaves(vibe):
    plan = plan_memory(vibe, context=4096)
    fit = fit_device(plan, H100)
    b = fit.bytes
    assert fit.kv_cache_tokens == (fit.budget_bytes - (b.total - b.kv_cache)) // VIBE_KV_BF16_PER_TOKEN
    assert fit.kv_cache_tokens // 4096 >= fit.max_concurrency  # blocks round each sequence up
    assert fit_device(plan_memory(vibe, context=4096, engine="transformers"), H100).kv_cache_tokens is None
