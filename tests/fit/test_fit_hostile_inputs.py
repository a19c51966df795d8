"""Hostile model inputs (issue 17): whatever config.json, a safetensors header or a host document
holds, fit answers with a plan or one UsageError line, never another exception."""

from __future__ import annotations

import json
import struct
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.limits import MAX_SAFETENSORS_HEADER_BYTES
from gpu_preflight.fit import fit_device, plan_memory, resolve_model
from gpu_preflight.fit.model_shape import count_parameters, shape_from_config
from gpu_preflight.fit.plan import vllm_batch_defaults
from gpu_preflight.fit.safetensors import read_header
from gpu_preflight.fit.sources import Model

from support.fit_inputs import VIBE_CONFIG, gpu, model_dir, write_raw_safetensors

# What a hostile or broken config.json puts where a number, text or object is expected.
ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(min_value=-4, max_value=8), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
NUMERIC_KEYS = [
    "hidden_size",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "num_hidden_layers",
    "intermediate_size",
    "vocab_size",
    "max_position_embeddings",
    "tie_word_embeddings",
    "model_type",
    "torch_dtype",
    "quantization_config",
    "num_local_experts",
    "num_experts_per_tok",
]


def _plan_or_usage_error(config: dict) -> None:
    """The whole path a config.json takes: shape, parameter count, plan, one GPU's fit."""
    try:
        shape = shape_from_config(config, "config.json")
        model = Model("m", "directory", "m", shape, count_parameters(shape))
        plan = plan_memory(model, context=shape.max_position_embeddings or 4096)
        fit_device(plan, gpu("Tesla T4", 15360, cc="7.5"))
    except UsageError as exc:
        assert "\n" not in str(exc)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(NUMERIC_KEYS), ODD_VALUES, min_size=1, max_size=4))
def test_any_config_value_gives_a_plan_or_one_usage_error(changes):
    _plan_or_usage_error({**VIBE_CONFIG, **changes})


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["quant_method", "bits", "load_in_4bit", "load_in_8bit", "other"]),
        ODD_VALUES,
        max_size=4,
    )
)
def test_any_quantization_config_gives_a_plan_or_one_usage_error(quantization):
    _plan_or_usage_error({**VIBE_CONFIG, "quantization_config": quantization})


@pytest.mark.parametrize(
    "change, message",
    [
        ({"quantization_config": {"quant_method": "gptq", "bits": [4]}}, "quantization_config.bits"),
        ({"quantization_config": [4]}, "quantization_config must be an object"),
        ({"quantization_config": {"quant_method": ["gptq"]}}, "quant_method must be text"),
        ({"model_type": ["x"]}, "model_type must be text"),
        ({"hidden_size": 1, "num_attention_heads": 2, "num_key_value_heads": 2}, "smaller than num_attention_heads"),
    ],
)
def test_the_issue_17_configs_are_one_line(change, message):
    with pytest.raises(UsageError, match=message):
        _plan = shape_from_config({**VIBE_CONFIG, **change}, "config.json")
        plan_memory(Model("m", "directory", "m", _plan, count_parameters(_plan)), context=1)


HEADER_ENTRY = st.fixed_dictionaries(
    {},
    optional={
        "dtype": st.one_of(st.sampled_from(["F32", "BF16", "F4"]), ODD_VALUES),
        "shape": st.one_of(st.lists(st.integers(min_value=-2, max_value=4), max_size=3), ODD_VALUES),
        "data_offsets": st.one_of(st.lists(st.integers(min_value=-2, max_value=8), max_size=3), ODD_VALUES),
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.text(max_size=6), st.one_of(HEADER_ENTRY, ODD_VALUES), max_size=3))
def test_any_safetensors_header_is_read_or_one_usage_error(tmp_path, header):
    path = write_raw_safetensors(tmp_path / "model.safetensors", json.dumps(header).encode(), bytes(8))
    try:
        read_header(path)
    except UsageError as exc:
        assert "\n" not in str(exc)


@pytest.mark.parametrize(
    "header",
    [
        b'{"w":{"dtype":["F32"],"shape":[1],"data_offsets":[0,4]}}',  # a list where a dtype name goes
        b'{"w":{"dtype":{"F32":1},"shape":[1],"data_offsets":[0,4]}}',
        b'{"w":{"dtype":"F32","shape":[' + b"9" * 5000 + b'],"data_offsets":[0,4]}}',  # past int()'s limit
    ],
)
def test_odd_header_values_are_usage_errors(tmp_path, header):
    with pytest.raises(UsageError):
        read_header(write_raw_safetensors(tmp_path / "model.safetensors", header, bytes(4)))


def test_a_header_past_the_cap_is_refused_before_it_is_parsed(tmp_path):
    size = MAX_SAFETENSORS_HEADER_BYTES + 1
    path = tmp_path / "model.safetensors"
    with open(path, "wb") as fh:  # a header of spaces: only its claimed length matters
        fh.write(struct.pack("<Q", size))
        fh.seek(8 + size + 4 - 1)
        fh.write(b"\0")
    with pytest.raises(UsageError, match="not a real checkpoint header"):
        read_header(path)


def test_a_model_directory_with_a_huge_header_is_one_line(tmp_path):
    directory = model_dir(tmp_path, VIBE_CONFIG)
    path = directory / "model.safetensors"
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", 99_000_000))
        fh.seek(8 + 99_000_000)
        fh.write(b"\0")
    with pytest.raises(UsageError, match="larger than"):
        resolve_model(str(directory))


@pytest.mark.parametrize("total, used", [(-5, None), (0, None), (-5, -7), (1024, -100), (1024, 5000), (10**12, None)])
def test_odd_gpu_memory_never_asserts(total, used):
    """The neg.json case: a host document with negative memory reached vLLM's batch-defaults
    table, which has no row below 0 GiB. A host reader may refuse such a document; fit must
    not fail on it either way."""
    model = resolve_model("VibeThinker-1.5B")
    odd = replace(gpu("Tesla T4", total, cc="7.5"), memory_used_mib=used)
    assert vllm_batch_defaults(odd)["max_num_seqs"] > 0
    for engine in ("vllm", "transformers"):
        row = fit_device(plan_memory(model, context=4096, engine=engine), odd)
        if total <= 0:
            assert not row.fits and row.reason and "not a real one" in row.reason
