"""The shared real fixtures (read from ../shared, never copied): collect_env dumps and one-line
nvidia-smi failures. They carry no confirmed cause, so only what the dump itself states is asserted."""

from __future__ import annotations

import re

import pytest

from gpu_preflight.explain import explain_bytes


def top(path):
    causes = explain_bytes(path.read_bytes()).causes
    return causes[0].cause if causes else None


@pytest.mark.parametrize(
    "name, expected",
    [
        ("driver-library-mismatch__535.161__anderskm-gputil-55.txt", "driver-library-mismatch"),
        ("driver-library-mismatch__old-single-line__orange-cppuprofile-7.txt", "driver-library-mismatch"),
        ("no-driver__lyulyul-shine-cluster-50.txt", "no-driver"),
        ("err-power-fragment__v100__azhpc-diagnostics-77.txt", None),  # a table, not a failure
    ],
)
def test_nvidia_smi_errors(shared_real, name, expected):
    assert top(shared_real / "nvidia-smi-text" / "errors" / name) == expected


@pytest.mark.parametrize(
    "prefix, expected",
    [
        ("pytorch-issue-33473", "cpu-only-build"),  # torch 1.4.0+cpu
        ("pytorch-issue-45558", "cpu-only-build"),
        ("pytorch-issue-43058", "driver-too-old"),  # built for CUDA 10.2, driver 418.67 (needs 440.33)
        ("pytorch-issue-84365", "no-driver"),  # CUDA unavailable, no driver or GPU collected
        ("pytorch-issue-45824", "cuda-version-confusion"),  # built 10.2, toolkit 10.1, CUDA available: nothing broken
    ],
)
def test_collect_env_dumps(shared_real, prefix, expected):
    path = next((shared_real / "collect-env").glob(prefix + "*"))
    assert top(path) == expected


def _release(version: str) -> str:
    """``1.7.0.dev20200922+cpu`` -> ``1.7.0``: what a file name and a log both spell alike."""
    return re.match(r"\d+\.\d+\.\d+", version)[0]


def test_collect_env_dumps_are_read_as_their_names_say(shared_real):
    """Each dump's name records the torch release and the driver it shows; the facts agree."""
    dumps = sorted((shared_real / "collect-env").glob("*.txt"))
    assert dumps
    for path in dumps:
        facts = explain_bytes(path.read_bytes()).facts.summary()
        torch = re.search(r"__torch-([^_]+)", path.name)[1]
        assert _release(facts["torch"]) == _release(torch), path.name
        driver = re.search(r"__driver(\d+(?:\.\d+)+)", path.name)
        if driver:
            assert facts["driver"] == driver[1], path.name


def test_healthy_nvidia_smi_output_is_no_failure(shared_real):
    """Tables, ``-L`` lists, ``-q`` and ``--version`` of working GPUs: no failure to explain. A
    table alone may say what its "CUDA Version" means (cuda-version-confusion, "nothing is
    broken": people paste it when they compare CUDA versions, issue 15), never a failure."""
    captures = sorted(p for p in (shared_real / "nvidia-smi-text").rglob("*.txt") if p.parent.name != "errors")
    assert captures
    for path in captures:
        explanation = explain_bytes(path.read_bytes())
        assert explanation.lines > 0, path.name
        causes = [c.cause for c in explanation.causes]
        assert set(causes) <= {"cuda-version-confusion"}, f"{path.name}: {causes}"
