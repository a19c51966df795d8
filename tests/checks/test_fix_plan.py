"""The plan: one driver for every driver floor, proven by running the checks again with it."""

from __future__ import annotations

import json
import subprocess
import sys

from gpu_preflight.checks.diagnose import diagnose
from gpu_preflight.core.findings import Severity
from gpu_preflight.targets.specs import collect_targets

from support.scenarios import A100, host

# The case: three failing findings whose fixes name different branches (CUDA 11.8 -> R520,
# a toolkit's CUDA -> ..., CUDA 13.0 -> R580) on one host with an old driver.
TARGETS = ["2.1.0+cu118", "2.9.0+cu130"]


def _report(driver: str = "470.82.01"):
    subject = host(driver, A100, toolkits=("12.4.131",))
    return diagnose(subject, collect_targets(torch=TARGETS, cuda=["11.8"]))


def test_one_driver_step_clears_every_driver_failure() -> None:
    report = _report()
    problems = [f for f in report.findings if f.severity >= Severity.WARN]
    assert len(problems) >= 3
    driver_steps = [step for step in report.plan if step.kind == "driver"]
    assert len(driver_steps) == 1 and driver_steps[0].verified
    step = driver_steps[0]
    assert ">= 580.95.05" in step.action  # the highest floor, not one per finding
    assert len(step.clears) == len(problems) and not step.introduces


def test_applying_the_plan_clears_what_it_says() -> None:
    report = _report()
    step = report.plan[0]
    after = _report(driver="580.95.05")  # the step done: the same host with that driver
    still = {(f.code, f.device) for f in after.findings if f.severity >= Severity.WARN}
    assert not still & set(step.clears)


def test_no_plan_when_nothing_fails_or_warns() -> None:
    assert _report(driver="580.95.05").plan == []


def test_plan_is_in_the_json_and_first_in_the_terminal(tmp_path) -> None:
    snapshot = tmp_path / "host.json"
    snapshot.write_text(json.dumps(host("470.82.01", A100).to_dict()))
    args = [sys.executable, "-m", "gpu_preflight", "--snapshot", str(snapshot), "--torch", "2.9.0+cu130"]
    document = json.loads(subprocess.run([*args, "--json"], capture_output=True, text=True, check=False).stdout)
    assert document["plan"][0]["kind"] == "driver"
    assert {"code": "driver-runtime", "device": None} in document["plan"][0]["clears"] or document["plan"][0]["clears"]
    text = subprocess.run(args, capture_output=True, text=True, check=False).stdout
    assert text.index("Plan:") < text.index("Checks")
