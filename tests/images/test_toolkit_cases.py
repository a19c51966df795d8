"""The container-toolkit cases (../shared/fixtures/real/container-toolkit-tests, read in place)
through the image path: an image environment -> the gate's state, and a raw --require-cuda
condition -> accepted or refused as a bad request (exit 2). libnvidia-container is the reference
where the Go toolkit differs: an unknown property is an invalid expression, not skipped."""

from __future__ import annotations

import json

import pytest

from gpu_preflight.checks.context import CheckContext
from gpu_preflight.checks.image_gate import gate_findings
from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.findings import Severity
from gpu_preflight.images.resolve import parse_require_cuda

from support.paths import REAL
from support.scenarios import A100, host

CASES_FILE = REAL / "container-toolkit-tests" / "requirements-test-cases.json"
try:
    CASES = json.loads(CASES_FILE.read_text(encoding="utf-8"))
except FileNotFoundError:
    CASES = None


def cases(section: str, key: str = "cases") -> list:
    if CASES is None:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"real fixture not found: {CASES_FILE}"))]
    return [
        pytest.param(c, id=str(c.get("description", c)) if isinstance(c, dict) else str(c)) for c in CASES[section][key]
    ]


def env_of(case: dict) -> dict[str, str]:
    items = case["env"]
    return dict(items) if isinstance(items, dict) else dict(item.split("=", 1) for item in items)


def gate_on(driver: str, cuda: str, env: dict[str, str]):
    return gate_findings(CheckContext(host=host(driver, A100, driver_cuda=cuda)), env, "image")


@pytest.mark.parametrize("case", cases("toolkit_image_requirements"))
def test_image_environments(case):
    """What the toolkit passes on becomes the gate: none, disabled, or judged (legacy cuda>=X.Y included)."""
    env = env_of(case)
    expected = case["requirements"]
    old = gate_on("470.82.01", "11.4", env)  # below every cuda>= of the cases
    new = gate_on("550.54.15", "12.4", env)
    if expected is None:
        assert old.state == new.state == "none"
    elif expected == []:
        assert old.state == new.state == "disabled"
    else:
        judged = [r for r in expected if r.startswith("cuda>=")]
        assert old.findings[0].evidence["requirements"]  # every requirement is named in the evidence
        if "brand=tesla" in expected:  # an A100 reports brand "nvidia": the brand requirement refuses it
            assert old.state == new.state == "refused"
        else:
            assert (old.state, new.state) == ("refused", "admitted")
            assert (
                old.findings[0]
                .evidence["runtime_message"]
                .endswith(
                    f"unsatisfied condition: {judged[0]}, please update your driver to a newer version, "
                    "or use an earlier cuda container"
                )
            )


@pytest.mark.parametrize("case", cases("runtime_hook_container_config"))
def test_runtime_hook_requirements(case):
    """req0=true is an unknown property: libnvidia-container refuses the expression."""
    env = env_of(case)
    if "requirements" not in case:
        return  # no GPU injection at all: nothing of the image's requirements is looked at
    gate = gate_on("550.54.15", "12.4", env)
    expected = case["requirements"]
    if expected == []:
        assert gate.state == "disabled"
    elif any(r.startswith("req") for r in expected):
        assert gate.state == "invalid" and gate.findings[0].severity == Severity.FAIL
    else:
        assert gate.state == "admitted"


@pytest.mark.parametrize("case", cases("toolkit_parse_condition"))
def test_require_cuda_conditions(case):
    condition = case["condition"]
    valid = not case["error"] and case.get("expected") is not None
    if valid:
        assert parse_require_cuda(condition) == condition
    else:  # errors, the empty value and the unknown property foo (libnvidia-container: invalid)
        with pytest.raises(UsageError) as caught:
            parse_require_cuda(condition)
        assert "\n" not in str(caught.value)


@pytest.mark.parametrize("case", cases("toolkit_parse_requirement"))
def test_require_cuda_requirements(case):
    text = case["requirement"]
    if case["error"] or not text or "foo=" in text:
        with pytest.raises(UsageError):
            parse_require_cuda(text)
        return
    parse_require_cuda(text)
    # actual_semantics: space = OR, comma = AND; arch=5.3 never holds on an A100 (8.0)
    gate = gate_on("535.104.05", "12.2", {"NVIDIA_REQUIRE_CUDA": text})
    semantics = case["actual_semantics"]
    expected = {
        "cuda>=11.6 OR arch=5.3": "admitted",
        "cuda>=11.6 AND arch=5.3": "refused",
        "cuda<13.6 OR (cuda>=11.6 AND arch=5.3)": "admitted",
    }[semantics]
    assert gate.state == expected


def test_error_message_shapes():
    """dsl_semantics.error_messages: the hint only after cuda>=; otherwise the bare first group."""
    if CASES is None:
        pytest.skip(f"real fixture not found: {CASES_FILE}")
    shapes = CASES["dsl_semantics"]["error_messages"]
    with_hint = gate_on("470.82.01", "11.4", {"NVIDIA_REQUIRE_CUDA": "cuda>=12.0 brand=tesla,driver>=450,driver<451"})
    bare = gate_on("470.82.01", "11.4", {"NVIDIA_REQUIRE_CUDA": "driver>=535 cuda>=12.0"})
    expected_hint = shapes["failed_predicate_starting_with_cuda>="].replace(
        "<first space-separated group>", "cuda>=12.0"
    )
    expected_bare = shapes["other_failed_predicate"].replace("<first space-separated group>", "driver>=535")
    assert (
        with_hint.findings[0].evidence["runtime_message"] == f"nvidia-container-cli: requirement error: {expected_hint}"
    )
    assert bare.findings[0].evidence["runtime_message"] == f"nvidia-container-cli: requirement error: {expected_bare}"
