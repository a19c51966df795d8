"""`preflight fit` as users and scripts call it, in a separate process: exit codes, the
gpu-preflight/fit/v1 document, one-line errors."""

from __future__ import annotations

import json

import pytest

from support.fit_inputs import (
    TINY_CONFIG,
    VIBE_CONFIG,
    VIBE_KV_BF16_PER_TOKEN,
    VIBE_PARAMS,
    model_dir,
    tiny_tensors,
    write_raw_safetensors,
)

FIT_KEYS = {"schema", "model", "params", "bytes", "kv_bytes_per_token", "devices"}
BYTES_KEYS = {"weights", "kv_cache", "activations", "overhead", "total"}
DEVICE_KEYS = {"index", "free_bytes", "fits", "max_context", "max_concurrency"}
FINDING_KEYS = {"code", "severity", "cause", "title", "detail", "device", "evidence", "fix"}
T4 = ["--assume-gpu", "Tesla T4:16GiB"]
H100 = ["--assume-gpu", "NVIDIA H100 80GB HBM3"]
OFFLINE = {"HF_HUB_OFFLINE": "1"}


def _one_line_error(result):
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("preflight: error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_vibethinker_on_a_t4_json_contract(run_cli):
    result = run_cli("fit", "VibeThinker-1.5B", *T4, "--context", "32768", "--json")
    assert result.returncode == 0, result.stderr
    document = result.json()
    assert FIT_KEYS <= document.keys() and document["schema"] == "gpu-preflight/fit/v1"
    assert document["params"] == VIBE_PARAMS
    assert document["kv_bytes_per_token"] == VIBE_KV_BF16_PER_TOKEN
    assert BYTES_KEYS <= document["bytes"].keys()
    assert document["bytes"]["total"] == sum(document["bytes"][k] for k in BYTES_KEYS - {"total"})
    (device,) = document["devices"]
    assert DEVICE_KEYS <= device.keys() and device["fits"] is True and device["free_bytes"] == 16 * 1024**3
    assert isinstance(device["max_context"], int) and device["max_concurrency"] >= 1
    for finding in document["findings"]:
        assert set(finding) == FINDING_KEYS
    assert document["model"]["id"] == "WeiboAI/VibeThinker-1.5B"


def test_h100_text_answers_the_seed_question(run_cli):
    result = run_cli("fit", "VibeThinker-1.5B", *H100, "--context", "40960")
    assert result.returncode == 0, result.stderr
    assert "GPU 0: NVIDIA H100 80GB HBM3" in result.stdout
    assert "largest context at batch 1: 131072 (model limit)" in result.stdout
    assert "Status: PASS" in result.stdout


def test_does_not_fit_exits_1_with_fixes(run_cli):
    result = run_cli("fit", "Qwen2.5-7B-Instruct", *T4, "--dtype", "float16", "--context", "8192", "--json")
    assert result.returncode == 1, result.stderr
    document = result.json()
    assert document["status"] == "fail" and document["devices"][0]["fits"] is False
    oom = next(f for f in document["findings"] if f["code"] == "fit-out-of-memory")
    assert oom["cause"] == "out-of-memory" and any(fix.startswith("--dtype int8") for fix in oom["fix"])


def test_unsupported_dtype_exits_1(run_cli):
    result = run_cli("fit", "VibeThinker-1.5B", *T4, "--dtype", "bfloat16", "--context", "4096", "--json")
    assert result.returncode == 1
    found = [f for f in result.json()["findings"] if f["cause"] == "unsupported-dtype"]
    assert found and found[0]["fix"] == ["--dtype float16"]


def test_mixed_gpus_are_listed_one_by_one(run_cli):
    result = run_cli("fit", "Qwen2.5-7B-Instruct", *T4, *H100, "--dtype", "float16", "--context", "8192", "--json")
    assert result.returncode == 0, result.stderr
    assert [d["fits"] for d in result.json()["devices"]] == [False, True]


def test_tensor_parallel_over_two_t4s(run_cli):
    result = run_cli(
        "fit",
        "Qwen2.5-7B-Instruct",
        *T4,
        *T4,
        "--dtype",
        "float16",
        "--context",
        "8192",
        "--tensor-parallel",
        "2",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    assert result.json()["tensor_parallel"] == {
        **result.json()["tensor_parallel"],
        "size": 2,
        "devices": [0, 1],
        "fits": True,
    }


def test_memory_used_by_others_is_subtracted(run_cli, tmp_path):
    snapshot = {
        "schema": "gpu-preflight/host/v1",
        "gpus": [
            {
                "index": 0,
                "name": "Tesla T4",
                "compute_capability": "7.5",
                "memory_total_mib": 15360,
                "memory_used_mib": 5120,
            }
        ],
    }
    (tmp_path / "host.json").write_text(json.dumps(snapshot))
    result = run_cli(
        "fit",
        "VibeThinker-1.5B",
        "--snapshot",
        str(tmp_path / "host.json"),
        "--engine",
        "transformers",
        "--context",
        "4096",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    device = result.json()["devices"][0]
    assert device["free_bytes"] == device["budget_bytes"] == (15360 - 5120) * 1024 * 1024


def test_a_local_directory_with_safetensors(run_cli, tmp_path):
    directory = model_dir(tmp_path, TINY_CONFIG, tiny_tensors(TINY_CONFIG))
    result = run_cli("fit", str(directory), *H100, "--json")
    assert result.returncode == 0, result.stderr
    model = result.json()["model"]
    assert model["params_source"] == "safetensors" and model["stored"]["dtypes"] == {"BF16": result.json()["params"]}


def test_no_gpu_exits_1(run_cli, tmp_path):
    (tmp_path / "host.json").write_text(json.dumps({"gpus": []}))
    result = run_cli("fit", "VibeThinker-1.5B", "--snapshot", str(tmp_path / "host.json"), "--json")
    assert result.returncode == 1 and result.json()["findings"][0]["code"] == "fit-no-gpu"


@pytest.mark.parametrize(
    "args",
    [
        ["fit"],
        ["fit", "no-such-model", *T4],
        ["fit", "someone/model", *T4],  # HF_HUB_OFFLINE: not fetched
        ["fit", "VibeThinker-1.5B", "--dtype", "fp7", *T4],
        ["fit", "VibeThinker-1.5B", "--context", "0", *T4],
        ["fit", "VibeThinker-1.5B", "--context", "many", *T4],
        ["fit", "VibeThinker-1.5B", "--batch", "-1", *T4],
        ["fit", "VibeThinker-1.5B", "--engine", "tgi", *T4],
        ["fit", "VibeThinker-1.5B", "--engine", "transformers", "--tensor-parallel", "2", *T4],
        ["fit", "VibeThinker-1.5B", "--kv-cache-dtype", "int4", *T4],
        ["fit", "VibeThinker-1.5B", "--gpu-memory-utilization", "2", *T4],
        ["fit", "VibeThinker-1.5B", "--hub-timeout", "0", *T4],
        ["fit", "VibeThinker-1.5B", "--assume-gpu", "Imaginary GPU 9000"],
    ],
)
def test_unusable_requests_exit_2_in_one_line(run_cli, args):
    _one_line_error(run_cli(*args, env=OFFLINE))


@pytest.mark.parametrize(
    "config_bytes",
    [
        b"{bad json",
        b"[]",
        json.dumps({**VIBE_CONFIG, "num_hidden_layers": "28"}).encode(),
        json.dumps({**VIBE_CONFIG, "num_key_value_heads": 5}).encode(),
    ],
)
def test_a_bad_config_json_exits_2(run_cli, tmp_path, config_bytes):
    (tmp_path / "config.json").write_bytes(config_bytes)
    _one_line_error(run_cli("fit", str(tmp_path), *T4))


def test_a_hostile_safetensors_header_exits_2(run_cli, tmp_path):
    directory = model_dir(tmp_path, TINY_CONFIG)
    write_raw_safetensors(directory / "model.safetensors", b"{}", length=2**63)
    _one_line_error(run_cli("fit", str(directory), *T4))


def test_fit_is_listed_in_help(run_cli):
    assert "fit" in run_cli("--help").stdout
    assert "--kv-cache-dtype" in run_cli("fit", "--help").stdout
