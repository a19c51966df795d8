"""A model as llama.cpp holds it: GGUF tensors with their types, and what sits on the GPU and
what stays in RAM for ``--gpu-layers N`` (llama.cpp's -ngl), by the rules in rules.toml
[engine."llama.cpp"].

    layout = layout_from_shape(shape, "Q4_K_M")        # planned: llama.cpp's quantiser's types
    layout = layout_from_file(read_gguf(path))          # exact: the file's own tensor infos
    split = layout.placement(gpu_layers=20)             # bytes on the GPU and in RAM

Weights and KV cache bytes are the format's arithmetic exactly; nothing here estimates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from gpu_preflight.core.errors import UsageError
from gpu_preflight.fit import data
from gpu_preflight.fit.ggml import ggml_type
from gpu_preflight.fit.gguf import GgufFile, SkippedArray
from gpu_preflight.fit.gguf_mix import TensorInfo, assign_types, mix_of_file_type
from gpu_preflight.fit.model_shape import ModelShape, ParameterCount

_MAX_DIMENSION = 1 << 24
_MAX_LAYERS = 4096
OUTPUT_LAYER_TENSORS = ("output.weight", "output_norm.weight", "output_norm.bias", "output.bias")


@dataclass(frozen=True)
class Placement:
    """Where llama.cpp puts the weights and the KV cache for one --gpu-layers value."""

    gpu_layers: int  # the value asked for, clamped to layers + 1 (everything)
    repeating_on_gpu: int  # decoder blocks on the GPU (the last ones)
    output_on_gpu: bool
    gpu_weight_bytes: int
    host_weight_bytes: int
    kv_layers_on_gpu: int  # layers whose KV cache is on the GPU (their block is)


@dataclass(frozen=True)
class GgufLayout:
    tensors: tuple[TensorInfo, ...]
    layers: int
    k_width: int  # K elements per token per layer: head_dim x KV heads
    v_width: int
    mix: str  # the named mix (Q4_K_M...), or what the file's general.file_type says
    from_file: bool

    @property
    def weight_bytes(self) -> int:
        return sum(t.bytes for t in self.tensors)

    @property
    def tied_output(self) -> bool:
        return not any(t.name == "output.weight" for t in self.tensors)

    def type_counts(self) -> dict[str, int]:
        """Elements per ggml type, as a plan shows the mix."""
        counts: dict[str, int] = {}
        for t in self.tensors:
            counts[t.type] = counts.get(t.type, 0) + t.elements
        return dict(sorted(counts.items(), key=lambda item: -item[1]))

    def kv_bytes_per_cell(self, kv_type: str) -> int:
        """K and V bytes of one layer for one KV cell (one token of one sequence)."""
        t = ggml_type(kv_type.upper())
        try:
            return t.row_bytes(self.k_width) + t.row_bytes(self.v_width)
        except ValueError:
            raise UsageError(
                f"--kv-cache-type {kv_type}: a K/V row of {self.k_width} elements is not whole "
                f"{t.name} blocks of {t.block_elements}; use f16"
            ) from None

    def placement(self, gpu_layers: int | None) -> Placement:
        rules = data.engine_rules("llama.cpp")
        n = self.layers
        asked = n + 1 if gpu_layers is None else gpu_layers
        active = max(0, min(asked, n + 1))
        # i_gpu_start = max(n + 1 - ngl, 0): unit n (the output layer) goes first, then blocks n-1, n-2...
        start = max(n + 1 - active, 0) if rules["output_layer_first"] else max(n - active, 0)
        output_on_gpu = active > 0 and (rules["output_layer_first"] or active > n)
        gpu = host = 0
        for tensor in self.tensors:
            layer = tensor.layer
            if layer is not None:
                on_gpu = start <= layer < n and active > 0
            elif tensor.name in OUTPUT_LAYER_TENSORS:
                on_gpu = output_on_gpu
            else:  # token_embd and anything else outside the blocks: the input layer, on the CPU
                on_gpu = False
            if on_gpu:
                gpu += tensor.bytes
            else:
                host += tensor.bytes
        if self.tied_output and output_on_gpu and rules["tied_output_duplicated"]:
            embedding = next((t for t in self.tensors if t.name == "token_embd.weight"), None)
            gpu += embedding.bytes if embedding else 0  # the output head: a copy of the table in RAM
        repeating = max(0, n - start) if active > 0 else 0
        return Placement(min(asked, n + 1), repeating, output_on_gpu, gpu, host, repeating)


def context_cells(context: int, batch: int) -> int:
    """KV cells llama.cpp allocates: every sequence's context, padded to context_padding."""
    pad = int(data.engine_rules("llama.cpp")["context_padding"])
    return math.ceil(context * batch / pad) * pad


# --- a model's tensors as llama.cpp's converter names them ----------------------------------


def shape_tensors(shape: ModelShape) -> list[tuple[str, tuple[int, ...], str]]:
    """(name, ggml shape, converter type) of every tensor convert_hf_to_gguf.py writes for a
    dense decoder of ``shape``: 2-D weights in the checkpoint's 16-bit type, 1-D ones in F32."""
    if shape.experts:
        raise UsageError(
            f"{shape.model_type}: a mixture-of-experts model is planned from its .gguf file "
            "(give the file as MODEL); from config.json only dense models are"
        )
    one_dim = str(data.gguf()["converter"]["one_dim_type"])
    two_dim = "BF16" if shape.config_dtype == "bfloat16" else "F32" if shape.config_dtype == "float32" else "F16"
    h, q, kv, i = (
        shape.hidden_size,
        shape.attention_heads * shape.head_dim,
        shape.kv_heads * shape.head_dim,
        shape.intermediate_size,
    )
    tensors = [("token_embd.weight", (h, shape.vocab_size), two_dim), ("output_norm.weight", (h,), one_dim)]
    if not shape.tied_embeddings:
        tensors.append(("output.weight", (h, shape.vocab_size), two_dim))
    extra_norms = ["post_attention_norm", "post_ffw_norm"][: max(0, shape.norms_per_layer - 2)]
    for layer in range(shape.layers):
        p = f"blk.{layer}."
        tensors += [
            (p + "attn_norm.weight", (h,), one_dim),
            (p + "attn_q.weight", (h, q), two_dim),
            (p + "attn_k.weight", (h, kv), two_dim),
            (p + "attn_v.weight", (h, kv), two_dim),
            (p + "attn_output.weight", (q, h), two_dim),
            (p + "ffn_norm.weight", (h,), one_dim),
            (p + "ffn_gate.weight", (h, i), two_dim),
            (p + "ffn_up.weight", (h, i), two_dim),
            (p + "ffn_down.weight", (i, h), two_dim),
        ]
        tensors += [(f"{p}{norm}.weight", (h,), one_dim) for norm in extra_norms]
        if shape.qkv_bias:
            tensors += [(p + "attn_q.bias", (q,), one_dim), (p + "attn_k.bias", (kv,), one_dim)]
            tensors += [(p + "attn_v.bias", (kv,), one_dim)]
        if shape.o_bias:
            tensors.append((p + "attn_output.bias", (h,), one_dim))
        if shape.qk_norm:
            tensors += [(p + "attn_q_norm.weight", (shape.head_dim,), one_dim)]
            tensors += [(p + "attn_k_norm.weight", (shape.head_dim,), one_dim)]
        if shape.mlp_bias:
            tensors += [(p + "ffn_gate.bias", (i,), one_dim), (p + "ffn_up.bias", (i,), one_dim)]
            tensors += [(p + "ffn_down.bias", (h,), one_dim)]
    return tensors


def layout_from_shape(shape: ModelShape, mix: str) -> GgufLayout:
    """The tensors llama-quantize writes for ``mix`` from a checkpoint of ``shape``."""
    typed = assign_types(shape_tensors(shape), mix, shape.attention_heads // shape.kv_heads, shape.layers)
    width = shape.kv_heads * shape.head_dim
    return GgufLayout(tuple(typed), shape.layers, width, width, mix, from_file=False)


def layout_from_file(gguf: GgufFile, shape: ModelShape) -> GgufLayout:
    arch = shape.model_type
    k_width = shape.kv_heads * shape.head_dim
    value_length = _int(gguf, f"{arch}.attention.value_length", default=shape.head_dim)
    file_type = gguf.metadata.get("general.file_type")
    mix = (mix_of_file_type(file_type) if isinstance(file_type, int) else None) or "GGUF"
    return GgufLayout(tuple(gguf.tensors), shape.layers, k_width, shape.kv_heads * value_length, mix, True)


# --- a model's shape from a GGUF file's metadata --------------------------------------------


def shape_from_gguf(gguf: GgufFile) -> tuple[ModelShape, ParameterCount]:
    """What the plan needs from the metadata llama.cpp reads ({arch}.block_count...), and the
    parameter count of the tensors themselves."""
    arch = gguf.architecture
    if not arch:
        raise UsageError(f"{gguf.path}: GGUF metadata has no general.architecture")
    split = gguf.metadata.get("split.count")
    if isinstance(split, int) and split > 1:
        raise UsageError(
            f"{gguf.path}: one shard of a split GGUF ({split} files): merge them with "
            "llama-gguf-split --merge, or plan from config.json with --quant"
        )
    layers = _int(gguf, f"{arch}.block_count", limit=_MAX_LAYERS)
    hidden = _int(gguf, f"{arch}.embedding_length")
    heads = _int(gguf, f"{arch}.attention.head_count")
    kv_heads = _int(gguf, f"{arch}.attention.head_count_kv", default=heads)
    head_dim = _int(gguf, f"{arch}.attention.key_length", default=max(1, hidden // heads))
    embedding = next((t for t in gguf.tensors if t.name == "token_embd.weight"), None)
    vocab = embedding.shape[1] if embedding is not None and len(embedding.shape) > 1 else None
    vocab = vocab or _int(gguf, f"{arch}.vocab_size", default=0) or _array_length(gguf, "tokenizer.ggml.tokens")
    if not vocab:
        raise UsageError(f"{gguf.path}: no token_embd.weight and no vocabulary size in the metadata")
    experts = _int(gguf, f"{arch}.expert_count", default=0, zero_ok=True)
    context = _int(gguf, f"{arch}.context_length", default=0, zero_ok=True) or None
    shape = ModelShape(
        model_type=arch,
        family=arch,
        hidden_size=hidden,
        layers=layers,
        attention_heads=heads,
        kv_heads=kv_heads,
        head_dim=head_dim,
        intermediate_size=_int(gguf, f"{arch}.feed_forward_length", default=0, zero_ok=True),
        vocab_size=vocab,
        tied_embeddings=not any(t.name == "output.weight" for t in gguf.tensors),
        max_position_embeddings=context,
        config_dtype=None,
        experts=experts,
        experts_per_token=_int(gguf, f"{arch}.expert_used_count", default=0, zero_ok=True),
        sparse_layers=layers if experts else 0,
    )
    total = sum(t.elements for t in gguf.tensors)
    embeddings = embedding.elements if embedding is not None else 0
    head = next((t.elements for t in gguf.tensors if t.name == "output.weight"), 0)
    return shape, ParameterCount(total=total, embeddings=embeddings, lm_head=head, active=total)


def _int(gguf: GgufFile, key: str, default: Any = None, zero_ok: bool = False, limit: int = _MAX_DIMENSION) -> int:
    value = gguf.metadata.get(key)
    if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        value = max(value)  # per-layer values (some architectures): the largest is the safe side
    if value is None:
        if default is None:
            raise UsageError(f"{gguf.path}: GGUF metadata has no {key}")
        return int(default)
    if isinstance(value, bool) or not isinstance(value, int) or not (0 if zero_ok else 1) <= value <= limit:
        raise UsageError(
            f"{gguf.path}: GGUF metadata {key} must be an integer from {0 if zero_ok else 1} to {limit}, "
            f"got {str(value)[:40]!r}"
        )
    return value


def _array_length(gguf: GgufFile, key: str) -> int:
    value = gguf.metadata.get(key)
    if isinstance(value, SkippedArray):
        return value.length
    return len(value) if isinstance(value, list) else 0
