"""images/nvidia_require.py: the NVIDIA_REQUIRE_* grammar and its evaluation, as libnvidia-container does it.

Sources of truth: NVIDIA's Go test tables and libnvidia-container's dsl.c semantics transcribed in
../shared/fixtures/real/container-toolkit-tests, and every real NVIDIA_REQUIRE_CUDA value of the
nvidia/cuda images in ../shared/fixtures/real/require-cuda (both read in place, never copied).
"""

from __future__ import annotations

import csv
import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.versions import Version
from gpu_preflight.images.nvidia_require import (
    BRANDS,
    OPERATORS,
    PROPERTIES,
    Constraint,
    DeviceFacts,
    Evaluation,
    RequireExpression,
    RequireExpressionSet,
    RequirementError,
    Term,
    brand_id,
    evaluate,
    parse_require_expression,
    require_disabled,
    requirement_texts_from_env,
    requirements_from_env,
)

from support.paths import REAL

CASES_FILE = REAL / "container-toolkit-tests" / "requirements-test-cases.json"
REQUIRE_CUDA = REAL / "require-cuda"

UPDATE_HINT = ", please update your driver to a newer version, or use an earlier cuda container"
CLI = "nvidia-container-cli: requirement error: "
DIGITS_AND_DOTS = "(digits and dots, at most 2^64-2 each)"
KNOWN_PROPERTIES = "(nvidia-container-cli knows cuda, driver, arch, brand)"


def v(text: str) -> Version:
    return Version.parse(text)


def facts(
    cuda: str | None = None, driver: str | None = None, arch: str | None = None, brand: str | None = None
) -> DeviceFacts:
    return DeviceFacts(cuda and v(cuda), driver and v(driver), arch and v(arch), brand)


def one(text: str, origin: str = "NVIDIA_REQUIRE_CUDA") -> RequireExpressionSet:
    return RequireExpressionSet((parse_require_expression(text, origin),))


def dnf(requirement: RequireExpression) -> list[list[str]]:
    return [[str(c) for c in term.constraints] for term in requirement.terms]


# --- the transcribed NVIDIA test tables ------------------------------------------------------

try:
    CASES = json.loads(CASES_FILE.read_text(encoding="utf-8"))
except FileNotFoundError:
    CASES = None


def cases(section: str, key: str = "cases") -> list:
    if CASES is None:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"real fixture not found: {CASES_FILE}"))]
    return [
        pytest.param(case, id=str(case.get("description", case)) if isinstance(case, dict) else str(case))
        for case in CASES[section][key]
    ]


def env_of(case: dict) -> dict[str, str]:
    env = case["env"]
    return dict(item.split("=", 1) for item in env) if isinstance(env, list) else dict(env)


# libnvidia-container rejects an unknown property ("invalid expression") where the Go toolkit,
# whose tests these are, skips it; nvidia-container-cli is what gates a container's start.
SKIPPED_BY_GO_REJECTED_BY_CLI = {"invalid property is invalid", "unsupported property is ignored"}


@pytest.mark.parametrize("case", cases("toolkit_parse_condition"))
def test_toolkit_parse_condition(case: dict) -> None:
    condition = case["condition"]
    if case["error"] or case["description"] in SKIPPED_BY_GO_REJECTED_BY_CLI:
        with pytest.raises(RequirementError, match=r"^requirement error: invalid expression: "):
            parse_require_expression(condition)
    elif case["expected"] is None:
        assert parse_require_expression(condition).terms == ()
    else:
        expected = case["expected"]
        assert parse_require_expression(condition).terms == (
            Term((Constraint(expected["property"], expected["op"], expected["value"]),)),
        )


@pytest.mark.parametrize("case", cases("toolkit_parse_requirement"))
def test_toolkit_parse_requirement(case: dict) -> None:
    text = case["requirement"]
    if case["error"] or case["description"] in SKIPPED_BY_GO_REJECTED_BY_CLI:
        with pytest.raises(RequirementError, match=r"^requirement error: invalid expression: "):
            parse_require_expression(text)
    elif case["expected_in_test"] is None:
        assert parse_require_expression(text).terms == ()
    else:
        # "cuda<13.6 OR (cuda>=11.6 AND arch=5.3)" -> [["cuda<13.6"], ["cuda>=11.6", "arch=5.3"]]
        expected = [t.strip("()").split(" AND ") for t in case["actual_semantics"].split(" OR ")]
        assert dnf(parse_require_expression(text)) == expected


TRUE, FALSE = "cuda>=11.0", "cuda>=99.0"  # on a host whose driver supports CUDA 12.4
HOST = facts(cuda="12.4", driver="550.54.15", arch="8.9", brand="geforce")


@pytest.mark.parametrize("case", cases("toolkit_logical", "and"))
def test_toolkit_and(case: dict) -> None:
    term = ",".join(TRUE if operand else FALSE for operand in case["operands"]) or ","
    assert evaluate(one(term), [HOST]).satisfied is case["expected"]


@pytest.mark.parametrize("case", cases("toolkit_logical", "or"))
def test_toolkit_or(case: dict) -> None:
    text = " ".join(TRUE if operand else FALSE for operand in case["operands"])
    # OR of nothing is false in Go, but such a requirement is skipped ("note"); dsl.c passes it.
    expected = case["expected"] or not case["operands"]
    assert evaluate(one(text), [HOST]).satisfied is expected


@pytest.mark.parametrize("case", cases("toolkit_image_requirements"))
def test_toolkit_image_requirements(case: dict) -> None:
    env = env_of(case)
    texts = [value for _, value in requirement_texts_from_env(env)]
    assert sorted(texts) == sorted(case["requirements"] or [])  # Go compares with ElementsMatch
    parsed = requirements_from_env(env)
    assert [r.text for r in parsed] == texts
    assert parsed.disabled is (case["requirements"] == [])


@pytest.mark.parametrize("case", cases("toolkit_parse_major_minor_version", "valid"))
def test_legacy_cuda_version_valid(case: dict) -> None:
    assert requirement_texts_from_env({"CUDA_VERSION": case["input"]}) == [
        ("CUDA_VERSION", f"cuda>={case['expected']}")
    ]


@pytest.mark.parametrize("value", cases("toolkit_parse_major_minor_version", "invalid"))
def test_legacy_cuda_version_invalid(value: str) -> None:
    with pytest.raises(RequirementError) as raised:
        requirements_from_env({"CUDA_VERSION": value})
    assert str(raised.value) == f"failed to get version: invalid version string: CUDA_VERSION={value!r}"


@pytest.mark.parametrize("case", cases("runtime_hook_container_config"))
def test_runtime_hook_requirements(case: dict) -> None:
    env = env_of(case)
    texts = [value for _, value in requirement_texts_from_env(env)]
    if "requirements" in case:
        assert sorted(texts) == sorted(case["requirements"])
    else:
        # "config": null - the hook injects no GPU, so nothing is checked; what it would have
        # collected is still the image's one cuda>=9.0 (explicit or synthesised, never both).
        assert texts == ["cuda>=9.0"]
    if any(t.startswith("req") for t in texts):
        # The hook passes "req0=true" on; nvidia-container-cli then refuses the unknown property.
        with pytest.raises(RequirementError, match=r"unknown property 'req0'"):
            requirements_from_env(env)


def test_dsl_semantics_tables_match_the_module() -> None:
    if CASES is None:
        pytest.skip(f"real fixture not found: {CASES_FILE}")
    semantics = CASES["dsl_semantics"]
    assert tuple(semantics["operators"]) == OPERATORS
    assert set(semantics["properties"]) == set(PROPERTIES)
    messages = semantics["error_messages"]
    expected_cuda = messages["failed_predicate_starting_with_cuda>="].replace(
        "<first space-separated group>", "cuda>=12.4"
    )
    expected_other = messages["other_failed_predicate"].replace("<first space-separated group>", "arch>=9.0")
    assert (
        evaluate(
            one("cuda>=12.4 brand=tesla,driver>=470,driver<471"), [facts("11.4", "470.256.02", "8.6", "geforce")]
        ).message
        == CLI + expected_cuda
    )
    assert evaluate(one("arch>=9.0 cuda>=99"), [HOST]).message == CLI + expected_other
    with pytest.raises(RequirementError, match="^requirement error: " + messages["parse_error"]):
        parse_require_expression("cuda>=11.6,foo=bar")


# --- every real NVIDIA_REQUIRE_CUDA value ----------------------------------------------------


def real_values() -> list:
    files = sorted(REQUIRE_CUDA.glob("*.tsv"))
    if not files:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"real fixtures not found in {REQUIRE_CUDA}"))]
    values: set[str] = set()
    for path in files:
        with path.open(newline="", encoding="utf-8") as handle:  # byte-exact: no quoting, no stripping
            values.update(
                row["NVIDIA_REQUIRE_CUDA"] for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            )
    return [pytest.param(value, id=f"{len(value)}:{value[:40]}") for value in sorted(values)]


REAL_VALUES = real_values()


def test_the_real_values_are_all_there() -> None:
    if REAL_VALUES[0].values[0] is None:
        pytest.skip(f"real fixtures not found in {REQUIRE_CUDA}")
    assert len(REAL_VALUES) == 100


@pytest.mark.parametrize("value", REAL_VALUES)
def test_every_real_value_parses_or_fails_like_the_runtime(value: str) -> None:
    if value in ("cuda>=10_0", "cuda>=10_1"):  # ubi7-ppc64le: nvidia-container-cli says invalid expression
        with pytest.raises(RequirementError) as raised:
            parse_require_expression(value)
        assert str(raised.value) == (
            f"requirement error: invalid expression: NVIDIA_REQUIRE_CUDA, column 1: {value!r}: "
            f"cuda value {value[6:]!r} is not a version (digits and dots, at most 2^64-2 each)"
        )
        return
    requirement = parse_require_expression(value)
    assert requirement.text == value
    # The first term is the image's CUDA floor; every other one a brand / driver-branch exception.
    (floor,) = requirement.terms[0].constraints
    assert (floor.prop, floor.op) == ("cuda", ">=") and floor.version is not None
    for term in requirement.terms[1:]:
        assert term.constraints and {c.prop for c in term.constraints} <= {"brand", "driver"}
        assert all(c.value in BRANDS for c in term.constraints if c.prop == "brand")
    # Nothing lost or invented: the terms read back as the value, CUDA>= spelled in lower case.
    assert " ".join(str(t) for t in requirement.terms) == " ".join(value.split()).replace("CUDA>=", "cuda>=")
    # A host whose driver supports CUDA 99 passes through the floor, never an exception.
    outcome = evaluate(RequireExpressionSet((requirement,)), [facts("99.0", "999.1", "9.0", "geforce")]).outcomes[0]
    assert (outcome.satisfied, outcome.passing_index, outcome.passed_by_exception) == (True, 0, False)


def test_upper_case_cuda_parses_but_fails_without_the_hint() -> None:
    requirement = parse_require_expression("CUDA>=12.3")
    assert requirement.terms == (Term((Constraint("cuda", ">=", "12.3"),)),)
    assert evaluate(RequireExpressionSet((requirement,)), [facts("12.3", "545.23.06")]).satisfied
    # dsl.c adds the hint only for the exact bytes "cuda>=".
    assert evaluate(RequireExpressionSet((requirement,)), [facts("12.2", "535.54.03")]).message == (
        CLI + "unsatisfied condition: CUDA>=12.3"
    )


def test_trailing_space_changes_nothing() -> None:
    assert parse_require_expression("cuda>=8.0 ").terms == parse_require_expression("cuda>=8.0").terms
    assert evaluate(one("cuda>=8.0 "), [facts("7.5", "387.26")]).message == (
        CLI + "unsatisfied condition: cuda>=8.0" + UPDATE_HINT
    )


def test_contradictory_upstream_term_never_passes() -> None:
    # A comma where a space was meant (11.1 images): 440 <= driver < 441 AND 450 <= driver < 451.
    value = "cuda>=11.1 brand=tesla,driver>=418,driver<419 brand=tesla,driver>=440,driver<441,driver>=450,driver<451"
    result = evaluate(one(value), [facts("11.0", "450.80.02", "7.0", "tesla")])
    assert result.message == CLI + "unsatisfied condition: cuda>=11.1" + UPDATE_HINT
    assert [str(c) for _, c in result.first_failure.failures] == ["cuda>=11.1", "driver<419", "driver<441"]
    # The 11.0 images' bare "driver>=450" term lets any R450+ driver through.
    passing = evaluate(one("cuda>=11.0 brand=tesla,driver>=418,driver<419 driver>=450"), [facts("10.2", "450.36.06")])
    assert passing.outcomes[0].passing_term == Term((Constraint("driver", ">=", "450"),))


# --- the 12.4.1 image against real hosts -----------------------------------------------------

BRANDS_12_4 = (
    "tesla",
    "unknown",
    "nvidia",
    "nvidiartx",
    "geforce",
    "geforcertx",
    "quadro",
    "quadrortx",
    "titan",
    "titanrtx",
)
CUDA_12_4_1 = "cuda>=12.4 " + " ".join(
    f"brand={brand},driver>={branch},driver<{branch + 1}" for branch in (470, 525, 535) for brand in BRANDS_12_4
)


def test_the_12_4_1_value_is_the_real_one() -> None:
    path = REQUIRE_CUDA / "nvidia-require-cuda.latest-ubuntu-x86_64.tsv"
    if not path.exists():
        pytest.skip(f"real fixture not found: {path}")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = {
            r["cuda_version"]: r["NVIDIA_REQUIRE_CUDA"]
            for r in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        }
    assert rows["12.4.1"] == CUDA_12_4_1


@pytest.mark.parametrize(
    ("host", "passing_term", "by_exception"),
    [
        (facts("12.4", "550.54.15", "8.9", "geforce"), "cuda>=12.4", False),
        (facts("12.4", "550.54.15", "9.0", "nvidia"), "cuda>=12.4", False),
        (facts("11.4", "470.256.02", "8.6", "geforce"), "brand=geforce,driver>=470,driver<471", True),
        (facts("11.4", "470.256.02", "7.0", "tesla"), "brand=tesla,driver>=470,driver<471", True),
        (facts("12.0", "525.60.13", "8.0", "nvidia"), "brand=nvidia,driver>=525,driver<526", True),
        (facts("12.2", "535.104.05", "8.9", "GeForce"), "brand=geforce,driver>=535,driver<536", True),
        (facts(None, "510.47.03", "8.6", "geforce"), "cuda>=12.4", False),  # unknown cuda: satisfied
    ],
)
def test_12_4_1_passes(host: DeviceFacts, passing_term: str, by_exception: bool) -> None:
    result = evaluate(one(CUDA_12_4_1), [host])
    (outcome,) = result.outcomes
    assert result.satisfied and result.message is None
    assert str(outcome.passing_term) == passing_term
    assert outcome.passed_by_exception is by_exception
    assert result.exceptions == ((outcome,) if by_exception else ())


def test_12_4_1_fails_on_510_geforce_with_the_runtimes_message() -> None:
    result = evaluate(one(CUDA_12_4_1), [facts("11.6", "510.47.03", "8.6", "geforce")])
    outcome = result.first_failure
    assert not result.satisfied
    assert result.message == (
        "nvidia-container-cli: requirement error: unsatisfied condition: cuda>=12.4, "
        "please update your driver to a newer version, or use an earlier cuda container"
    )
    assert outcome.error == result.message and outcome.device == 0
    assert outcome.requirement.origin == "NVIDIA_REQUIRE_CUDA"
    assert outcome.first_failure == Constraint("cuda", ">=", "12.4")
    assert len(outcome.failures) == 31
    # The geforce terms fail on the branch; the others already on the brand.
    assert [str(c) for t, c in outcome.failures if t.constraints[0].value == "geforce"] == [
        "driver<471",
        "driver>=525",
        "driver>=535",
    ]
    assert {str(c) for t, c in outcome.failures[1:] if t.constraints[0].value != "geforce"} == {
        f"brand={b}" for b in BRANDS_12_4 if b != "geforce"
    }
    assert outcome.passing_term is None and not outcome.passed_by_exception


def test_13_0_has_no_geforce_exception() -> None:
    value = "cuda>=13.0 brand=tesla,driver>=535,driver<536 brand=nvidia,driver>=535,driver<536"
    host = [facts("12.2", "535.104.05", "8.9", "geforce"), facts("12.2", "535.104.05", "9.0", "nvidia")]
    result = evaluate(one(value), host)
    assert [o.satisfied for o in result.outcomes] == [False, True]
    assert result.first_failure.device == 0
    assert [o.device for o in result.exceptions] == [1]


# --- version comparison ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actual", "condition", "expected"),
    [
        ("470.256.02", "driver<471", True),
        ("470.256.02", "driver>=470", True),
        ("470.256.02", "driver<470", False),
        ("470.256.02", "driver=470", False),
        ("471", "driver<471", False),
        ("471.0.0", "driver=471", True),
        ("12.4", "cuda=12.4.0", True),
        ("12.4.0", "cuda=12.4", True),
        ("12.4", "cuda!=12.4.0", False),
        ("12.4", "cuda<12.4.1", True),
        ("12.4", "cuda>=12.4.1", False),
        ("12.10", "cuda>12.9", True),  # numeric, not text: 10 > 9
        ("11", "cuda=11.0.0", True),
        ("455.06", "driver=455.6", True),  # leading zeros ignored
        ("12.4", "cuda>=12..4", True),  # runs of dots separate components
        ("12.4", "cuda>=12.4.", True),
        ("8.6", "arch>=8.0", True),
        ("7.5", "arch>=8.0", False),
        ("8.9", "arch!8.9", False),  # a lone "!" is read as "!="
        ("8.9", "arch!8.0", True),
        ("12.4", "cuda>=" + "0" * 5000 + "12.4", True),  # leading zeros of any length
    ],
)
def test_version_compare(actual: str, condition: str, expected: bool) -> None:
    (constraint,) = parse_require_expression(condition).terms[0].constraints
    host = DeviceFacts(**{constraint.prop: v(actual)})
    assert evaluate(one(condition), [host]).satisfied is expected


def dsl_compare_version(v1: str, cmp: str, v2: str) -> int:
    """A line-by-line port of libnvidia-container's dsl_compare_version (-1 is its error)."""

    def take(s: str) -> tuple[int | None, str]:
        digits = len(s) - len(s.lstrip("0123456789"))
        if digits == 0 or int(s[:digits]) >= 2**64 - 1:
            return None, s
        rest = s[digits:]
        return int(s[:digits]), rest[len(rest) - len(rest.lstrip(".")) :]

    for s in (v1, v2):
        if s.strip("0123456789.") or not set(s) <= set("0123456789."):
            return -1
    while v1 and v2:
        (n1, r1), (n2, r2) = take(v1), take(v2)
        if n1 is None or n2 is None:
            return -1
        if n1 != n2:
            return {"=": False, "!=": True, "<": n1 < n2, "<=": n1 < n2, ">": n1 > n2, ">=": n1 > n2}[cmp]
        v1, v2 = r1, r2
    v1, v2 = v1.lstrip(".0"), v2.lstrip(".0")
    if cmp == "!=":
        return bool(v1 or v2)
    if cmp in ("=", "<=", ">=") and not v1 and not v2:
        return True
    if cmp == "=":
        return False
    return (not v1 and bool(v2)) if cmp in ("<", "<=") else (bool(v1) and not v2)


@settings(max_examples=400, deadline=None)
@given(
    actual=st.lists(st.integers(0, 12), min_size=1, max_size=4),
    op=st.sampled_from(OPERATORS),
    required=st.text(alphabet="0123.", min_size=1, max_size=9).filter(lambda s: s[0] != "."),
)
def test_version_compare_matches_a_port_of_dsl_c(actual: list[int], op: str, required: str) -> None:
    host_text = ".".join(map(str, actual))
    expected = dsl_compare_version(host_text, op, required)
    assert expected != -1
    constraint = Constraint("driver", op, required)
    requirements = one(str(constraint))
    assert requirements.requirements[0].terms[0].constraints == (constraint,)
    assert evaluate(requirements, [DeviceFacts(driver=Version(tuple(actual), host_text))]).satisfied is bool(expected)


# --- several variables, several GPUs, no GPU ------------------------------------------------


def test_separate_variables_are_anded_in_name_order() -> None:
    env = {"NVIDIA_REQUIRE_CUDA": "cuda>=12.0", "NVIDIA_REQUIRE_ARCH": "arch>=8.0", "PATH": "/usr/bin"}
    requirements = requirements_from_env(env)
    assert [r.origin for r in requirements] == ["NVIDIA_REQUIRE_ARCH", "NVIDIA_REQUIRE_CUDA"]
    assert evaluate(requirements, [facts("12.4", "550.54.15", "8.9")]).satisfied
    turing = evaluate(requirements, [facts("12.4", "550.54.15", "7.5")])
    assert turing.message == CLI + "unsatisfied condition: arch>=8.0"
    assert [o.satisfied for o in turing.outcomes] == [False, True]
    old_driver = evaluate(requirements, [facts("11.8", "520.61.05", "8.9")])
    assert old_driver.first_failure.requirement.origin == "NVIDIA_REQUIRE_CUDA"
    assert old_driver.message == CLI + "unsatisfied condition: cuda>=12.0" + UPDATE_HINT


def test_every_gpu_must_pass_and_the_first_failing_one_is_reported() -> None:
    requirements = requirements_from_env({"NVIDIA_REQUIRE_ARCH": "arch>=8.0", "NVIDIA_REQUIRE_CUDA": "cuda>=12.0"})
    host = [
        facts("12.4", "550.54.15", "8.0", "nvidia"),
        facts("12.4", "550.54.15", "7.5", "tesla"),
        facts("12.4", "550.54.15", "6.1", "geforce"),
    ]
    result = evaluate(requirements, host)
    assert [(o.device, o.requirement.origin, o.satisfied) for o in result.outcomes] == [
        (0, "NVIDIA_REQUIRE_ARCH", True),
        (0, "NVIDIA_REQUIRE_CUDA", True),
        (1, "NVIDIA_REQUIRE_ARCH", False),
        (1, "NVIDIA_REQUIRE_CUDA", True),
        (2, "NVIDIA_REQUIRE_ARCH", False),
        (2, "NVIDIA_REQUIRE_CUDA", True),
    ]
    assert result.first_failure.device == 1
    assert result.message == CLI + "unsatisfied condition: arch>=8.0"


def test_without_a_device_arch_and_brand_hold() -> None:
    result = evaluate(one("arch>=99.0,brand=quadro"), [])
    assert result.satisfied
    assert [(o.device, o.passing_index) for o in result.outcomes] == [(None, 0)]
    # A driver but no selected GPU: only cuda and driver are known.
    host_only = evaluate(one("cuda>=12.4,arch>=99.0,brand=quadro"), [facts("12.2", "535.104.05")])
    assert host_only.message == CLI + "unsatisfied condition: cuda>=12.4,arch>=99.0,brand=quadro" + UPDATE_HINT
    assert evaluate(one("cuda>=12.4,arch>=99.0,brand=quadro"), [facts("12.4", "550.54.15")]).satisfied


@pytest.mark.parametrize(
    ("host", "satisfied"),
    [
        (facts(brand="tesla"), True),
        (facts(brand="TESLA"), True),  # case-insensitive, both ways
        (facts(brand="unknown"), False),  # NVML's "Unknown" brand is a brand, not an unknown one
        (facts(brand=None), True),
        (facts(), True),
    ],
)
def test_brand_comparison(host: DeviceFacts, satisfied: bool) -> None:
    assert evaluate(one("brand=Tesla"), [host]).satisfied is satisfied
    assert evaluate(one("brand!=tesla"), [host]).satisfied is (not satisfied or host.brand is None)


def test_case_folding_is_ascii_only_like_strcasecmp() -> None:
    assert not evaluate(one("brand=É"), [facts(brand="é")]).satisfied
    assert evaluate(one("brand=É"), [facts(brand="É")]).satisfied
    assert parse_require_expression("DRIVER>=470,Brand=TESLA").terms[0].constraints == (
        Constraint("driver", ">=", "470"),
        Constraint("brand", "=", "TESLA"),
    )


# --- the environment -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "disabled"),
    [
        ("true", True),
        ("1", True),
        ("t", True),
        ("T", True),
        ("TRUE", True),
        ("True", True),
        ("false", False),
        ("0", False),
        ("yes", False),
        ("y", False),
        ("on", False),
        ("", False),
        ("tRuE", False),
        (" true", False),
        ("true\n", False),
    ],
)
def test_disable_require_parses_like_go(value: str, disabled: bool) -> None:
    env = {"NVIDIA_REQUIRE_CUDA": "cuda>=99.0", "NVIDIA_DISABLE_REQUIRE": value}
    assert require_disabled(env) is disabled
    result = evaluate(requirements_from_env(env), [HOST])
    assert result.disabled is disabled
    assert result.satisfied is disabled
    assert result.outcomes == (() if disabled else result.outcomes)


def test_disabled_skips_even_invalid_values() -> None:
    env = {"NVIDIA_REQUIRE_CUDA": "cuda>=10_0", "CUDA_VERSION": "foo", "NVIDIA_DISABLE_REQUIRE": "1"}
    assert requirements_from_env(env) == RequireExpressionSet((), disabled=True)
    assert evaluate(requirements_from_env(env), [HOST]) == Evaluation((), disabled=True)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"CUDA_VERSION": "12.4.1"}, [("CUDA_VERSION", "cuda>=12.4")]),
        (
            {"CUDA_VERSION": "9.0.176", "NVIDIA_REQUIRE_CUDA": ""},
            [("NVIDIA_REQUIRE_CUDA", ""), ("CUDA_VERSION", "cuda>=9.0")],
        ),
        ({"CUDA_VERSION": "12.4.1", "NVIDIA_REQUIRE_CUDA": "cuda>=12.4"}, [("NVIDIA_REQUIRE_CUDA", "cuda>=12.4")]),
        ({"CUDA_VERSION": ""}, []),
        ({"CUDA_VERSION": "11.8.0-rc1+b2"}, [("CUDA_VERSION", "cuda>=11.8")]),
        ({"NVIDIA_REQUIRE_JETPACK": "csv-mounts=all", "NVIDIA_REQUIRE_JETPACKX": "x"}, []),
        ({"nvidia_require_cuda": "cuda>=99"}, []),  # variable names are case-sensitive
        ({}, []),
    ],
)
def test_requirement_texts_from_env(env: dict[str, str], expected: list[tuple[str, str]]) -> None:
    assert requirement_texts_from_env(env) == expected


@pytest.mark.parametrize(
    ("cuda_version", "floor"),
    [
        # golang.org/x/mod/semver: no leading zeros in numbers, suffixes only after a patch number.
        ("12", "12.0"),
        ("11.8.0-rc.1", "11.8"),
        ("11.8.0-0a", "11.8"),
        ("11.8.0+001", "11.8"),
        ("09.0", None),
        ("11.08", None),
        ("11.8.00", None),
        ("11.8-rc1", None),
        ("11.8.0-01", None),
        ("11.8.0-rc..1", None),
        ("11.8.0+", None),
        ("V11.8", None),
        ("vv11.8", None),
        ("11.8 ", None),
    ],
)
def test_legacy_cuda_version_follows_go_semver(cuda_version: str, floor: str | None) -> None:
    if floor is None:
        with pytest.raises(RequirementError, match="^failed to get version: invalid version string"):
            requirement_texts_from_env({"CUDA_VERSION": cuda_version})
    else:
        assert requirement_texts_from_env({"CUDA_VERSION": cuda_version}) == [("CUDA_VERSION", f"cuda>={floor}")]


def test_legacy_image_gets_the_synthesised_floor() -> None:
    requirements = requirements_from_env({"CUDA_VERSION": "11.6.2"})
    (requirement,) = requirements
    assert (requirement.origin, requirement.text) == ("CUDA_VERSION", "cuda>=11.6")
    assert evaluate(requirements, [facts("11.4", "470.256.02", "8.6", "tesla")]).message == (
        CLI + "unsatisfied condition: cuda>=11.6" + UPDATE_HINT
    )


def test_thirty_two_requirements_at_most() -> None:
    env = {f"NVIDIA_REQUIRE_{i:02}": "cuda>=1" for i in range(32)}
    assert len(requirements_from_env(env)) == 32
    env["CUDA_VERSION"] = "12.4"  # the synthesised floor counts too
    with pytest.raises(RequirementError) as raised:
        requirements_from_env(env)
    assert str(raised.value) == "input error: too many requirements (33; nvidia-container-cli takes at most 32)"


# --- invalid expressions ---------------------------------------------------------------------

P = "requirement error: invalid expression: "


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "foo=bar",
            P + "NVIDIA_REQUIRE_CUDA, column 1: 'foo=bar': unknown property 'foo' " + KNOWN_PROPERTIES,
        ),
        (
            "cuda>=12.4 brand>=tesla",
            P + "NVIDIA_REQUIRE_CUDA, column 12: 'brand>=tesla': brand can only be compared with = or !=, not >=",
        ),
        ("cuda>=", P + "NVIDIA_REQUIRE_CUDA, column 1: 'cuda>=': cuda>= has no value"),
        ("cuda>=12.4,>=470", P + "NVIDIA_REQUIRE_CUDA, column 12: '>=470': no property name before the operator"),
        ("notvalid", P + "NVIDIA_REQUIRE_CUDA, column 1: 'notvalid': no operator (=, !=, <, <=, >, >=)"),
        (
            "cuda==12.4",
            P + "NVIDIA_REQUIRE_CUDA, column 1: 'cuda==12.4': unknown operator '==' (use =, !=, <, <=, >, >=)",
        ),
        (
            "cuda=>12.4",
            P + "NVIDIA_REQUIRE_CUDA, column 1: 'cuda=>12.4': unknown operator '=>' (use =, !=, <, <=, >, >=)",
        ),
        (
            "cuda>=12.4a",
            P + "NVIDIA_REQUIRE_CUDA, column 1: 'cuda>=12.4a': cuda value '12.4a' is not a version " + DIGITS_AND_DOTS,
        ),
        (
            "driver>=.5",
            P + "NVIDIA_REQUIRE_CUDA, column 1: 'driver>=.5': driver value '.5' is not a version " + DIGITS_AND_DOTS,
        ),
        (
            "driver<4>7",
            P + "NVIDIA_REQUIRE_CUDA, column 1: 'driver<4>7': driver value '4>7' is not a version " + DIGITS_AND_DOTS,
        ),
        (
            "arch>=18446744073709551615",
            P + "NVIDIA_REQUIRE_CUDA, column 1: 'arch>=18446744073709551615': "
            "arch value '18446744073709551615' is not a version " + DIGITS_AND_DOTS,
        ),
        (
            "cuda>=١٢.٤",
            P + "NVIDIA_REQUIRE_CUDA, column 1: 'cuda>=١٢.٤': cuda value '١٢.٤' is not a version " + DIGITS_AND_DOTS,
        ),
        (
            "cuda>=12.4\tbrand=tesla",
            P + "NVIDIA_REQUIRE_CUDA, column 1: 'cuda>=12.4\\tbrand=tesla': "
            "cuda value '12.4\\tbrand=tesla' is not a version " + DIGITS_AND_DOTS,
        ),
        (
            "cuda>=12.4\n",
            P
            + "NVIDIA_REQUIRE_CUDA, column 1: 'cuda>=12.4\\n': cuda value '12.4\\n' is not a version "
            + DIGITS_AND_DOTS,
        ),
        (
            "\x1b[31mcuda>=1",
            P
            + "NVIDIA_REQUIRE_CUDA, column 1: '\\x1b[31mcuda>=1': unknown property '\\x1b[31mcuda' "
            + KNOWN_PROPERTIES,
        ),
        (
            "cuda>=1\x00",
            P
            + "NVIDIA_REQUIRE_CUDA, column 1: 'cuda>=1\\x00': cuda value '1\\x00' is not a version "
            + DIGITS_AND_DOTS,
        ),
    ],
)
def test_invalid_expressions(text: str, message: str) -> None:
    with pytest.raises(RequirementError) as raised:
        parse_require_expression(text)
    assert str(raised.value) == message
    assert isinstance(raised.value, UsageError)


def test_the_origin_names_the_variable() -> None:
    with pytest.raises(
        RequirementError, match=r"^requirement error: invalid expression: NVIDIA_REQUIRE_ARCH, column 1: 'arch>=x'"
    ):
        requirements_from_env({"NVIDIA_REQUIRE_CUDA": "cuda>=12.0", "NVIDIA_REQUIRE_ARCH": "arch>=x"})


def test_a_constraint_validates_itself() -> None:
    with pytest.raises(RequirementError, match=r"^requirement error: invalid expression: unknown property 'Cuda'"):
        Constraint("Cuda", ">=", "12.4")
    with pytest.raises(RequirementError, match=r"unknown operator '!'"):
        Constraint("cuda", "!", "12.4")  # the lone "!" is a parser quirk, not an operator
    assert Constraint("cuda", ">=", "12.4").version == Version.of(12, 4)
    assert Constraint("brand", "=", "tesla").version is None


def test_a_non_string_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        parse_require_expression(None)  # type: ignore[arg-type]


# --- the runtime's own quirks ----------------------------------------------------------------


def test_empty_constraints_and_spaces_are_skipped() -> None:
    assert dnf(parse_require_expression("  cuda>=12.4,,driver>=1,   brand=tesla  ")) == [
        ["cuda>=12.4", "driver>=1"],
        ["brand=tesla"],
    ]
    assert parse_require_expression("").terms == () and parse_require_expression("   ").terms == ()
    assert evaluate(one("   "), [HOST]).outcomes[0].satisfied


def test_a_term_of_only_commas_keeps_the_verdict_so_far() -> None:
    assert dnf(parse_require_expression(", cuda>=99")) == [[], ["cuda>=99"]]
    assert evaluate(one(", cuda>=99"), [HOST]).satisfied  # first: ends the loop on "true"
    failed = evaluate(one("cuda>=99 , cuda>=1"), [HOST])  # after a failure: ends it on "false"
    assert failed.message == CLI + "unsatisfied condition: cuda>=99" + UPDATE_HINT
    assert [str(c) for _, c in failed.first_failure.failures] == ["cuda>=99"]


def test_message_names_the_text_before_the_first_space() -> None:
    assert evaluate(one(" cuda>=99"), [HOST]).message == CLI + "unsatisfied condition: "
    assert (
        evaluate(one("driver>=999,cuda>=1 cuda>=99"), [HOST]).message
        == CLI + "unsatisfied condition: driver>=999,cuda>=1"
    )


def test_a_long_failing_condition_overflows_the_runtimes_buffer() -> None:
    # "brand = " + value: 8 + 119 = 127 bytes fits; 128 does not.
    fits, overflows = "x" * 119, "x" * 120
    assert evaluate(one(f"brand={fits}"), [HOST]).message == CLI + f"unsatisfied condition: brand={fits}"
    assert evaluate(one(f"brand={overflows}"), [HOST]).message == CLI + "invalid expression"
    assert evaluate(one(f"brand!={overflows}"), [HOST]).satisfied  # never rendered: it holds
    assert evaluate(one(f"brand={overflows}"), []).satisfied  # no device: brand holds
    assert evaluate(one("brand=" + "é" * 60), [HOST]).message == CLI + "invalid expression"  # bytes, not characters


# --- hostile input ---------------------------------------------------------------------------


def test_100k_terms_fail_fast_as_too_long_for_the_runtime() -> None:
    text = " ".join(f"brand=tesla,driver>={i},driver<{i + 1}" for i in range(100_000))
    start = time.perf_counter()
    with pytest.raises(RequirementError) as raised:
        parse_require_expression(text)
    assert time.perf_counter() - start < 1.0
    assert str(raised.value) == (
        f"requirement error: NVIDIA_REQUIRE_CUDA is {len(text)} bytes; the runtime hook cannot pass "
        "nvidia-container-cli a --require value over 131061 bytes (Linux MAX_ARG_STRLEN), so the container cannot start"
    )


def test_the_longest_passable_value_parses_and_evaluates() -> None:
    text = " ".join(f"brand=b{i},driver>={i},driver<{i + 1}" for i in range(3_500))
    text = text.ljust(131_061)  # trailing spaces: exactly the most the hook can pass
    requirement = parse_require_expression(text)
    assert len(requirement.terms) == 3_500
    result = evaluate(
        RequireExpressionSet((requirement,)), [facts("12.4", "3499.1", "8.0", f"b{i}") for i in (3499, 0)] * 4
    )
    assert [o.passing_index for o in result.outcomes] == [3499, None] * 4
    assert result.message == CLI + "unsatisfied condition: brand=b0,driver>=0,driver<1"
    assert len(result.first_failure.failures) == 3_500
    with pytest.raises(RequirementError, match="is 131062 bytes"):
        parse_require_expression(text + " ")


def test_huge_digit_strings_do_not_hit_pythons_int_limit() -> None:
    cut_short = r"cuda value '9999999999.*'\.\.\. \(50000 characters\) is not a version"
    with pytest.raises(RequirementError, match=cut_short):
        parse_require_expression("cuda>=" + "9" * 50_000)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("cudrivebanth<>=!,. 0123456789_\t\x00é")), max_size=60))
def test_any_text_parses_or_raises_a_requirement_error(text: str) -> None:
    try:
        requirement = parse_require_expression(text)
    except RequirementError as error:
        assert str(error).startswith("requirement error: invalid expression: NVIDIA_REQUIRE_CUDA, column ")
        assert "\n" not in str(error) and "\t" not in str(error)
        return
    result = evaluate(RequireExpressionSet((requirement,)), [HOST, facts()])
    assert all(o.satisfied or o.error.startswith(CLI) for o in result.outcomes)


# --- brands ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("display", "expected"),
    [
        ("GeForce", "geforce"),
        ("GeForce RTX", "geforcertx"),
        ("NVIDIA RTX", "nvidiartx"),
        ("Quadro", "quadro"),
        ("Quadro RTX", "quadrortx"),
        ("Titan", "titan"),
        ("TITAN", "titan"),
        ("TITAN RTX", "titanrtx"),
        ("Titan RTX", "titanrtx"),
        ("Tesla", "tesla"),
        ("NVIDIA", "nvidia"),
        ("GRID", "grid"),
        ("Grid", "grid"),
        ("NVS", "nvs"),
        ("Unknown", "unknown"),
        ("NVIDIA Virtual Applications", "vapps"),
        ("NVIDIA Virtual PC", "vpc"),
        ("NVIDIA Virtual Compute Server", "vcs"),
        ("NVIDIA RTX Virtual Workstation", "vws"),
        ("NVIDIA Cloud Gaming", "cloudgaming"),
        ("vGaming", "cloudgaming"),
        ("NVML_BRAND_QUADRO_RTX", "quadrortx"),
        ("NVML_BRAND_NVIDIA_VCS", "vcs"),
        ("NvidiaRTX", "nvidiartx"),
        ("  geforce\n", "geforce"),
        ("", "unknown"),
        ("N/A", "unknown"),
        ("Radeon", "unknown"),
    ],
)
def test_brand_id(display: str, expected: str) -> None:
    assert brand_id(display) == expected
    assert expected in BRANDS


def test_every_brand_id_is_its_own_id() -> None:
    assert {brand_id(b) for b in BRANDS} == BRANDS
    assert len(BRANDS) == 17


def test_the_real_nvidia_smi_brands_map() -> None:
    # The spellings seen in ../shared/fixtures/real/nvidia-smi-xml <product_brand>.
    assert [
        brand_id(b) for b in ("GeForce", "NVIDIA", "NVIDIA RTX", "NVIDIA RTX Virtual Workstation", "Quadro", "Tesla")
    ] == [
        "geforce",
        "nvidia",
        "nvidiartx",
        "vws",
        "quadro",
        "tesla",
    ]
