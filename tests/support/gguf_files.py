"""GGUF files for the fit tests: real ones written by the ``gguf`` package's GGUFWriter (the
reference writer of ggml-org/llama.cpp's gguf-py), and hostile headers packed byte by byte."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest


def gguf_package() -> Any:
    return pytest.importorskip("gguf", reason="the gguf package (pip install gguf) writes the reference files")


def write_gguf(
    path: Path,
    tensors: list[tuple[str, tuple[int, ...], str]],
    arch: str = "qwen2",
    metadata: dict[str, Any] | None = None,
) -> Path:
    """A GGUF file of ``tensors`` (name, ggml shape with ne[0] first, ggml type name) with zero
    data, written by GGUFWriter. ``metadata``: {arch}.* keys without the prefix."""
    gguf = gguf_package()
    import numpy as np

    writer = gguf.GGUFWriter(str(path), arch)
    for key, value in (metadata or {}).items():
        full = key if "." in key and key.split(".")[0] in ("general", "tokenizer") else f"{arch}.{key}"
        if isinstance(value, bool):
            writer.add_bool(full, value)
        elif isinstance(value, int):
            writer.add_uint32(full, value)
        elif isinstance(value, str):
            writer.add_string(full, value)
        else:
            writer.add_array(full, value)
    for name, shape, type_name in tensors:
        qtype = gguf.GGMLQuantizationType[type_name]
        block, size = gguf.GGML_QUANT_SIZES[qtype]
        rows = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        if block == 1 and type_name in ("F32", "F16"):
            dtype = np.float32 if type_name == "F32" else np.float16
            writer.add_tensor(name, np.zeros(tuple(reversed(shape)), dtype=dtype))
        else:
            raw = np.zeros((rows, shape[0] // block * size), dtype=np.uint8)
            writer.add_tensor(name, raw, raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


# --- hostile headers, byte by byte -------------------------------------------------------------


def pack_string(text: str | bytes, length: int | None = None) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw) if length is None else length) + raw


def pack_header(tensor_count: int, kv_count: int, version: int = 3, magic: bytes = b"GGUF") -> bytes:
    return magic + struct.pack("<IQQ", version, tensor_count, kv_count)


def pack_kv_u32(key: str, value: int) -> bytes:
    return pack_string(key) + struct.pack("<II", 4, value)


def pack_tensor_info(
    name: str, shape: tuple[int, ...], type_id: int, offset: int = 0, n_dims: int | None = None
) -> bytes:
    dims = len(shape) if n_dims is None else n_dims
    return (
        pack_string(name)
        + struct.pack("<I", dims)
        + b"".join(struct.pack("<Q", d) for d in shape)
        + struct.pack("<IQ", type_id, offset)
    )
