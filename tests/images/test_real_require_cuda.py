"""Every real NVIDIA_REQUIRE_CUDA of the nvidia/cuda images (../shared/fixtures/real/require-cuda,
read in place) judged through the image gate on a grid of real drivers and GPU brands.

Expectations come from the facts, not from the evaluator under test: the README's semantics
(space = OR, comma = AND, versions compared numerically with trailing zeros ignored, brand
case-insensitive) are applied by the tiny oracle below to these strings, which use only
``cuda>=``, ``driver>=``, ``driver<`` and ``brand=``; forward-compatibility eligibility is the GPU's
class (datacenter or not); the runtime's message is dsl.c's text (first term, and the hint only
after a literal ``cuda>=``).
"""

from __future__ import annotations

import csv
import re

import pytest

from gpu_preflight.checks.context import CheckContext
from gpu_preflight.checks.image_gate import gate_findings
from gpu_preflight.core.findings import Severity
from gpu_preflight.images.reference import parse_reference
from gpu_preflight.images.resolve import resolve_image

from support.paths import REAL
from support.scenarios import A100, RTX3090, T4, V100, host

REQUIRE_CUDA = REAL / "require-cuda"
TABLES = ("all-variants", "latest-ubuntu-x86_64", "first-seen-ubuntu-x86_64")
HINT = ", please update your driver to a newer version, or use an earlier cuda container"

# (driver, the CUDA version it reports): one real driver per branch, R384 .. R580.
DRIVERS = [
    ("384.111", "9.0"),
    ("396.44", "9.2"),
    ("410.104", "10.0"),
    ("418.87.01", "10.1"),
    ("440.33.01", "10.2"),
    ("450.80.02", "11.0"),
    ("460.32.03", "11.2"),
    ("470.82.01", "11.4"),
    ("510.47.03", "11.6"),
    ("515.65.01", "11.7"),
    ("525.85.12", "12.0"),
    ("530.30.02", "12.1"),
    ("535.104.05", "12.2"),
    ("545.29.06", "12.3"),
    ("550.54.15", "12.4"),
    ("560.35.03", "12.6"),
    ("570.124.06", "12.8"),
    ("575.57.08", "12.9"),
    ("580.65.06", "13.0"),
]
# GPUs with the NVML brands images name; Quadro RTX 6000 is a workstation card, the last one is
# not in the knowledge base (its forward-compat eligibility is unknown).
QUADRO = ("Quadro RTX 6000", "7.5", "Quadro")
UNKNOWN = ("NVIDIA Mystery 9000", "9.0", "NVIDIA")
GPUS = [A100, V100, RTX3090, T4, QUADRO, UNKNOWN]
DATACENTER = {A100[0], V100[0], T4[0]}


def _rows(table: str) -> list[dict[str, str]]:
    with open(REQUIRE_CUDA / f"nvidia-require-cuda.{table}.tsv", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def _values() -> list:
    if not REQUIRE_CUDA.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"real fixtures not found: {REQUIRE_CUDA}"))]
    values = dict.fromkeys(row["NVIDIA_REQUIRE_CUDA"] for table in TABLES for row in _rows(table))
    return [pytest.param(v, id=f"{k:03d}-{v[:24]}") for k, v in enumerate(values)]


# --- the oracle --------------------------------------------------------------------------------


def _version(text: str) -> tuple[int, ...] | None:
    if not re.fullmatch(r"[0-9][0-9.]*", text):
        return None
    parts = [int(p) for p in text.split(".") if p]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def _holds(condition: str, facts: dict[str, str]) -> bool:
    name, op, value = re.fullmatch(r"([A-Za-z]+)(>=|<=|!=|=|<|>)(.*)", condition).groups()
    name = name.lower()
    if name == "brand":
        return (facts["brand"].lower() == value.lower()) == (op == "=")
    actual, wanted = _version(facts[name]), _version(value)
    return {
        ">=": actual >= wanted,
        "<=": actual <= wanted,
        ">": actual > wanted,
        "<": actual < wanted,
        "=": actual == wanted,
        "!=": actual != wanted,
    }[op]


def oracle(value: str, facts: dict[str, str]) -> str:
    """invalid | admitted (a cuda term holds) | exception (only a term without cuda holds) | refused."""
    terms = [[c for c in t.split(",") if c] for t in value.split(" ") if t]
    if any(
        _version(re.split(r"[<>=!]+", c, maxsplit=1)[1]) is None
        for t in terms
        for c in t
        if not c.lower().startswith("brand")
    ):
        return "invalid"
    passing = [t for t in terms if all(_holds(c, facts) for c in t)]
    if any(any(c.lower().startswith("cuda") for c in t) for t in passing):
        return "admitted"
    return "exception" if passing else "refused"


def runtime_message(value: str) -> str:
    first = value.split(" ")[0]
    return f"nvidia-container-cli: requirement error: unsatisfied condition: {first}" + (
        HINT if first.startswith("cuda>=") else ""
    )


# --- the grid ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", _values())
def test_every_real_value_on_every_driver_and_brand(value):
    for driver, cuda in DRIVERS:
        ctx = CheckContext(host=host(driver, *GPUS, driver_cuda=cuda))
        gate = gate_findings(ctx, {"NVIDIA_REQUIRE_CUDA": value}, "image")
        verdicts = [
            oracle(value, {"cuda": cuda, "driver": driver, "arch": cc, "brand": brand}) for _, cc, brand in GPUS
        ]
        where = f"{value[:40]!r} on {driver}"
        if "invalid" in verdicts:
            assert gate.state == "invalid", where
            (finding,) = gate.findings
            assert finding.severity == Severity.FAIL and finding.cause == "container-requirement"
            assert "nvidia-container-cli: requirement error: invalid expression" in finding.detail
        elif "refused" in verdicts:
            first = verdicts.index("refused")
            assert gate.state == "refused", where
            (finding,) = gate.findings
            assert (finding.severity, finding.cause, finding.device) == (
                Severity.FAIL,
                "container-requirement",
                first,
            ), where
            assert finding.evidence["runtime_message"] == runtime_message(value), where
            assert finding.fix, where
        elif "exception" in verdicts:
            assert gate.state == "forward-compat", where
            by_device = {f.device: f for f in gate.findings}
            assert set(by_device) == {i for i, v in enumerate(verdicts) if v == "exception"}, where
            for index, finding in by_device.items():
                name = GPUS[index][0]
                if name in DATACENTER or name == UNKNOWN[0]:  # works, or cannot be told: a warning
                    assert (finding.severity, finding.cause) == (Severity.WARN, None), where
                else:
                    assert (finding.severity, finding.cause) == (Severity.FAIL, "forward-compat-unsupported"), where
                    assert "error 804" in finding.title
        else:
            assert gate.state == "admitted", where
            assert [f.severity for f in gate.findings] == [Severity.PASS], where


def test_the_grid_meets_every_outcome():
    """The grid is wide enough: real values are admitted, refused, let through by forward
    compatibility, and invalid somewhere on it."""
    if not REQUIRE_CUDA.is_dir():
        pytest.skip(f"real fixtures not found: {REQUIRE_CUDA}")
    seen = {
        oracle(p.values[0], {"cuda": c, "driver": d, "arch": cc, "brand": b})
        for p in _values()
        for d, c in DRIVERS
        for _, cc, b in GPUS
    }
    assert seen == {"invalid", "admitted", "refused", "exception"}


# --- the worked examples of the facts, by hand ---------------------------------------------------


@pytest.mark.parametrize(
    "driver, cuda, gpu, expected",
    [
        ("470.82.01", "11.4", RTX3090, ("forward-compat", Severity.FAIL, "forward-compat-unsupported")),  # 804
        ("470.82.01", "11.4", A100, ("forward-compat", Severity.WARN, None)),  # datacenter: forward compat works
        ("535.104.05", "12.2", V100, ("forward-compat", Severity.WARN, None)),  # brand=tesla, R535
        ("545.29.06", "12.3", RTX3090, ("refused", Severity.FAIL, "container-requirement")),  # R545: no exception
        ("550.54.15", "12.4", RTX3090, ("admitted", Severity.PASS, None)),
        ("510.47.03", "11.6", A100, ("refused", Severity.FAIL, "container-requirement")),
    ],
)
def test_nvidia_cuda_12_4_1(driver, cuda, gpu, expected):
    value = _latest("12.4.1")
    gate = gate_findings(CheckContext(host=host(driver, gpu, driver_cuda=cuda)), {"NVIDIA_REQUIRE_CUDA": value}, "img")
    assert (gate.state, gate.findings[0].severity, gate.findings[0].cause) == expected


def test_cuda_13_lists_no_geforce_exception():
    """13.0 images name no geforce/titan brands: a GeForce on R535 is refused, an A100 admitted by forward compat."""
    value = _latest("13.0.0")
    assert "brand=geforce" not in value
    geforce = gate_findings(
        CheckContext(host=host("535.104.05", RTX3090, driver_cuda="12.2")), {"NVIDIA_REQUIRE_CUDA": value}, "img"
    )
    a100 = gate_findings(
        CheckContext(host=host("535.104.05", A100, driver_cuda="12.2")), {"NVIDIA_REQUIRE_CUDA": value}, "img"
    )
    assert (geforce.state, a100.state) == ("refused", "forward-compat")


def test_upper_case_property_gets_no_hint():
    gate = gate_findings(
        CheckContext(host=host("535.104.05", A100, driver_cuda="12.2")), {"NVIDIA_REQUIRE_CUDA": "CUDA>=12.3"}, "img"
    )
    assert (
        gate.findings[0].evidence["runtime_message"]
        == "nvidia-container-cli: requirement error: unsatisfied condition: CUDA>=12.3"
    )


def _latest(cuda_version: str) -> str:
    if not REQUIRE_CUDA.is_dir():
        pytest.skip(f"real fixtures not found: {REQUIRE_CUDA}")
    return next(r["NVIDIA_REQUIRE_CUDA"] for r in _rows("latest-ubuntu-x86_64") if r["cuda_version"] == cuda_version)


def test_knowledge_base_gives_each_image_its_real_value():
    """``--image nvidia/cuda:<X.Y.Z>-base-ubuntu22.04`` offline carries the value of the newest ubuntu image."""
    if not REQUIRE_CUDA.is_dir():
        pytest.skip(f"real fixtures not found: {REQUIRE_CUDA}")
    from gpu_preflight.knowledge import load_knowledge

    kb = load_knowledge()
    for row in _rows("latest-ubuntu-x86_64"):
        facts = resolve_image(parse_reference(f"nvidia/cuda:{row['cuda_version']}-base-ubuntu22.04"), kb)
        assert facts.env["NVIDIA_REQUIRE_CUDA"] == row["NVIDIA_REQUIRE_CUDA"], row["cuda_version"]
        assert str(facts.cuda) == row["cuda_version"]
