"""serve as a library: typed options in, no command line involved."""

from __future__ import annotations

import json

import pytest

from gpu_preflight.core.errors import UsageError
from gpu_preflight.probe.hostspec import HostSpec
from gpu_preflight.serve.launch import allowed_hosts, launch
from gpu_preflight.serve.options import ServeOptions

WHAT_IF_T4 = HostSpec(assume_gpus=("Tesla T4",), assume_driver="550.54.15")


def test_a_dry_run_for_another_machine(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    options = ServeOptions(model="VibeThinker-1.5B", engine="vllm", dry_run=True, json=True)
    assert launch(options, WHAT_IF_T4) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["schema"] == "gpu-preflight/serve/v1" and document["engine"] == "vllm"
    assert document["settings"]["dtype"] == "float16"  # a T4 (compute capability 7.5) has no bfloat16
    assert document["preflight"]["host"]["gpus"][0]["name"] == "Tesla T4"


@pytest.mark.parametrize(
    "options, message",
    [
        (ServeOptions(model="VibeThinker-1.5B"), "describe another machine: use them with --dry-run"),
        (ServeOptions(model="VibeThinker-1.5B", dry_run=True, max_queue=0), "--max-queue must be at least 1"),
        (ServeOptions(model="VibeThinker-1.5B", dry_run=True, port=70000), "--port must be 0-65535"),
        (ServeOptions(model="VibeThinker-1.5B", dry_run=True, memory_share=1.5), r"--memory-share must be in \(0, 1\]"),
        (ServeOptions(model="VibeThinker-1.5B", dry_run=True, memory_share=float("nan")), "--memory-share"),
        (ServeOptions(model="VibeThinker-1.5B", dry_run=True, hub_timeout=float("nan")), "--hub-timeout"),
        (ServeOptions(model="VibeThinker-1.5B", dry_run=True, allowed_hosts=("a b",)), "--allowed-hosts"),
        (ServeOptions(model="VibeThinker-1.5B", dry_run=True, threads=0), "--threads must be at least 1"),
        (ServeOptions(model="VibeThinker-1.5B", dry_run=True, max_batch=0), "--max-batch must be at least 1"),
        (
            ServeOptions(model="VibeThinker-1.5B", dry_run=True, engine="vllm", compile=True),
            "--compile is the built-in",
        ),
    ],
)
def test_unusable_options_are_refused_before_any_work(options: ServeOptions, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        launch(options, WHAT_IF_T4)


def test_the_hosts_a_server_answers_to() -> None:
    assert allowed_hosts("127.0.0.1", ()) == frozenset()  # the loopback names are always accepted
    assert allowed_hosts("192.168.1.5", ("gpu.lan",)) == {"192.168.1.5", "gpu.lan"}
    assert allowed_hosts("[fd00::5]", ()) == {"fd00::5"}
    assert allowed_hosts("0.0.0.0", ()) and "0.0.0.0" not in allowed_hosts("0.0.0.0", ())


@pytest.mark.parametrize(
    ("vllm_installed", "engine", "because"),
    [
        (True, "vllm", "auto: vLLM is installed and the GPU passed its checks"),
        (False, "transformers", "auto: vLLM is not installed in this Python"),
    ],
)
def test_engine_auto_takes_vllm_only_where_it_is_installed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], vllm_installed: bool, engine: str, because: str
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("gpu_preflight.serve.launch.installed", lambda name: vllm_installed and name == "vllm")
    assert launch(ServeOptions(model="VibeThinker-1.5B", dry_run=True, json=True), WHAT_IF_T4) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["engine"] == engine
    assert document["settings"]["why"]["engine"].startswith(because)
    if engine == "transformers":  # the built-in engine's batch and threads, each with its reason
        assert document["settings"]["max_batch"] >= 1 and document["settings"]["why"]["max_batch"]
        assert document["settings"]["why"]["threads"]
