"""fit/gguf.py: a GGUF header written by the gguf package (ggml-org/llama.cpp's gguf-py) is
read exactly, without its tensor data; truncated and hostile headers are one UsageError line,
quickly, without large allocations."""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.limits import (
    MAX_GGUF_ARRAY_ITEMS,
    MAX_GGUF_DIMENSIONS,
    MAX_GGUF_HEADER_BYTES,
    MAX_GGUF_NESTING,
    MAX_GGUF_STRING_BYTES,
    MAX_GGUF_TENSORS,
)
from gpu_preflight.fit.ggml import types
from gpu_preflight.fit.gguf import KEPT_ARRAY_ITEMS, SkippedArray, read_gguf

from support.gguf_files import (
    gguf_package,
    pack_header,
    pack_kv_u32,
    pack_string,
    pack_tensor_info,
    write_gguf,
)

TENSORS = [
    ("token_embd.weight", (256, 40), "F16"),
    ("output_norm.weight", (256,), "F32"),
    ("blk.0.attn_q.weight", (256, 256), "Q4_K"),
    ("blk.0.attn_v.weight", (256, 64), "Q6_K"),
    ("blk.0.ffn_down.weight", (512, 256), "Q8_0"),
    ("blk.0.ffn_up.weight", (256, 512), "Q4_0"),
    ("blk.0.attn_k.weight", (256, 64), "IQ4_XS"),
    ("blk.0.attn_output.weight", (256, 256), "BF16"),
]


def test_the_block_table_is_the_published_one():
    """gguf.toml's ggml types are GGML_QUANT_SIZES and GGMLQuantizationType of gguf-py, type by type."""
    gguf = gguf_package()
    published = {t.name: (int(t), *gguf.GGML_QUANT_SIZES[t]) for t in gguf.GGMLQuantizationType}
    ours = {name: (t.id, t.block_elements, t.block_bytes) for name, t in types().items()}
    assert ours == published


def test_a_file_written_by_the_gguf_package_is_read(tmp_path):
    gguf = gguf_package()
    path = write_gguf(
        tmp_path / "m.gguf",
        TENSORS,
        metadata={
            "block_count": 1,
            "context_length": 4096,
            "general.name": "tiny",
            "tokenizer.ggml.tokens": [f"t{i}" for i in range(KEPT_ARRAY_ITEMS + 5)],
            "tokenizer.ggml.scores": [0.5, 1.5],
        },
    )
    header = read_gguf(path)
    assert header.version == 3 and header.architecture == "qwen2"
    assert header.metadata["qwen2.block_count"] == 1 and header.metadata["qwen2.context_length"] == 4096
    assert header.metadata["general.name"] == "tiny"
    assert header.metadata["tokenizer.ggml.scores"] == [0.5, 1.5]
    # A vocabulary is skipped, not kept: its length is all a plan needs.
    assert header.metadata["tokenizer.ggml.tokens"] == SkippedArray(item_type=8, length=KEPT_ARRAY_ITEMS + 5)
    assert [(t.name, t.shape, t.type) for t in header.tensors] == TENSORS
    # The package's own reader agrees on every tensor's size and on where the data starts.
    reference = gguf.GGUFReader(str(path))
    assert {t.name: t.bytes for t in header.tensors} == {t.name: int(t.n_bytes) for t in reference.tensors}
    assert header.data_offset == reference.data_offset
    assert header.weight_bytes == sum(int(t.n_bytes) for t in reference.tensors)


def _valid(tmp_path):
    return write_gguf(tmp_path / "ok.gguf", TENSORS[:3], metadata={"block_count": 1}).read_bytes()


def test_every_truncation_is_one_usage_error(tmp_path):
    raw = _valid(tmp_path)
    data_start = read_gguf(tmp_path / "ok.gguf").data_offset
    cut = tmp_path / "cut.gguf"
    for size in [*range(0, 64), *range(64, data_start, 7), data_start, len(raw) - 1]:
        cut.write_bytes(raw[:size])
        with pytest.raises(UsageError) as error:
            read_gguf(cut)
        assert "\n" not in str(error.value) and str(cut) in str(error.value)


HOSTILE = {
    "not GGUF": (b"GGML" + bytes(40), "does not start with 'GGUF'"),
    "version 1": (pack_header(0, 0, version=1), "version 1"),
    "big-endian version": (pack_header(0, 0, version=3 << 24), "version"),
    "tensor count 2^63": (pack_header(1 << 63, 0), "more than any real model has"),
    "tensors the file cannot hold": (pack_header(MAX_GGUF_TENSORS, 0), "cannot fit"),
    "metadata count 2^64-1": (pack_header(0, (1 << 64) - 1), "more than any real model has"),
    "key of 2^63 bytes": (pack_header(0, 1) + pack_string(b"k", length=1 << 63) + bytes(32), "more than 16 MiB"),
    "string value past the end": (
        pack_header(0, 1) + pack_string("k") + struct.pack("<I", 8) + pack_string(b"abc", length=10**6),
        "truncated",
    ),
    "array of 2^62 items": (
        pack_header(0, 1) + pack_string("k") + struct.pack("<IIQ", 9, 4, 1 << 62) + bytes(16),
        f"more than {MAX_GGUF_ARRAY_ITEMS:,}",
    ),
    "array of strings the file cannot hold": (
        pack_header(0, 1) + pack_string("k") + struct.pack("<IIQ", 9, 8, 100_000) + bytes(64),
        "more than the file holds",
    ),
    "unknown value type": (pack_header(0, 1) + pack_string("k") + struct.pack("<I", 99) + bytes(16), "value type 99"),
    "arrays nested too deep": (
        pack_header(0, 1) + pack_string("k") + struct.pack("<I", 9) + struct.pack("<IQ", 9, 1) * 10 + bytes(64),
        f"more than {MAX_GGUF_NESTING} deep",
    ),
    "non-UTF-8 key": (pack_header(0, 1) + pack_string(b"\xff\xfe") + struct.pack("<II", 4, 1) + bytes(16), "UTF-8"),
    "zero dimensions": (pack_header(1, 0) + pack_tensor_info("w", (), 0) + bytes(64), "0 dimensions"),
    "too many dimensions": (
        pack_header(1, 0) + pack_tensor_info("w", (1,) * (MAX_GGUF_DIMENSIONS + 1), 0) + bytes(64),
        "dimensions",
    ),
    "unknown tensor type": (pack_header(1, 0) + pack_tensor_info("w", (32,), 77) + bytes(64), "ggml type 77"),
    "rows that are not whole blocks": (pack_header(1, 0) + pack_tensor_info("w", (100,), 12) + bytes(64), "blocks"),
    "a tensor past the end": (
        pack_header(1, 0) + pack_tensor_info("w", (1 << 40, 1 << 40), 0) + bytes(64),
        "past the end",
    ),
    "an offset past the end": (pack_header(1, 0) + pack_tensor_info("w", (8,), 0, offset=1 << 63) + bytes(64), "past"),
    "two tensors of one name": (
        pack_header(2, 0) + pack_tensor_info("w", (8,), 0) + pack_tensor_info("w", (8,), 0) + bytes(128),
        "share a name",
    ),
    "alignment not a power of two": (
        pack_header(0, 1) + pack_kv_u32("general.alignment", 24) + bytes(32),
        "power of two",
    ),
    "alignment zero": (pack_header(0, 1) + pack_kv_u32("general.alignment", 0) + bytes(32), "power of two"),
}


@pytest.mark.parametrize("raw, message", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_headers_are_one_line(tmp_path, raw, message):
    path = tmp_path / "bad.gguf"
    path.write_bytes(raw)
    with pytest.raises(UsageError) as error:
        read_gguf(path)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_string_over_the_cap_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "long.gguf"
    length = MAX_GGUF_STRING_BYTES + 1
    # The file really holds that many bytes: the cap, not the file's end, refuses it.
    with open(path, "wb") as fh:
        fh.write(pack_header(0, 1) + pack_string(b"k", length=length))
        fh.truncate(length + 64)
    with pytest.raises(UsageError, match="more than 16 MiB"):
        read_gguf(path)


def test_a_header_over_the_cap_is_refused(tmp_path):
    """A vocabulary of a million 31-byte tokens (39 MiB of header) is more than any real model's."""
    path = tmp_path / "wide.gguf"
    items = 1 << 20
    with open(path, "wb") as fh:
        fh.write(pack_header(0, 1) + pack_string("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, items))
        fh.write(pack_string(b"x" * 31) * items)
    assert path.stat().st_size > MAX_GGUF_HEADER_BYTES
    with pytest.raises(UsageError, match=f"header larger than {MAX_GGUF_HEADER_BYTES // (1024 * 1024)} MiB"):
        read_gguf(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "model.gguf"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match="not a regular file"):
        read_gguf(fifo)


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(UsageError, match="not a regular file"):
        read_gguf(tmp_path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=512), counts=st.tuples(st.integers(0, 8), st.integers(0, 8)))
def test_any_bytes_after_the_magic_are_read_or_one_usage_error(tmp_path, body, counts):
    path = tmp_path / "fuzz.gguf"
    path.write_bytes(pack_header(*counts) + body)
    try:
        read_gguf(path)
    except UsageError as error:
        assert "\n" not in str(error)
