"""--markdown is pasted into public issues: it leaves out the hostname and home-path user names
unless --no-redact; --json keeps them unless --redact."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gpu_preflight.core.host import Framework
from gpu_preflight.report.redact import Redactor

from support.scenarios import A100, host

NAME = "gpu-node-17"


def test_redactor_takes_out_the_host_and_home_user_names() -> None:
    redactor = Redactor(NAME)
    text = f"{NAME}: /home/alice/.venv, /Users/bob/miniconda3, C:\\Users\\carol\\AppData; {NAME}.local"
    assert (
        redactor.text(text)
        == "<host>: /home/<user>/.venv, /Users/<user>/miniconda3, C:\\Users\\<user>\\AppData; <host>.local"
    )
    assert Redactor("localhost").text("localhost and /root/x") == "localhost and /root/x"
    assert redactor.document({"hostname": NAME, "paths": [f"/home/dave/{NAME}"]}) == {
        "hostname": "<host>",
        "paths": ["/home/<user>/<host>"],
    }


@pytest.fixture
def snapshot(tmp_path):
    subject = host(
        "470.82.01",
        A100,
        frameworks=(Framework("torch", "2.9.0+cu130", "13.0", "cu130", location="/home/erin/venv/lib"),),
    )
    subject.hostname = NAME
    path = tmp_path / "host.json"
    path.write_text(json.dumps(subject.to_dict()))
    return str(path)


def _doctor(*args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "gpu_preflight", "doctor", *args], capture_output=True, text=True, check=False
    ).stdout


def test_markdown_redacts_by_default(snapshot) -> None:
    text = _doctor("--snapshot", snapshot, "--markdown")
    assert "**FAIL**" in text and NAME not in text and "<host>" in text
    assert NAME in _doctor("--snapshot", snapshot, "--markdown", "--no-redact")


def test_json_keeps_the_hostname_unless_asked(snapshot) -> None:
    assert json.loads(_doctor("--snapshot", snapshot, "--json"))["host"]["hostname"] == NAME
    redacted = _doctor("--snapshot", snapshot, "--json", "--redact")
    assert NAME not in redacted and "erin" not in redacted
    assert json.loads(redacted)["host"]["hostname"] == "<host>"
