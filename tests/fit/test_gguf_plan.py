"""`fit --engine llama.cpp|ollama`: GGUF weights from the format's block sizes and llama.cpp's
quantiser's rules, quantised KV cache types, and the split between GPU and RAM for -ngl N.

Expected numbers are computed here from first principles: each tensor's element count times
its type's block bytes over its block elements, with the block sizes taken from the gguf
package (GGML_QUANT_SIZES), not from the table under test."""

from __future__ import annotations

import pytest

from gpu_preflight.core.errors import UsageError
from gpu_preflight.fit import fit_device, fit_findings, plan_memory, resolve_model
from gpu_preflight.fit.gguf_layout import layout_from_shape
from gpu_preflight.fit.model_shape import shape_from_config
from gpu_preflight.fit.sglang import mem_fraction_static

from support.fit_inputs import TINY_CONFIG, VIBE_CONFIG, VIBE_PARAMS, gpu, host, model_dir
from support.gguf_files import gguf_package, write_gguf
from support.paths import SHARED

H, FF, V, LAYERS, KV_WIDTH = 1536, 8960, 151936, 28, 2 * 128  # VibeThinker-1.5B (Qwen2.5-Math-1.5B shape)


def _size(type_name: str, elements: int) -> int:
    gguf = gguf_package()
    block, size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[type_name]]
    assert elements % block == 0
    return elements // block * size


def _more_bits(i: int, n: int) -> bool:
    # llama-quant.cpp: i_layer < n_layers/8 || i_layer >= 7*n_layers/8 || (i_layer - n_layers/8)%3 == 2
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def vibe_q4_k_m_bytes() -> dict[str, int]:
    """Q4_K_M for the Qwen2 1.5B shape, tensor by tensor: the tied token_embd takes the output
    head's Q6_K; attn_v and ffn_down take Q6_K on use_more_bits layers; other 2-D weights Q4_K;
    norms and biases stay F32 as the converter wrote them."""
    embd = _size("Q6_K", V * H)
    per_layer = []
    for i in range(LAYERS):
        bumped = "Q6_K" if _more_bits(i, LAYERS) else "Q4_K"
        per_layer.append(
            _size("Q4_K", H * H) * 2  # attn_q, attn_output
            + _size("Q4_K", H * KV_WIDTH)  # attn_k
            + _size(bumped, H * KV_WIDTH)  # attn_v
            + _size("Q4_K", H * FF) * 2  # ffn_gate, ffn_up
            + _size(bumped, FF * H)  # ffn_down
            + _size("F32", 2 * H + H + 2 * KV_WIDTH)  # attn_norm, ffn_norm, q/k/v biases
        )
    return {"token_embd": embd, "output_norm": _size("F32", H), "layers": per_layer}


@pytest.fixture(scope="module")
def vibe():
    return resolve_model("VibeThinker-1.5B")


def _shared_shape():
    directory = SHARED / "fixtures" / "models" / "qwen2-1.5b-shape"
    if not (directory / "config.json").is_file():
        pytest.skip(f"the shared model shape is not at {directory}")
    return resolve_model(str(directory))


@pytest.mark.parametrize("source", ["built-in profile", "shared fixture"])
def test_vibethinker_q4_k_m_matches_the_format_arithmetic(vibe, source):
    vibe = vibe if source == "built-in profile" else _shared_shape()
    expected = vibe_q4_k_m_bytes()
    plan = plan_memory(vibe, engine="llama.cpp", quant="Q4_K_M", context=4096)
    assert plan.weight_bytes == expected["token_embd"] + expected["output_norm"] + sum(expected["layers"])
    # 14 of 28 layers get Q6_K attn_v and ffn_down (use_more_bits), as llama-quantize prints them.
    assert sum(_more_bits(i, LAYERS) for i in range(LAYERS)) == 14
    layout = plan.gguf
    assert layout is not None and sum(t.elements for t in layout.tensors) == VIBE_PARAMS
    # Everything on the GPU (the default): all blocks, output_norm and the tied head's copy of
    # token_embd; the input layer's token_embd stays in RAM.
    b = plan.breakdown(4096, 1)
    assert b.weights == plan.weight_bytes
    assert plan.host_bytes(4096, 1) == {
        "weights": expected["token_embd"],
        "kv_cache": 0,
        "total": expected["token_embd"],
    }
    # f16 KV cache: K and V rows of 2 KV heads x 128 per layer and token, 4096 cells.
    assert b.kv_cache == LAYERS * 2 * _size("F16", KV_WIDTH) * 4096


@pytest.mark.parametrize("gpu_layers", [0, 1, 2, 10, 28, 29, 99])
def test_gpu_layers_put_the_output_layer_then_the_last_blocks_on_the_gpu(vibe, gpu_layers):
    """-ngl N: the output layer first, then the last N - 1 blocks; N >= 29 is everything."""
    expected = vibe_q4_k_m_bytes()
    plan = plan_memory(vibe, engine="llama.cpp", quant="Q4_K_M", context=1000, gpu_layers=gpu_layers)
    on_gpu = min(gpu_layers, LAYERS + 1)
    blocks = list(range(LAYERS - (on_gpu - 1), LAYERS)) if on_gpu else []
    output = expected["token_embd"] + expected["output_norm"] if on_gpu else 0
    cells = 1024  # 1000 tokens padded to 256
    kv_layer = 2 * _size("F16", KV_WIDTH) * cells
    b, ram = plan.breakdown(1000, 1), plan.host_bytes(1000, 1)
    assert b.weights == output + sum(expected["layers"][i] for i in blocks)
    assert b.kv_cache == kv_layer * len(blocks)
    assert ram is not None
    cpu_blocks = [i for i in range(LAYERS) if i not in blocks]
    assert ram["weights"] == expected["token_embd"] + sum(expected["layers"][i] for i in cpu_blocks) + (
        0 if on_gpu else expected["output_norm"]
    )
    assert ram["kv_cache"] == kv_layer * len(cpu_blocks)


@pytest.mark.parametrize("kv_type, block, block_bytes", [("q8_0", 32, 34), ("q4_0", 32, 18)])
def test_quantised_kv_cache_types(vibe, kv_type, block, block_bytes):
    plan = plan_memory(vibe, engine="ollama", quant="Q8_0", context=32768, kv_cache_dtype=kv_type)
    per_token = LAYERS * 2 * KV_WIDTH // block * block_bytes
    assert plan.kv_bytes_per_token == per_token
    assert plan.breakdown(32768, 2).kv_cache == per_token * 65536
    assert plan.settings.kv_cache_dtype == kv_type


def test_every_mix_sizes_every_tensor_in_whole_blocks(vibe):
    for mix in ("Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_0", "Q4_K_S", "Q5_K_M", "Q6_K", "Q8_0", "F16", "BF16"):
        layout = layout_from_shape(vibe.shape, mix)
        assert sum(t.elements for t in layout.tensors) == VIBE_PARAMS
    sizes = [
        layout_from_shape(vibe.shape, m).weight_bytes for m in ("Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0")
    ]
    assert sizes == sorted(sizes)
    # F16: every 2-D weight two bytes, 1-D ones F32.
    assert layout_from_shape(vibe.shape, "F16").weight_bytes == 2 * VIBE_PARAMS + 2 * (
        H + LAYERS * (3 * H + 2 * KV_WIDTH)
    )


def test_a_gguf_file_is_planned_from_its_own_tensors(tmp_path):
    """A file written by the gguf package with the types llama-quantize would give a small
    Qwen2: the plan from its header equals the plan from the shape and the mix."""
    config = {**TINY_CONFIG, "model_type": "qwen2", "hidden_size": 256, "intermediate_size": 512}
    config |= {"num_attention_heads": 2, "num_key_value_heads": 1, "num_hidden_layers": 8, "vocab_size": 64}
    shape = shape_from_config(config, "test")
    layout = layout_from_shape(shape, "Q4_K_M")
    metadata = {"block_count": 8, "embedding_length": 256, "feed_forward_length": 512, "context_length": 64}
    metadata |= {"attention.head_count": 2, "attention.head_count_kv": 1, "general.file_type": 15}
    path = write_gguf(
        tmp_path / "tiny-Q4_K_M.gguf", [(t.name, t.shape, t.type) for t in layout.tensors], metadata=metadata
    )
    from_file = plan_memory(resolve_model(str(path)), engine="llama.cpp", context=64, gpu_layers=5)
    from_shape = plan_memory(
        resolve_model(str(model_dir(tmp_path, config))), engine="llama.cpp", quant="Q4_K_M", context=64, gpu_layers=5
    )
    assert from_file.settings.dtype == "Q4_K_M" and from_file.gguf is not None and from_file.gguf.from_file
    assert from_file.weight_bytes == from_shape.weight_bytes == path.stat().st_size - from_file.model.gguf.data_offset
    assert from_file.breakdown(64, 1) == from_shape.breakdown(64, 1)
    assert from_file.host_bytes(64, 1) == from_shape.host_bytes(64, 1)
    with pytest.raises(UsageError, match="is a Q4_K_M file"):
        plan_memory(resolve_model(str(path)), engine="llama.cpp", quant="Q8_0", context=64)
    with pytest.raises(UsageError, match="runs on llama.cpp or Ollama"):
        plan_memory(resolve_model(str(path)), engine="vllm", context=64)


def test_a_plan_that_does_not_fit_offers_checked_gpu_layers(vibe):
    plan = plan_memory(vibe, engine="llama.cpp", quant="Q8_0", context=131072, batch=2)
    small = host(gpu("NVIDIA GeForce RTX 3050", 4096, cc="8.6"))
    (finding,) = [f for f in fit_findings(plan, small) if f.code == "fit-out-of-memory"]
    fix = next(f for f in finding.fix if f.startswith("--gpu-layers "))
    layers = int(fix.split()[1])
    assert fit_device(
        plan_memory(vibe, engine="llama.cpp", quant="Q8_0", context=131072, batch=2, gpu_layers=layers), small.gpus[0]
    ).fits
    one_more = plan_memory(vibe, engine="llama.cpp", quant="Q8_0", context=131072, batch=2, gpu_layers=layers + 1)
    assert not fit_device(one_more, small.gpus[0]).fits


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"engine": "llama.cpp"}, "--quant TYPE"),
        ({"engine": "llama.cpp", "quant": "Q4_K_XL"}, "unknown GGUF type"),
        ({"engine": "llama.cpp", "quant": "Q4_K_M", "kv_cache_dtype": "fp8"}, "choose from f16, q8_0, q4_0"),
        ({"engine": "llama.cpp", "quant": "Q4_K_M", "gpu_layers": -1}, "0 or more"),
        ({"engine": "llama.cpp", "quant": "Q4_K_M", "dtype": "int4"}, "--dtype is for safetensors"),
        ({"engine": "vllm", "quant": "Q4_K_M"}, "--engine llama.cpp or ollama"),
    ],
)
def test_unusable_gguf_requests_are_one_line(vibe, kwargs, message):
    with pytest.raises(UsageError, match=message):
        plan_memory(vibe, context=4096, **kwargs)


def test_a_moe_config_is_planned_from_its_file_only(tmp_path):
    config = {**VIBE_CONFIG, "model_type": "qwen2_moe", "num_experts": 4, "moe_intermediate_size": 256}
    with pytest.raises(UsageError, match="from its .gguf file"):
        plan_memory(resolve_model(str(model_dir(tmp_path, config))), engine="llama.cpp", quant="Q4_K_M", context=64)


@pytest.mark.parametrize(
    "total_mib, fraction",
    [
        # reserved = 512 + max(chunked_prefill_size, 2048) x 1.5 + cuda_graph_max_bs x 2 + 1/8 x 1024 (MiB)
        (15360, round((15360 - (512 + 2048 * 1.5 + 8 * 2 + 128)) / 15360, 3)),  # T4: 2k chunks, 8 graphs
        (24576, round((24576 - (512 + 2048 * 1.5 + 24 * 2 + 128)) / 24576, 3)),  # 4090: 2k chunks, 24 graphs
        (40960, round((40960 - (512 + 4096 * 1.5 + 32 * 2 + 128)) / 40960, 3)),  # A100 40GB: 4k chunks, 32 graphs
        (81559, round((81559 - (512 + 8192 * 1.5 + 256 * 2 + 128)) / 81559, 3)),  # H100: 8k, 256; over the 10 GiB floor
        (None, 0.88),
    ],
)
def test_sglang_static_memory_fraction(total_mib, fraction):
    assert mem_fraction_static(total_mib) == fraction
