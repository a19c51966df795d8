"""``--engine-pkg`` end to end: a typed target, a verdict with its exit code, and one line for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gpu_preflight.cli.flags import targets_from_args
from gpu_preflight.cli.main import build_parser, main

from support.scenarios import RTX4090, host


def test_engine_flags_and_requirement_pins_become_engine_targets(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("vllm==0.11.0\n")
    args = build_parser().parse_args(["doctor", "--engine-pkg", "sglang==0.5.1", "--requirements", str(requirements)])
    targets = targets_from_args(args)
    assert [(e.engine, e.version) for e in targets.engines] == [("sglang", "0.5.1"), ("vllm", "0.11.0")]
    assert list(targets) == []  # no torch pin: the torch targets are untouched


def test_doctor_fails_the_default_vllm_wheel_on_a_cuda_12_9_driver(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshot = tmp_path / "host.json"
    snapshot.write_text(json.dumps(host("575.57.08", RTX4090).to_dict()))
    rc = main(["doctor", "--snapshot", str(snapshot), "--engine-pkg", "vllm==0.20.0", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert rc == 1 and document["status"] == "fail"
    (runtime,) = [f for f in document["findings"] if f["code"] == "driver-runtime"]
    assert runtime["cause"] == "driver-too-old"
    assert any("+cu129" in fix for fix in runtime["fix"]) and any(">= 580" in fix for fix in runtime["fix"])


@pytest.mark.parametrize("spec", ["vllm>=0.10", "vllm", "tensorrt-llm==1.0"])
def test_a_bad_engine_spec_is_one_line_and_exit_2(spec: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["doctor", "--assume-driver", "575.57.08", "--engine-pkg", spec])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "--engine-pkg" in err
