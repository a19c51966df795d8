"""Helpers for the fit tests: hosts made by hand, config.json shapes, and safetensors files
written byte by byte (8-byte little-endian header length, JSON header, zero data)."""

from __future__ import annotations

import json
import math
import struct
from dataclasses import replace
from pathlib import Path

from gpu_preflight.core.host import Gpu, Host
from gpu_preflight.fit.safetensors import ELEMENT_BYTES

# The "VibeThinker-1.5B-shaped" Qwen2 config.
VIBE_CONFIG = {
    "architectures": ["Qwen2ForCausalLM"],
    "model_type": "qwen2",
    "hidden_size": 1536,
    "intermediate_size": 8960,
    "num_hidden_layers": 28,
    "num_attention_heads": 12,
    "num_key_value_heads": 2,
    "vocab_size": 151936,
    "tie_word_embeddings": True,
    "max_position_embeddings": 131072,
    "torch_dtype": "bfloat16",
}
VIBE_PARAMS = 1_543_714_304
VIBE_KV_BF16_PER_TOKEN = 28_672

TINY_CONFIG = {
    "model_type": "llama",
    "hidden_size": 8,
    "intermediate_size": 16,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "vocab_size": 10,
    "tie_word_embeddings": False,
    "max_position_embeddings": 64,
    "torch_dtype": "bfloat16",
}

MIB = 1024 * 1024
GIB = 1024 * MIB


def gpu(
    name: str = "NVIDIA H100 80GB HBM3",
    total_mib: int | None = 81559,
    used_mib: int = 0,
    cc: str | None = "9.0",
    index: int = 0,
) -> Gpu:
    return Gpu(index=index, name=name, compute_capability=cc, memory_total_mib=total_mib, memory_used_mib=used_mib)


def host(*gpus: Gpu) -> Host:
    return Host(gpus=[replace(g, index=i) for i, g in enumerate(gpus)])


def tiny_tensors(config: dict) -> dict[str, tuple[str, list[int]]]:
    """The tensors a Llama-style checkpoint of ``config`` stores, all BF16."""
    h, i, v = config["hidden_size"], config["intermediate_size"], config["vocab_size"]
    hd = h // config["num_attention_heads"]
    kv = config["num_key_value_heads"] * hd
    tensors = {"model.embed_tokens.weight": ("BF16", [v, h]), "model.norm.weight": ("BF16", [h])}
    for layer in range(config["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        tensors |= {
            p + "self_attn.q_proj.weight": ("BF16", [h, h]),
            p + "self_attn.k_proj.weight": ("BF16", [kv, h]),
            p + "self_attn.v_proj.weight": ("BF16", [kv, h]),
            p + "self_attn.o_proj.weight": ("BF16", [h, h]),
            p + "mlp.gate_proj.weight": ("BF16", [i, h]),
            p + "mlp.up_proj.weight": ("BF16", [i, h]),
            p + "mlp.down_proj.weight": ("BF16", [h, i]),
            p + "input_layernorm.weight": ("BF16", [h]),
            p + "post_attention_layernorm.weight": ("BF16", [h]),
        }
    if not config.get("tie_word_embeddings"):
        tensors["lm_head.weight"] = ("BF16", [v, h])
    return tensors


def write_safetensors(path: Path, tensors: dict[str, tuple[str, list[int]]], metadata: dict | None = None) -> Path:
    header: dict = {"__metadata__": metadata or {"format": "pt"}}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        size = int(math.prod(shape) * ELEMENT_BYTES[dtype])
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(offset))
    return path


def write_raw_safetensors(path: Path, header: bytes, data: bytes = b"", length: int | None = None) -> Path:
    path.write_bytes(struct.pack("<Q", len(header) if length is None else length) + header + data)
    return path


def model_dir(root: Path, config: dict, tensors: dict | None = None, name: str = "model") -> Path:
    directory = root / name
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config))
    if tensors is not None:
        write_safetensors(directory / "model.safetensors", tensors)
    return directory
