"""`preflight serve` on the command line: the gate's refusals, --dry-run, one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from gpu_preflight.serve import launch
from gpu_preflight.serve.data import find_profile
from gpu_preflight.serve.render import Plan

OFFLINE = {"HF_HUB_OFFLINE": "1"}


def test_dry_run_json_shows_the_derived_settings_and_the_report(run_cli, tiny_model):
    result = run_cli("serve", str(tiny_model), "--device", "cpu", "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    document = result.json()
    assert document["schema"] == "gpu-preflight/serve/v1" and document["engine"] == "transformers"
    assert document["settings"]["device"] == "cpu" and document["settings"]["max_context"] == 512
    assert document["settings"]["why"]["max_context"].startswith("the model's max_position_embeddings")
    assert document["preflight"]["schema"] == "gpu-preflight/report/v1"
    assert document["url"] == "http://127.0.0.1:8000"  # loopback unless told otherwise
    # engine auto (the default) on a CPU: the built-in engine, batching what the memory plan allows
    assert document["settings"]["why"]["engine"].startswith("auto:")
    assert document["settings"]["max_batch"] == 64  # the tiny model: the rules' cap fits many times over
    threads = run_cli("serve", str(tiny_model), "--device", "cpu", "--threads", "3", "--dry-run")
    assert "threads 3: --threads" in threads.stdout


def test_vllm_command_for_an_old_gpu(run_cli):
    result = run_cli(
        "serve",
        "VibeThinker-1.5B",
        "--engine",
        "vllm",
        "--dry-run",
        "--assume-gpu",
        "Tesla T4",
        "--assume-driver",
        "550.54.15",
        "--api-key",
        "s3cret",
        env=OFFLINE,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    command = next(line for line in result.stdout.splitlines() if "vllm.entrypoints.openai.api_server" in line)
    assert (
        "--dtype float16" in command
        and "--max-model-len 131072" in command
        and "--gpu-memory-utilization 0.9" in command
    )
    assert "--served-model-name WeiboAI/VibeThinker-1.5B" in command and "s3cret" not in result.stdout


def test_vllm_missing_is_one_clear_line(monkeypatch, capsys):
    monkeypatch.setattr(launch, "installed", lambda name: False)
    plan = Plan(
        None,
        "m",
        "m",
        "http://127.0.0.1:8000",
        find_profile("vibethinker"),
        None,
        ["python3", "-m", "vllm.entrypoints.openai.api_server"],
    )
    assert launch._run_vllm(plan) == 1
    err = capsys.readouterr().err
    assert (
        "running: python3 -m vllm.entrypoints.openai.api_server" in err
        and "vLLM is not installed" in err
        and "pip install vllm" in err
    )


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has an NVIDIA driver")
def test_device_cuda_refuses_without_a_gpu_and_prints_the_report(run_cli, tiny_model):
    result = run_cli("serve", str(tiny_model), "--device", "cuda")
    assert result.returncode == 1
    assert "no-driver" in result.stdout or "No NVIDIA driver" in result.stdout
    assert "refusing to start" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("someone/not-cached-model",),
        ("WeiboAI/VibeThinker-1.5B", "--device", "cpu", "--max-context", "1024"),  # weights not in the cache
        ("--device", "cpu", "--engine", "vllm"),
        ("--assume-gpu", "Tesla T4"),
        ("--dtype", "int4", "--dry-run"),
        ("--device", "cpu", "--memory-share", "5"),
        ("--device", "cpu", "--memory-share", "nan"),
        ("--device", "cpu", "--memory-share", "0"),
        ("--dry-run", "--assume-driver", ""),
        ("--device", "cpu", "--allowed-hosts", ""),
        ("--device", "cpu", "--cors-origin", "evil"),
        ("--device", "cpu", "--max-body-mib", "0"),
        ("",),
    ],
)
def test_unusable_requests_are_one_line_and_exit_2(run_cli, tmp_path, args):
    result = run_cli("serve", *args, env={**OFFLINE, "HF_HOME": str(tmp_path / "hf")})
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("preflight: error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr


def test_building_the_parser_imports_no_heavy_module():
    code = (
        "import sys, gpu_preflight.cli.main as c; c.build_parser(); "
        "print(sorted(m for m in ('torch', 'transformers', 'fastapi', 'uvicorn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_port_in_use_is_one_line(run_cli, tiny_model):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = run_cli("serve", str(tiny_model), "--device", "cpu", "--port", str(taken.getsockname()[1]))
    assert result.returncode == 2 and "cannot listen on 127.0.0.1" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr  # not the CPU warning first


def test_listening_beyond_this_machine_without_a_key_is_warned(run_cli, tiny_model):
    result = run_cli("serve", str(tiny_model), "--device", "cpu", "--host", "0.0.0.0", "--dry-run")
    assert result.returncode == 0 and "listening on 0.0.0.0 without --api-key" in result.stderr
    quiet = run_cli("serve", str(tiny_model), "--device", "cpu", "--host", "0.0.0.0", "--api-key", "k", "--dry-run")
    assert "without --api-key" not in quiet.stderr


def test_a_model_that_fails_to_load_ends_the_server_with_exit_1(run_cli, tiny_model, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    config = json.loads((broken / "config.json").read_text())
    config["hidden_act"] = "no-such-activation"  # fit's plan reads the shape only; building the model fails
    (broken / "config.json").write_text(json.dumps(config))
    from support.serving import free_port

    result = run_cli("serve", str(broken), "--device", "cpu", "--port", str(free_port()), timeout=120)
    assert result.returncode == 1, result.stderr
    assert "the model failed to load: KeyError" in result.stderr
