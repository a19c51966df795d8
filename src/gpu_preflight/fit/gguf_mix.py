"""The tensor types llama.cpp's quantiser gives each tensor of a named mix (``--quant Q4_K_M``),
from the rules in gguf.toml [mix.*] (read from src/llama-quant.cpp).

    typed = assign_types(tensors, "Q4_K_M", gqa=6)     # [(name, shape, "Q6_K"), ...]

Tensors are visited in the quantiser's order (llama-model-loader's weight_name_comparer: by
layer number, then by name), which is what its per-category counters count.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gpu_preflight.core.errors import UsageError
from gpu_preflight.fit import data
from gpu_preflight.fit.ggml import fits_blocks, ggml_type

_LAYER = re.compile(r"^blk\.(\d+)\.")


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]  # ggml order: ne[0] (the row length) first
    type: str  # a gguf.toml [ggml.type] name

    @property
    def layer(self) -> int | None:
        match = _LAYER.match(self.name)
        return int(match.group(1)) if match else None

    @property
    def elements(self) -> int:
        count = 1
        for n in self.shape:
            count *= n
        return count

    @property
    def bytes(self) -> int:
        return ggml_type(self.type).tensor_bytes(self.shape)


def mixes() -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = data.gguf()["mix"]
    return table


def canonical_mix(text: str) -> str:
    """``q4_k_m`` -> ``Q4_K_M``; anything unknown is one UsageError naming the choices."""
    wanted = text.strip().upper().replace("-", "_")
    if wanted in mixes():
        return wanted
    raise UsageError(f"--quant {text!r}: unknown GGUF type (choose from {', '.join(mixes())})")


def mix_of_file_type(file_type: int) -> str | None:
    """general.file_type (enum llama_ftype) -> the mix's name, when it is one gguf.toml knows."""
    return next((name for name, row in mixes().items() if row["ftype"] == file_type), None)


def category(name: str) -> str:
    """tensor_get_category in src/llama-quant.cpp; attn_qkv and attn_kv_b count as attn_v."""
    if name == "output.weight":
        return "output"
    if name in ("token_embd.weight", "per_layer_token_embd.weight"):
        return "token_embd"
    for part in ("attn_qkv.weight", "attn_kv_b.weight", "attn_v.weight"):
        if part in name:
            return "attn_v"
    for part, found in (
        ("attn_k.weight", "attn_k"),
        ("attn_q.weight", "attn_q"),
        ("attn_output.weight", "attn_output"),
        ("ffn_up", "ffn_up"),
        ("ffn_gate", "ffn_gate"),
        ("ffn_down", "ffn_down"),
    ):
        if part in name:
            return found
    return "other"


def quantisable(name: str, shape: Sequence[int]) -> bool:
    """The part of tensor_allows_quantization that applies to decoder-only text models."""
    return (
        len(shape) >= 2 and name.endswith("weight") and "_norm.weight" not in name and "ffn_gate_inp.weight" not in name
    )


def _more_bits(i: int, n: int) -> bool:
    # use_more_bits in src/llama-quant.cpp (C integer division; i - n//8 < 0 only when the first
    # clause already holds, so Python's modulo of a negative never decides).
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def _rule_matches(rule: dict[str, Any], i: int, n: int, gqa: int) -> bool:
    if gqa < rule.get("min_gqa", 0):
        return False
    if "first_count" in rule:
        return i < int(rule["first_count"])
    if "first_fraction" in rule:
        return i < n // int(rule["first_fraction"])
    return rule.get("layers", "all") == "all" or (rule["layers"] == "more_bits" and _more_bits(i, n))


def _fallback(type_name: str, row_length: int) -> str:
    if fits_blocks(type_name, row_length):
        return type_name
    fallback = data.gguf()["fallback"].get(type_name)
    if fallback is not None and fits_blocks(fallback, row_length):
        return str(fallback)
    return "F16"


def quantiser_order(names: Sequence[str]) -> list[str]:
    """weight_name_comparer: by ``blk.N.`` layer (tensors outside the blocks first), then by name."""

    def key(name: str) -> tuple[int, str]:
        match = _LAYER.match(name)
        return (int(match.group(1)) if match else -1, name)

    return sorted(names, key=key)


def assign_types(
    tensors: Sequence[tuple[str, tuple[int, ...], str]], mix: str, gqa: int, layers: int
) -> list[TensorInfo]:
    """Each (name, shape, source type) with the type ``mix`` gives it. ``gqa``: attention heads
    per KV head; ``layers``: the model's block count (n for ffn_down's rule)."""
    row = mixes()[mix]
    default = str(row["default"])
    quantized = ggml_type(default).block_elements > 1
    rules: list[dict[str, Any]] = row.get("rule", [])
    names = {name for name, _, _ in tensors}
    tied = "output.weight" not in names
    by_name = {name: (shape, source) for name, shape, source in tensors}
    counters = {"attn_v": 0, "ffn_down": 0}
    totals = {"attn_v": sum(1 for name in names if category(name) == "attn_v"), "ffn_down": layers}
    typed: dict[str, str] = {}
    for name in quantiser_order(list(names)):
        shape, source = by_name[name]
        if not quantisable(name, shape):
            typed[name] = source
            continue
        if not quantized:
            typed[name] = default
            continue
        kind = category(name)
        chosen = default
        if kind == "output" or (tied and kind == "token_embd"):
            block = ggml_type(default).block_elements
            chosen = "Q8_0" if shape[0] % block else str(row.get("output", default))
        elif kind in counters:
            i, n = counters[kind], totals[kind]
            for rule in rules:
                if rule["tensor"] == kind and _rule_matches(rule, i, n, gqa):
                    chosen = str(rule["type"])
            counters[kind] += 1
        else:
            for rule in rules:
                if rule["tensor"] == kind and _rule_matches(rule, 0, 1, gqa):
                    chosen = str(rule["type"])
        typed[name] = _fallback(chosen, shape[0])
    return [TensorInfo(name, shape, typed[name]) for name, shape, _ in tensors]
