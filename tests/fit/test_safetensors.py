"""safetensors headers read without loading tensors: exact counts, stored dtypes, and hostile
headers that must end in one UsageError line."""

from __future__ import annotations

import json

import pytest

from gpu_preflight.core.errors import UsageError
from gpu_preflight.fit.model_shape import count_parameters, shape_from_config
from gpu_preflight.fit.safetensors import MAX_HEADER_BYTES, read_header, read_weights
from gpu_preflight.fit.sources import resolve_model

from support.fit_inputs import (
    TINY_CONFIG,
    model_dir,
    tiny_tensors,
    write_raw_safetensors,
    write_safetensors,
)


def test_headers_give_the_exact_count_and_dtypes(tmp_path):
    directory = model_dir(tmp_path, TINY_CONFIG, tiny_tensors(TINY_CONFIG))
    model = resolve_model(str(directory))
    computed = count_parameters(shape_from_config(TINY_CONFIG, "x")).total
    assert model.params_source == "safetensors"
    assert model.params == computed == model.stored.elements
    assert model.stored.dtypes == {"BF16": computed} and model.stored.bytes == 2 * computed


def test_shards_are_summed(tmp_path):
    tensors = list(tiny_tensors(TINY_CONFIG).items())
    directory = model_dir(tmp_path, TINY_CONFIG)
    write_safetensors(directory / "model-00001-of-00002.safetensors", dict(tensors[:5]))
    write_safetensors(directory / "model-00002-of-00002.safetensors", dict(tensors[5:]))
    stored = read_weights(directory)
    assert stored.files == 2 and stored.tensors == len(tensors)
    assert stored.elements == count_parameters(shape_from_config(TINY_CONFIG, "x")).total


def test_a_tied_head_stored_anyway_is_counted_once(tmp_path):
    tied = {**TINY_CONFIG, "tie_word_embeddings": True}
    tensors = tiny_tensors(TINY_CONFIG)  # includes lm_head.weight
    model = resolve_model(str(model_dir(tmp_path, tied, tensors)))
    assert model.stored.tied_duplicate == 10 * 8
    assert model.params == count_parameters(shape_from_config(tied, "x")).total


def test_the_stored_dtype_is_reported_and_a_mixed_checkpoint_counted(tmp_path):
    tensors = {
        name: ("F32" if "norm" in name else dtype, shape) for name, (dtype, shape) in tiny_tensors(TINY_CONFIG).items()
    }
    stored = read_weights(model_dir(tmp_path, TINY_CONFIG, tensors))
    assert set(stored.dtypes) == {"BF16", "F32"}
    assert stored.bytes == 2 * stored.dtypes["BF16"] + 4 * stored.dtypes["F32"]


def test_no_safetensors_means_the_architecture_count(tmp_path):
    model = resolve_model(str(model_dir(tmp_path, TINY_CONFIG)))
    assert model.stored is None and model.params_source == "architecture"


def _header(entries: dict) -> bytes:
    return json.dumps(entries).encode()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.write_bytes(b"\x01\x02"), "shorter than its 8-byte header"),
        (lambda p: write_raw_safetensors(p, b"{}", length=2**63), "header claims"),
        (lambda p: write_raw_safetensors(p, b"{}", length=MAX_HEADER_BYTES + 1), "header claims"),
        (lambda p: write_raw_safetensors(p, b"{}", length=100), "header claims"),
        (lambda p: write_raw_safetensors(p, b"{not json"), "not valid JSON"),
        (lambda p: write_raw_safetensors(p, b"\xff\xfe\x00"), "not valid JSON"),
        (lambda p: write_raw_safetensors(p, b"[1, 2]"), "not a JSON object"),
        (lambda p: write_raw_safetensors(p, b"[" * 100_000 + b"]" * 100_000), "not valid JSON"),
        (lambda p: write_raw_safetensors(p, _header({"w": "x"})), "not an object"),
        (
            lambda p: write_raw_safetensors(
                p, _header({"w": {"dtype": "BF16", "shape": [4], "data_offsets": [0, 8]}}), bytes(4)
            ),
            "outside the file",
        ),
        (
            lambda p: write_raw_safetensors(
                p, _header({"w": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 8]}}), bytes(8)
            ),
            "does not match",
        ),
        (
            lambda p: write_raw_safetensors(
                p, _header({"w": {"dtype": "BF16", "shape": [2**62, 2**62], "data_offsets": [0, 8]}}), bytes(8)
            ),
            "does not match",
        ),
        (
            lambda p: write_raw_safetensors(
                p, _header({"w": {"dtype": "BF16", "shape": [-4], "data_offsets": [0, 8]}}), bytes(8)
            ),
            "non-negative",
        ),
        (
            lambda p: write_raw_safetensors(
                p, _header({"w": {"dtype": "BF16", "shape": [1] * 64, "data_offsets": [0, 2]}}), bytes(2)
            ),
            "at most",
        ),
        (
            lambda p: write_raw_safetensors(
                p, _header({"w": {"dtype": "BF16", "shape": [4.0], "data_offsets": [0, 8]}}), bytes(8)
            ),
            "non-negative",
        ),
        (
            lambda p: write_raw_safetensors(
                p, _header({"w": {"dtype": "Q3", "shape": [4], "data_offsets": [0, 8]}}), bytes(8)
            ),
            "unknown dtype",
        ),
        (
            lambda p: write_raw_safetensors(
                p, _header({"w": {"dtype": "BF16", "shape": [4], "data_offsets": [8, 0]}}), bytes(8)
            ),
            "outside the file",
        ),
        (
            lambda p: write_raw_safetensors(
                p, _header({"w": {"dtype": "BF16", "shape": [4], "data_offsets": "0-8"}}), bytes(8)
            ),
            "data_offsets must be",
        ),
    ],
    ids=[
        "truncated",
        "length-2^63",
        "length-over-100MB",
        "length-past-eof",
        "bad-json",
        "not-utf8",
        "not-object",
        "deep-nesting",
        "entry-not-object",
        "offsets-past-data",
        "shape-size-mismatch",
        "shape-overflow",
        "negative-dim",
        "too-many-dims",
        "float-dim",
        "unknown-dtype",
        "reversed-offsets",
        "offsets-not-list",
    ],
)
def test_hostile_headers_are_refused_in_one_line(tmp_path, make, message):
    path = tmp_path / "model.safetensors"
    make(path)
    with pytest.raises(UsageError, match=message) as caught:
        read_header(path)
    assert "\n" not in str(caught.value)


def test_a_hostile_header_in_a_model_directory_is_a_usage_error(tmp_path):
    directory = model_dir(tmp_path, TINY_CONFIG)
    write_raw_safetensors(directory / "model.safetensors", b"{}", length=2**40)
    with pytest.raises(UsageError, match="header claims"):
        resolve_model(str(directory))


def test_counts_agree_with_a_checkpoint_transformers_saved(tmp_path):
    transformers = pytest.importorskip("transformers", reason="transformers is not installed")
    pytest.importorskip("torch", reason="torch is not installed")
    config = transformers.Qwen2Config(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=300,
        tie_word_embeddings=True,
    )
    model = transformers.AutoModelForCausalLM.from_config(config)
    model.save_pretrained(tmp_path / "saved")
    resolved = resolve_model(str(tmp_path / "saved"))
    assert resolved.params_source == "safetensors"
    assert resolved.params == resolved.computed.total == sum(p.numel() for p in model.parameters())


def test_a_fifo_among_the_shards_is_never_opened(tmp_path):
    """A scan of the model directory reads regular files only: opening a FIFO would block."""
    import os

    os.mkfifo(tmp_path / "model.safetensors")
    assert read_weights(tmp_path) is None
