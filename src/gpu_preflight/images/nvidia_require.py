"""``NVIDIA_REQUIRE_*`` expressions: the grammar and its evaluation as libnvidia-container has them.

The container runtime hook gathers every ``NVIDIA_REQUIRE_*`` variable of an image (and, for a
"legacy" image with only ``CUDA_VERSION``, a synthesised ``cuda>=MAJOR.MINOR``) and hands each to
``nvidia-container-cli --require``; ``src/cli/dsl.c`` evaluates them once per selected GPU and
refuses to start the container on the first one that fails. Inside one value, space-separated
*terms* are ORed and comma-separated *constraints* in a term are ANDed; separate values are ANDed.

What this module reproduces, and the upstream oddities it meets in the real nvidia/cuda images:

* Property names are matched case-insensitively (``strcasecmp``), so ``CUDA>=12.3`` (sbsa/ppc64le
  stages of 12.3.x) *is* ``cuda>=12.3``. The runtime's hint "please update your driver…" is
  added only when the text before the first space begins with the lower-case bytes ``cuda>=``,
  so a failing ``CUDA>=12.3`` gets the bare message; ``RequireExpression.text`` keeps the
  spelling so the message comes out the same.
* Version values may hold only ASCII digits and dots and must start with a digit, so
  ``cuda>=10_0`` / ``cuda>=10_1`` (ubi7-ppc64le images) are invalid expressions: the runtime
  says ``requirement error: invalid expression`` on every host whose driver reports its CUDA
  version, i.e. every working one. ``parse_require_expression`` raises ``RequirementError`` for
  them.
* Only the space character separates terms and empty pieces are skipped, so the trailing space
  of ``cuda>=8.0 `` (and double or leading spaces) changes nothing - except that the failure
  message names the text before the *first* space, which is empty when the value starts with
  one. Tabs and newlines are not separators: they end up inside a value and make it invalid.
* Empty constraints between commas are skipped (``cuda>=12.4,`` is ``cuda>=12.4``). A term made
  only of commas ends the runtime's OR loop without changing its verdict: it passes when it is
  the first term and fails after a failed one. The operator run is matched with ``strncmp`` on
  its own length, so a lone ``!`` means ``!=``.
* Limits of the real programs: a constraint that fails and whose ``"%s %s %s"`` rendering (name,
  operator, value) reaches 128 bytes overflows dsl.c's message buffer and turns into ``invalid
  expression``; more than 32 requirements make ``nvidia-container-cli`` stop with ``input error:
  too many requirements``; a value over 131061 bytes cannot be passed to it at all (Linux
  ``MAX_ARG_STRLEN``), which also keeps hostile input cheap to parse.

The runtime checks a constraint only when its short-circuit evaluation reaches it; this parser
is stricter and rejects an expression if *any* constraint would be invalid when reached (an
unknown property, ``brand`` with an ordering operator, a missing name, operator or value, a
version that is not one or whose component does not fit ``uintmax_t``). nvidia-container-
toolkit's Go evaluator (CSV/Tegra mode) skips unknown properties instead; images use none.

Unknown facts satisfy a constraint, as in the runtime: an unknown CUDA version or driver, an
absent device (``arch`` and ``brand``), a device whose brand is unknown (``None``, not the
NVML brand ``"unknown"``). An unknown ``arch`` of a present device is also taken as satisfied:
the runtime always knows it, this tool may not. With no device at all nothing is known and every
requirement passes; to judge a host that has a driver but no selected GPU, pass one
``DeviceFacts`` with only ``cuda`` and ``driver`` set.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.text import show
from gpu_preflight.core.versions import Version

PROPERTIES = ("cuda", "driver", "arch", "brand")
OPERATORS = ("=", "!=", "<", "<=", ">", ">=")
# The lower-case brand names images use, as nvidia-container-cli spells NVML's brands.
BRANDS = frozenset(
    {
        "unknown",
        "quadro",
        "tesla",
        "nvs",
        "grid",
        "geforce",
        "titan",
        "vapps",
        "vpc",
        "vcs",
        "vws",
        "cloudgaming",
        "quadrortx",
        "nvidiartx",
        "nvidia",
        "geforcertx",
        "titanrtx",
    }
)

_VERSION_PROPERTIES = frozenset({"cuda", "driver", "arch"})
# Operator runs the runtime accepts and the operator each means. It compares the run with
# strncmp(run, op, len(run)), so "!" matches "!=" while "==" or "=>" match nothing.
_OPERATOR_RUNS = {"=": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=", "!": "!="}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {  # over version keys (int tuples) or brand names
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_EXPR_MAX = 128  # dsl.c's buffer for the failed condition; a longer one is "invalid expression"
_MAX_REQUIREMENTS = 32  # nvidia-container-cli's `char *reqs[32]`
_UINTMAX = 2**64 - 1  # strtoumax's overflow value, which dsl.c treats as an error
_VERSION_TEXT = re.compile(r"[0-9][0-9.]*")  # [0-9], not \d: ASCII digits only
# The hook execs `nvidia-container-cli ... --require=VALUE`; Linux refuses (E2BIG) any single
# argument longer than MAX_ARG_STRLEN: 32 pages, 131072 bytes with its NUL on 4 KiB pages.
_MAX_VALUE_BYTES = 131072 - len("--require=") - 1
_CUDA_HINT = ", please update your driver to a newer version, or use an earlier cuda container"
_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})  # strconv.ParseBool's true spellings


class RequirementError(UsageError):
    """An ``NVIDIA_REQUIRE_*`` value (or the environment holding it) the runtime would refuse."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail or message


def _invalid(detail: str, where: str = "") -> RequirementError:
    prefix = f"{where}: " if where else ""
    return RequirementError(f"requirement error: invalid expression: {prefix}{detail}", detail)


def _ascii_lower(text: str) -> str:
    """Lower-case ASCII letters only, as strcasecmp does in the C locale."""
    if text.isascii():
        return text.lower()
    return text.encode("utf-8", "surrogatepass").lower().decode("utf-8", "surrogatepass")


def _dsl_version(text: str) -> Version | None:
    """A version as dsl_compare_version reads it, or None where it would return an error.

    Digits and dots only, a digit first; runs of dots separate components ("5..6" is 5.6, "5." is
    5); leading zeros are ignored ("02" is 2); a component must stay below UINTMAX_MAX.
    """
    if not _VERSION_TEXT.fullmatch(text):
        return None
    parts = []
    for component in filter(None, text.split(".")):
        if len(component) > 20:  # only leading zeros can keep it in range; int() of 10^5 digits is slow
            component = component.lstrip("0") or "0"
            if len(component) > 20:
                return None
        parts.append(int(component))
    if max(parts) >= _UINTMAX:
        return None
    return Version(tuple(parts), text)


def _constraint_problem(prop: str, op: str, value: str, version: Version | None) -> str | None:
    if prop not in PROPERTIES:
        return f"unknown property {show(prop)} (nvidia-container-cli knows cuda, driver, arch, brand)"
    if op not in OPERATORS:
        return f"unknown operator {show(op)} (use =, !=, <, <=, >, >=)"
    if not value:
        return f"{prop}{op} has no value"
    if prop == "brand" and op not in ("=", "!="):
        return f"brand can only be compared with = or !=, not {op}"
    if prop in _VERSION_PROPERTIES and version is None:
        return f"{prop} value {show(value)} is not a version (digits and dots, at most 2^64-2 each)"
    return None


# --- value objects ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceFacts:
    """What the runtime compares against, for one GPU. ``None`` means unknown (satisfied).

    ``cuda`` is the driver's highest CUDA (nvidia-smi "CUDA Version"), ``driver`` the kernel
    driver version, ``arch`` the compute capability, ``brand`` a lower-case id (see ``brand_id``).
    """

    cuda: Version | None = None
    driver: Version | None = None
    arch: Version | None = None
    brand: str | None = None


@dataclass(frozen=True)
class Constraint:
    """One condition such as ``driver>=470``: ``prop`` is lower-case, ``op`` one of OPERATORS."""

    prop: str
    op: str
    value: str
    # The value read as a version (cuda, driver, arch; None for brand), parsed once here.
    version: Version | None = field(init=False, repr=False, compare=False)
    # The value as _comparable gives the facts, so evaluation compares plain tuples or strings.
    _expected: object = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        version = _dsl_version(self.value) if self.prop in _VERSION_PROPERTIES and self.value else None
        problem = _constraint_problem(self.prop, self.op, self.value, version)
        if problem:
            raise _invalid(problem)
        object.__setattr__(self, "version", version)
        expected = _ascii_lower(self.value) if version is None else _version_key(version)
        object.__setattr__(self, "_expected", expected)

    def __str__(self) -> str:
        return f"{self.prop}{self.op}{self.value}"

    def _holds(self, actual: Mapping[str, object]) -> bool:
        value = actual.get(self.prop)
        return value is None or _COMPARE[self.op](value, self._expected)

    def _overflows_message_buffer(self) -> bool:
        """dsl.c renders a failed condition as "%s %s %s" into 128 bytes; too long is an error."""
        length = len(self.prop) + len(self.op) + 2 + len(self.value.encode("utf-8", "surrogatepass"))
        return length >= _EXPR_MAX


def _version_key(version: Version) -> tuple[int, ...]:
    """Components without trailing zeros: the order of Version and of dsl_compare_version."""
    parts = list(version.parts)
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def _comparable(facts: DeviceFacts | None) -> dict[str, object]:
    """The facts of one device keyed by property; unknown ones are left out (they satisfy)."""
    if facts is None:
        return {}
    actual: dict[str, object] = {
        p: _version_key(getattr(facts, p)) for p in ("cuda", "driver", "arch") if getattr(facts, p) is not None
    }
    if facts.brand is not None:
        actual["brand"] = _ascii_lower(facts.brand)
    return actual


@dataclass(frozen=True)
class Term:
    """Constraints that must all hold (comma-separated). May be empty: a term of only commas."""

    constraints: tuple[Constraint, ...]

    def __str__(self) -> str:
        return ",".join(str(c) for c in self.constraints)


@dataclass(frozen=True)
class RequireExpression:
    """One ``NVIDIA_REQUIRE_*`` value: terms of which one must hold (space-separated). Named apart
    from ``packaging``'s ``Requirement`` (a pip requirement), which the targets read."""

    terms: tuple[Term, ...]
    text: str
    origin: str = "NVIDIA_REQUIRE_CUDA"

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class RequireExpressionSet:
    """All the ``NVIDIA_REQUIRE_*`` expressions of an image, each of which must hold;
    ``disabled`` (``NVIDIA_DISABLE_REQUIRE``) skips them all."""

    requirements: tuple[RequireExpression, ...] = ()
    disabled: bool = False

    def __iter__(self) -> Iterator[RequireExpression]:
        return iter(self.requirements)

    def __len__(self) -> int:
        return len(self.requirements)


# --- tokenizer and parser --------------------------------------------------------------------


# One match per token: a run of spaces, a comma, or a whole constraint split the way dsl.c's
# evaluate_rule splits it - the name is what precedes the first of "<>=!", the operator is the run
# of those characters, the value is the rest up to the next separator. Every character of the text
# belongs to exactly one token.
_TOKEN = re.compile(
    r"(?P<space> +)|(?P<comma>,)"
    r"|(?P<constraint>(?=[^ ,])(?P<name>[^ ,<>=!]*)(?P<op>[<>=!]*)(?P<value>[^ ,]*))"
)


def _constraint(token: re.Match[str], origin: str) -> Constraint:
    name, op_run, value = token.group("name", "op", "value")
    if not name:
        problem = "no property name before the operator"
    elif not op_run:
        problem = "no operator (=, !=, <, <=, >, >=)"
    else:
        try:
            return Constraint(_ascii_lower(name), _OPERATOR_RUNS.get(op_run, op_run), value)
        except RequirementError as error:
            problem = error.detail
    raise _invalid(problem, f"{origin}, column {token.start() + 1}: {show(token.group())}")


def _parse(text: str, origin: str) -> RequireExpression:
    """requirement := space? (term (space term)*)? space?;  term := constraint? (comma constraint?)*"""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > _MAX_VALUE_BYTES:
        raise RequirementError(
            f"requirement error: {origin} is {size} bytes; the runtime hook cannot pass nvidia-container-cli a "
            f"--require value over {_MAX_VALUE_BYTES} bytes (Linux MAX_ARG_STRLEN), so the container cannot start"
        )
    terms: list[Term] = []
    constraints: list[Constraint] = []
    seen: dict[str, Constraint] = {}  # images repeat driver>=470,driver<471 for every brand
    in_term = False  # a term may be nothing but commas; it still counts (see the module notes)
    for token in _TOKEN.finditer(text):
        kind = token.lastgroup
        if kind == "space":
            if in_term:
                terms.append(Term(tuple(constraints)))
                constraints, in_term = [], False
        else:
            if kind == "constraint":
                piece = token.group()
                if piece not in seen:
                    seen[piece] = _constraint(token, origin)
                constraints.append(seen[piece])
            in_term = True
    if in_term:
        terms.append(Term(tuple(constraints)))
    return RequireExpression(tuple(terms), text, origin)


def parse_require_expression(text: str, origin: str = "NVIDIA_REQUIRE_CUDA") -> RequireExpression:
    """Parse one ``NVIDIA_REQUIRE_*`` value; raise ``RequirementError`` if it is invalid."""
    if not isinstance(text, str):
        raise TypeError(f"requirement text must be str, not {type(text).__name__}")
    return _parse(text, origin)


# --- the environment of an image -------------------------------------------------------------


def require_disabled(env: Mapping[str, str]) -> bool:
    """``NVIDIA_DISABLE_REQUIRE`` as strconv.ParseBool reads it; anything else (``yes``) is false."""
    return env.get("NVIDIA_DISABLE_REQUIRE") in _GO_TRUE


_PRERELEASE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_BUILD_ID = r"[0-9A-Za-z-]+"
_GO_SEMVER = re.compile(  # golang.org/x/mod/semver: "v1" and "v1.2" allowed, suffixes only after a patch
    rf"v(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*)"
    rf"(?:-{_PRERELEASE_ID}(?:\.{_PRERELEASE_ID})*)?(?:\+{_BUILD_ID}(?:\.{_BUILD_ID})*)?)?)?"
)


def _legacy_major_minor(cuda_version: str) -> str:
    """``CUDA_VERSION`` -> ``MAJOR.MINOR`` as the toolkit's parseMajorMinorVersion does it."""
    match = _GO_SEMVER.fullmatch("v" + cuda_version.removeprefix("v"))
    if match is None or any(int(n) > 2**32 - 1 for n in match.groups("0")):
        raise RequirementError(f"failed to get version: invalid version string: CUDA_VERSION={show(cuda_version)}")
    major, minor = match.groups("0")
    return f"{major}.{minor}"


def requirement_texts_from_env(env: Mapping[str, str]) -> list[tuple[str, str]]:
    """``(variable, value)`` pairs the toolkit passes as ``--require``; empty when disabled.

    Every ``NVIDIA_REQUIRE_*`` except ``NVIDIA_REQUIRE_JETPACK*``, sorted by name (the toolkit
    walks a Go map, in no fixed order), then for a legacy image - ``CUDA_VERSION`` set and
    ``NVIDIA_REQUIRE_CUDA`` unset or empty - ``("CUDA_VERSION", "cuda>=MAJOR.MINOR")``.
    """
    if require_disabled(env):
        return []
    texts = sorted(
        (name, value)
        for name, value in env.items()
        if name.startswith("NVIDIA_REQUIRE_") and not name.startswith("NVIDIA_REQUIRE_JETPACK")
    )
    if env.get("CUDA_VERSION") and not env.get("NVIDIA_REQUIRE_CUDA"):
        texts.append(("CUDA_VERSION", f"cuda>={_legacy_major_minor(env['CUDA_VERSION'])}"))
    return texts


def requirements_from_env(env: Mapping[str, str]) -> RequireExpressionSet:
    """The requirements an image's environment imposes, parsed; see ``requirement_texts_from_env``."""
    if require_disabled(env):
        return RequireExpressionSet(disabled=True)
    texts = requirement_texts_from_env(env)
    if len(texts) > _MAX_REQUIREMENTS:
        raise RequirementError(
            f"input error: too many requirements ({len(texts)}; nvidia-container-cli takes at most {_MAX_REQUIREMENTS})"
        )
    return RequireExpressionSet(tuple(parse_require_expression(value, origin) for origin, value in texts))


# --- brands ----------------------------------------------------------------------------------

# Display spellings (nvidia-smi "Product Brand", NVML docs, go-nvlib) that are not just a brand
# id with spaces and capitals.
_BRAND_ALIASES = {
    "nvidiavirtualapplications": "vapps",
    "virtualapplications": "vapps",
    "nvidiavapps": "vapps",
    "nvidiavirtualpc": "vpc",
    "virtualpc": "vpc",
    "nvidiavpc": "vpc",
    "nvidiavirtualcomputeserver": "vcs",
    "virtualcomputeserver": "vcs",
    "nvidiavcs": "vcs",
    "nvidiartxvirtualworkstation": "vws",
    "rtxvirtualworkstation": "vws",
    "nvidiavws": "vws",
    "nvidiacloudgaming": "cloudgaming",
    "nvidiavgaming": "cloudgaming",
    "vgaming": "cloudgaming",
    "rtx": "nvidiartx",
}


def brand_id(nvidia_smi_brand: str) -> str:
    """The brand id images compare against, from a display spelling: ``"GeForce RTX"`` -> ``geforcertx``.

    Accepts nvidia-smi / NVML spellings in any case and spacing, and NVML enum names
    (``NVML_BRAND_QUADRO_RTX``). Anything unrecognised is ``"unknown"``, which is what
    libnvidia-container reports for a brand it has no name for.
    """
    key = re.sub(r"[^a-z]", "", _ascii_lower(nvidia_smi_brand)).removeprefix("nvmlbrand")
    return key if key in BRANDS else _BRAND_ALIASES.get(key, "unknown")


# --- evaluation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequirementOutcome:
    """One requirement judged against one device (``device`` indexes the list given to evaluate).

    ``failures`` holds each term the runtime tried and rejected, with the first constraint that
    failed in it; ``passing_index`` the term that let the device through; ``error`` the line
    nvidia-container-cli prints when this outcome stops the container.
    """

    requirement: RequireExpression
    device: int | None
    satisfied: bool
    passing_index: int | None = None
    failures: tuple[tuple[Term, Constraint], ...] = ()
    error: str | None = None

    @property
    def passing_term(self) -> Term | None:
        return None if self.passing_index is None else self.requirement.terms[self.passing_index]

    @property
    def first_failure(self) -> Constraint | None:
        return self.failures[0][1] if self.failures else None

    @property
    def passed_by_exception(self) -> bool:
        """Let through by a term without a ``cuda`` condition although the requirement has one.

        In the nvidia/cuda images those are the ``brand=X,driver>=N,driver<N+1`` clauses: the
        host's driver is older than the image's CUDA and the image's cuda-compat libraries
        (forward compatibility) will be used - which fails with error 804 on non-datacenter GPUs.
        """
        term = self.passing_term
        if term is None or any(c.prop == "cuda" for c in term.constraints):
            return False
        return any(c.prop == "cuda" for t in self.requirement.terms for c in t.constraints)


@dataclass(frozen=True)
class Evaluation:
    """Every requirement against every device, in the runtime's order (device, then requirement)."""

    outcomes: tuple[RequirementOutcome, ...]
    disabled: bool = False

    @property
    def first_failure(self) -> RequirementOutcome | None:
        """The outcome whose error the runtime would print: it stops at the first failure."""
        return next((o for o in self.outcomes if not o.satisfied), None)

    @property
    def satisfied(self) -> bool:
        return self.first_failure is None

    @property
    def message(self) -> str | None:
        failure = self.first_failure
        return None if failure is None else failure.error

    @property
    def exceptions(self) -> tuple[RequirementOutcome, ...]:
        """Outcomes that passed only through a forward-compatibility exception term."""
        return tuple(o for o in self.outcomes if o.passed_by_exception)


def _unsatisfied_message(text: str) -> str:
    # dsl.c names the text before the first space (the first term as written, or "" if the
    # value starts with a space) and adds the hint only for the exact prefix "cuda>=".
    first = text.split(" ", 1)[0]
    hint = _CUDA_HINT if first.startswith("cuda>=") else ""
    return f"nvidia-container-cli: requirement error: unsatisfied condition: {first}{hint}"


def _evaluate_one(requirement: RequireExpression, facts: DeviceFacts | None, device: int | None) -> RequirementOutcome:
    """dsl_evaluate: terms in order until one holds, constraints in order until one fails."""
    actual = _comparable(facts)
    failures: list[tuple[Term, Constraint]] = []
    for index, term in enumerate(requirement.terms):
        failed = next((c for c in term.constraints if not c._holds(actual)), None)
        if failed is None:
            # A term of only commas ends the loop keeping the verdict so far: pass only if first.
            if term.constraints or not failures:
                return RequirementOutcome(requirement, device, True, index, tuple(failures))
            break
        if failed._overflows_message_buffer():
            return RequirementOutcome(
                requirement,
                device,
                False,
                None,
                (*failures, (term, failed)),
                "nvidia-container-cli: requirement error: invalid expression",
            )
        failures.append((term, failed))
    if not failures:  # no terms at all: the runtime's verdict starts true
        return RequirementOutcome(requirement, device, True)
    return RequirementOutcome(requirement, device, False, None, tuple(failures), _unsatisfied_message(requirement.text))


def evaluate(requirements: RequireExpressionSet, devices: Sequence[DeviceFacts]) -> Evaluation:
    """Judge every requirement once per device (all must pass), or once with no device."""
    if requirements.disabled:
        return Evaluation((), disabled=True)
    targets: list[tuple[int | None, DeviceFacts | None]] = list(enumerate(devices)) or [(None, None)]
    return Evaluation(
        tuple(_evaluate_one(requirement, facts, index) for index, facts in targets for requirement in requirements)
    )
