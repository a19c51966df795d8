"""Hostile JSON against the readers and the host/v1 decoder: every input is either a valid
value or one UsageError line, never another exception (issue 17, classes 1, 2 and 7)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpu_preflight.checks.diagnose import diagnose
from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.host import Gpu, Host
from gpu_preflight.core.limits import MAX_INT_DIGITS, MAX_JSON_CONTAINERS
from gpu_preflight.core.readers import JsonError, load_json, loads_json, parse_toml
from gpu_preflight.core.units import check_seconds, parse_memory_mib

VALID = {
    "schema": "gpu-preflight/host/v1",
    "hostname": "node-1",
    "driver": {
        "version": "550.54.15",
        "cuda": "12.4",
        "source": "snapshot",
        "kernel_module": None,
        "platform": "linux",
    },
    "gpus": [
        {
            "index": 0,
            "name": "Tesla T4",
            "compute_capability": "7.5",
            "memory_total_mib": 15360,
            "memory_used_mib": 0,
            "mig_devices": [{"index": 0, "memory_total_mib": 4864}],
        }
    ],
    "toolkits": [{"version": "12.4.131", "path": "/usr/local/cuda", "source": "nvcc", "found_via": ["PATH"]}],
    "frameworks": [{"name": "torch", "version": "2.4.0", "cuda": "12.1", "variant": "cu121", "details": {}}],
    "container": {
        "in_container": False,
        "device_files": ["/dev/nvidia0"],
        "nvidia_env": {"NVIDIA_VISIBLE_DEVICES": "all"},
    },
    "env": {"CUDA_VISIBLE_DEVICES": None},
    "platform": {"system": "Linux", "machine": "x86_64"},
    "source": "snapshot",
    "errors": [{"probe": "nvml", "message": "x"}],
}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**70), max_value=10**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.from_regex(r"[0-9]{1,9}(\.[0-9]{1,9}){0,5}", fullmatch=True)
    | st.sampled_from(["0.0", "999.999", "", "windows", "Enabled", "all", "none", "GPU-0", "0,1", "cu999", "x86_64"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path] if path else []
    if isinstance(value, dict):
        for name, item in value.items():
            found += _paths(item, (*path, name))
    elif isinstance(value, list):
        for position, item in enumerate(value):
            found += _paths(item, (*path, position))
    return found


PATHS = _paths(VALID)


def _replaced(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    document = json.loads(json.dumps(VALID))
    target = document
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return document


def test_the_valid_document_reads_and_round_trips():
    host = Host.from_dict(VALID, "x")
    assert Host.from_dict(host.to_dict()) == host


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PATHS), json_values)
def test_any_value_at_any_field_is_a_host_or_one_line(path, value):
    """Whatever JSON value sits at whatever field: a host that the checks can judge, or a
    UsageError whose one line names the field's path."""
    document = _replaced(path, value)
    try:
        host = Host.from_dict(document, "--snapshot x.json")
    except UsageError as exc:
        message = str(exc)
        assert "\n" not in message and message.startswith("--snapshot x.json: ")
        if path[0] != "schema":
            assert "at $" in message
        return
    diagnose(host, None)  # checks never crash on what the decoder let through


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            ("gpus", 0, "memory_total_mib"),
            -5,
            "at $.gpus[0].memory_total_mib: expected a whole number of MiB from 0 to 67,108,864, got -5",
        ),
        (("gpus", 0, "memory_total_mib"), 10**4000, "got a number of about 4001 digits"),
        (("gpus", 0, "compute_capability"), "abc", "at $.gpus[0].compute_capability: expected a compute capability"),
        (("env",), None, None),  # null: no environment recorded
        (("container", "nvidia_env"), {"X": 12}, "at $.container.nvidia_env.X: expected a string, got 12"),
        (("gpus", 0, "name"), ["T4"], "at $.gpus[0].name: expected a string, got a list of 1"),
        (("driver", "version"), {"v": 1}, "at $.driver.version: expected a version"),
        (("gpus",), [VALID["gpus"][0]] * 2000, "at $.gpus: expected a list of at most 1,024 entries"),
        (("env", "CUDA_VISIBLE_DEVICES"), 0, "at $.env.CUDA_VISIBLE_DEVICES: expected a string or null, got 0"),
    ],
)
def test_bad_fields_are_named_by_their_path(path, value, message):
    document = _replaced(path, value)
    if message is None:
        assert Host.from_dict(document).env == {}
        return
    with pytest.raises(UsageError) as info:
        Host.from_dict(document, "--snapshot x.json")
    assert message in str(info.value) and str(info.value).startswith("--snapshot x.json: at $.")


@pytest.mark.parametrize(
    ("document", "hint"),
    [
        ({"kind": "NodeList", "items": []}, "preflight fleet --k8s-nodes"),
        ({"apiVersion": "v1", "kind": "Node", "metadata": {}}, "preflight fleet --k8s-nodes"),
        ({"nvidia.com/gpu.product": "Tesla-T4"}, "Kubernetes node labels"),
        ({"schema": "gpu-preflight/report/v1", "host": {}}, "jq .host"),
        ({"schema": "gpu-preflight/fleet/v1"}, "'fleet/v1'"),
        ({}, "preflight probe --json"),
        ({"hello": 1}, "preflight probe --json"),
    ],
)
def test_a_json_object_that_is_not_a_host_document_is_refused_with_a_hint(document, hint):
    with pytest.raises(UsageError, match="not a host document|is not 'gpu-preflight/host/v1'") as info:
        Host.from_dict(document, "--snapshot x.json")
    assert hint in str(info.value)


def test_a_document_without_schema_but_with_the_shape_is_read():
    assert Host.from_dict({"driver": {"version": "550.54.15"}, "gpus": []}).driver.version == "550.54.15"
    assert Host.from_dict({"gpus": [{"index": 0, "name": "Tesla T4"}]}).gpus == [Gpu(0, "Tesla T4")]


# --- readers: numbers, depth, width ------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "1" * 5000,
        '{"a": ' + "9" * (MAX_INT_DIGITS + 1) + "}",
        "-" + "9" * 5000,
        "[" * 100_000 + "]" * 100_000,
        "[" + "{}," * MAX_JSON_CONTAINERS + "{}]",
        "[" + "0," * 4_000_001 + "0]",
        "{oops",
        b"\xff\xfe\x00",
    ],
)
def test_loads_json_refuses_with_one_phrase(text):
    with pytest.raises(JsonError) as info:
        loads_json(text)
    assert "\n" not in str(info.value)
    with pytest.raises(UsageError, match=r"^x\.json: (not valid JSON \(|refusing this JSON: )"):
        load_json(text.encode() if isinstance(text, str) else text, "x.json")


def test_loads_json_keeps_real_numbers():
    assert loads_json('{"a": ' + "9" * MAX_INT_DIGITS + ', "b": 1e999, "c": -3}') == {
        "a": int("9" * MAX_INT_DIGITS),
        "b": float("inf"),
        "c": -3,
    }


@given(st.integers(min_value=MAX_INT_DIGITS + 1, max_value=6000))
@settings(max_examples=20, deadline=None)
def test_any_overlong_integer_is_refused(digits):
    with pytest.raises(JsonError, match=f"a number of {digits} digits"):
        loads_json("[" + "7" * digits + "]")


def test_toml_with_an_overlong_integer_is_one_line():
    with pytest.raises(UsageError, match="x.toml: not valid TOML"):
        parse_toml("a = " + "9" * 5000, "x.toml")


# --- units -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["9" * 400, "9" * 400 + "GiB", "1" + "0" * 300 + ".5TiB", "99999999999TiB", "0", "0.5"]
)
def test_memory_sizes_out_of_range_are_refused(text):
    with pytest.raises(UsageError, match="memory size out of range"):
        parse_memory_mib(text)


@given(st.text(max_size=40))
@settings(max_examples=300, deadline=None)
def test_parse_memory_mib_is_a_size_or_one_line(text):
    try:
        mib = parse_memory_mib(text)
    except UsageError as exc:
        assert "\n" not in str(exc)
    else:
        assert 1 <= mib <= 64 * 1024 * 1024


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1.0, 0.0, 1e308, 86401.0])
def test_check_seconds_refuses_what_no_timer_can_take(value):
    with pytest.raises(UsageError, match="--timeout must be a number of seconds above 0 and at most 86400"):
        check_seconds(value, "--timeout", 86400.0)


def test_check_seconds_keeps_real_durations():
    assert check_seconds(15, "--timeout", 86400.0) == 15.0


@pytest.mark.parametrize("depth", [65, 900])
def test_json_nested_deeper_than_any_real_document_is_refused(depth):
    """Under Python's own limit, but deep enough to break asdict or a report's json.dumps."""
    with pytest.raises(JsonError, match="nested more than 64 levels deep"):
        loads_json('{"a": ' * depth + "1" + "}" * depth)
    assert loads_json("[" * 64 + "]" * 64) is not None


def test_a_snapshot_with_deep_details_is_refused(tmp_path):
    details = '{"a": ' * 900 + "1" + "}" * 900
    text = (
        '{"schema": "gpu-preflight/host/v1", "frameworks": [{"name": "t", "version": "1", "details": ' + details + "}]}"
    )
    with pytest.raises(UsageError, match="refusing this JSON: nested more than 64 levels deep"):
        load_json(text.encode(), "--snapshot x.json")


def test_toml_nested_deeper_than_any_real_document_is_one_line():
    with pytest.raises(UsageError, match="x.toml: not valid TOML: nested more than 64 levels deep"):
        parse_toml("a = " + "[" * 100 + "]" * 100, "x.toml")
    assert parse_toml("a = " + "[" * 63 + "]" * 63, "x.toml")
