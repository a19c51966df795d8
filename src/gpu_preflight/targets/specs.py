"""What the user wants to run, parsed into frozen value objects: PyTorch builds and CUDA runtimes.

Inputs are the TARGET flags of design.md: ``--torch SPEC``, ``--cuda X.Y`` and ``--requirements FILE``
(a pip requirements file or a ``pyproject.toml``). Every bad input raises :class:`UsageError` with
one line naming the flag (or ``file:line``) and the value.

Decisions on ambiguous cases:

* ``--torch 2.4`` keeps ``"2.4"``: the 2.4 series, judged from the knowledge base's 2.4 row. A
  requirement ``torch==2.4`` (pip: exactly 2.4.0) and ``torch==2.4.*`` are read the same way.
* ``--torch`` must pin one release; a range (``torch>=2.0``, ``~=2.4.0``) is refused. In a file a
  range (or a bare ``torch``) is kept with ``pinned=False``, ``torch_version=None`` and a note, so
  the caller can warn instead of failing on a file the user did not write for this tool.
* A pinned local version (``+cu118``) always wins: that is the wheel pip must install.
* A plain pin (or a range) next to PyTorch indexes (``.../whl/cu118``, ``/whl/cpu``, ``/whl/rocm6.2``)
  named by ``--index-url``/``--extra-index-url``/``--find-links`` anywhere in the file or its
  includes (pip applies index options to the whole install) resolves to that variant: pip prefers
  ``2.1.0+cu118`` over PyPI's plain ``2.1.0`` because a local version sorts higher. With several
  variant indexes pip takes the highest local version (``+cu121`` over ``+cu118``); so do we, with
  a note. uv (``[tool.uv.sources]``, else the first non-explicit ``[[tool.uv.index]]``) and Poetry
  (the dependency's ``source``, else the first primary ``[[tool.poetry.source]]``) name one index.
* Environment markers are kept (``marker``), not evaluated: the machine that installs may not be
  the one running this tool.
* ``${VAR}`` in a requirements file is expanded from this process's environment, as pip does.
  Editable installs are skipped; a URL include (``-r https://...``) is a UsageError, because
  skipping it could hide the torch pin and fetching it needs the network.
* An empty file is a valid requirements file: it pins no torch, like a file without torch ([]).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Union
from urllib.parse import unquote, urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion
from packaging.version import Version as Pep440Version

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.text import show
from gpu_preflight.core.versions import CUDA_MAJORS, WHEEL_VARIANT, Version, variant_cuda, variant_problem

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

MAX_FILE_BYTES = 1024 * 1024
MAX_INCLUDE_DEPTH = 10
MAX_SPEC_CHARS = 200
_CUDA_SPEC = re.compile(r"(?:cuda[-_ ]?)?(?P<version>[0-9]{1,3}(?:\.[0-9]{1,3}){0,2})", re.ASCII | re.IGNORECASE)
_BARE_TORCH_VERSION = re.compile(r"(?:torch\s+)?(?P<version>[0-9]\S*)", re.ASCII | re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")  # tab, newlines and form feed occur in text
_COMMENT = re.compile(r"(^|\s+)#.*$")  # pip's: "#" starts a comment only at the start or after space
_ENV_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")  # pip expands only this form, and keeps unset ones as written
_TOML_HEADER = re.compile(r"^\s*\[\[?[A-Za-z0-9_.\-\"' ]+\]\]?\s*(#.*)?$", re.MULTILINE)


def index_url_variant(url: str) -> str | None:
    """The wheel variant a PyTorch index serves: ``https://download.pytorch.org/whl/cu121`` ->
    ``cu121`` (also ``/whl/nightly/cu128``, ``/whl/test/cpu``, ``/whl/cu111/torch_stable.html``);
    None for any other URL, including the all-variants ``/whl/torch_stable.html``."""
    try:
        segments = [unquote(s).lower() for s in urlsplit(url.strip()).path.split("/") if s]
    except (ValueError, AttributeError):
        return None
    if "whl" not in segments:
        return None
    rest = segments[segments.index("whl") + 1 :]
    while rest and rest[0] in ("nightly", "test"):
        rest = rest[1:]
    if rest and variant_problem(rest[0]) is None:
        return rest[0]
    return None


@dataclass(frozen=True)
class TorchTarget:
    """A PyTorch build to judge.

    ``torch_version`` is the public version without local part (``"2.1.0"``, ``"2.4"`` for a
    series, ``"2.6.0.dev20241112"``); None only when ``pinned`` is False (a range in a file).
    ``variant`` None means that release's default PyPI wheel, whose CUDA the knowledge base knows.
    """

    torch_version: str | None
    variant: str | None
    index_url: str | None
    source: str
    pinned: bool = True
    specifier: str = ""  # as written after the name: "==2.1.0+cu118", ">=2.1", "^2.1" (Poetry), ""
    marker: str | None = None  # environment marker, kept but not evaluated
    notes: tuple[str, ...] = ()

    @property
    def cuda(self) -> Version | None:
        """The CUDA runtime the variant names (``cu118`` -> 11.8); None for cpu/rocm/xpu and for
        the default wheel (``variant`` None), whose CUDA depends on the release."""
        return variant_cuda(self.variant) if self.variant else None

    def describe(self) -> str:
        """``torch 2.1.0+cu118 (CUDA 11.8 runtime) from requirements.txt:3``."""
        if self.torch_version is None:
            name = f"torch{self.specifier}" if self.specifier else "torch"
            details = ["not pinned to one release"] + ([f"{self.variant} wheel"] if self.variant else [])
        else:
            name = f"torch {self.torch_version}" + (f"+{self.variant}" if self.variant else "")
            details = [] if self.variant else ["default PyPI wheel"]
        if self.cuda is not None:
            details.append(f"CUDA {self.cuda} runtime")
        text = f"{name} ({', '.join(details)})" if details else name
        return f"{text} from {self.source}" + (f" where {self.marker}" if self.marker else "")

    def to_dict(self) -> dict[str, Any]:
        cuda = self.cuda
        return {
            "kind": "torch",
            "torch_version": self.torch_version,
            "variant": self.variant,
            "cuda": str(cuda) if cuda else None,
            "index_url": self.index_url,
            "source": self.source,
            "pinned": self.pinned,
            "specifier": self.specifier,
            "marker": self.marker,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class CudaTarget:
    """A CUDA runtime to judge (``--cuda 12.4``)."""

    cuda: Version
    source: str

    def describe(self) -> str:
        return f"CUDA runtime {self.cuda} from {self.source}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "cuda", "cuda": str(self.cuda), "source": self.source}


Target = Union[TorchTarget, CudaTarget]


@dataclass(frozen=True)
class Targets:
    """Everything the user asked to run, in the order given."""

    items: tuple[Target, ...] = ()

    @property
    def torch(self) -> tuple[TorchTarget, ...]:
        return tuple(t for t in self.items if isinstance(t, TorchTarget))

    @property
    def cuda(self) -> tuple[CudaTarget, ...]:
        return tuple(t for t in self.items if isinstance(t, CudaTarget))

    def __iter__(self) -> Iterator[Target]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def describe(self) -> list[str]:
        return [t.describe() for t in self.items]

    def to_list(self) -> list[dict[str, Any]]:
        """The ``targets`` array of the doctor JSON document."""
        return [t.to_dict() for t in self.items]


def collect_targets(torch: Iterable[str] = (), cuda: Iterable[str] = (), requirements: Iterable[str] = ()) -> Targets:
    """The targets of repeated ``--torch``, ``--cuda`` and ``--requirements`` flags."""
    items: list[Target] = [parse_torch_spec(spec) for spec in torch]
    for path in requirements:
        items.extend(parse_requirements_file(path))
    items.extend(parse_cuda_spec(spec) for spec in cuda)
    return Targets(tuple(items))


# --- single values ------------------------------------------------------------------------------


def _clean_value(text: object, flag: str) -> str:
    """The stripped value of a flag, refusing what no one types: huge, control characters, empty."""
    if not isinstance(text, str):
        raise UsageError(f"{flag}: expected text, got {type(text).__name__}")
    if len(text) > MAX_SPEC_CHARS:
        raise UsageError(f"{flag} {show(text)}: longer than {MAX_SPEC_CHARS} characters, not a version")
    if not text.isprintable():
        raise UsageError(f"{flag} {show(text)}: contains control or invisible characters")
    if not text.strip():
        raise UsageError(f"{flag}: empty value")
    return text.strip()


def parse_cuda_spec(text: str, source: str | None = None) -> CudaTarget:
    """``12.4``, ``12``, ``12.4.1``, ``cu124``, ``cuda12.4`` -> a CUDA runtime target."""
    spec = _clean_value(text, "--cuda")
    origin = source or f"--cuda {spec}"
    match = _CUDA_SPEC.fullmatch(spec)
    if match:
        cuda = Version.of(*(int(p) for p in match["version"].split(".")))
    elif spec.lower().startswith("cu") and WHEEL_VARIANT.fullmatch(spec.lower()):
        cuda = Version.of(int(spec[2:-1]), int(spec[-1]))
    else:
        raise UsageError(f"--cuda {show(spec)}: not a CUDA version (examples: 12.4, 11.8, cu124)")
    if cuda.major not in CUDA_MAJORS:
        raise UsageError(
            f"--cuda {show(spec)}: not a real CUDA version "
            f"(CUDA majors run from {CUDA_MAJORS.start} to {CUDA_MAJORS.stop - 1})"
        )
    return CudaTarget(cuda, origin)


def parse_torch_spec(text: str, source: str | None = None) -> TorchTarget:
    """``2.1.0+cu118``, ``2.6.0``, ``2.4``, ``torch==2.4.1+cu121``, ``torch 2.4.1`` -> a pinned target.

    ``source`` names where the text came from (default ``--torch TEXT``); messages use it too.
    """
    spec = _clean_value(text, source or "--torch")
    label = f"{source}: {show(spec)}" if source else f"--torch {show(spec)}"
    bare = _BARE_TORCH_VERSION.fullmatch(spec)
    requirement = _parse_requirement(f"torch=={bare['version']}" if bare else spec)
    is_torch = requirement is not None and canonicalize_name(requirement.name) == "torch"
    if requirement is None or (not is_torch and not requirement.specifier and not requirement.url):
        raise UsageError(
            f"{label}: not a torch version or requirement (examples: 2.1.0+cu118, 2.6.0, torch==2.4.1+cu121)"
        )
    if not is_torch:
        raise UsageError(f"{label}: names the package {requirement.name!r}, not torch")
    line = _torch_line(requirement, source or f"--torch {spec}", label)
    if line.pin is None:
        problem = "a version range cannot be judged" if line.specifier else "no version given"
        problem = line.notes[0] if line.notes else problem  # a URL that is not a wheel says why
        raise UsageError(f"{label}: {problem}; pin one release, e.g. --torch 2.4.1 or --torch 2.4.1+cu121")
    return _resolve(line, None)


# --- from a requirement to a target -------------------------------------------------------------


@dataclass(frozen=True)
class _TorchLine:
    """A torch requirement as read, before the file's index options are applied."""

    source: str
    specifier: str  # as written, for display
    pin: tuple[str, str | None] | None  # (torch_version, local variant) when one release is pinned
    marker: str | None = None
    notes: tuple[str, ...] = ()
    direct_wheel: bool = False  # a wheel file or URL: its name fixes the variant, indexes do not apply


@dataclass
class _Indexes:
    """The package indexes an install uses. pip applies index options to every requirement."""

    primary: str | None = None  # --index-url: replaces PyPI
    extra: list[str] = field(default_factory=list)  # --extra-index-url, --find-links


def _parse_requirement(text: str) -> Requirement | None:
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None


def _pin(specifier: str, flag: str) -> tuple[str, str | None] | None:
    """(release, variant) when a PEP 440 specifier pins one release or one X.Y series, else None."""
    try:
        specs = list(SpecifierSet(specifier))
    except InvalidSpecifier:
        raise UsageError(f"{flag}: {show(specifier.lstrip('='))} is not a version") from None
    if len(specs) != 1 or specs[0].operator not in ("==", "==="):
        return None
    text = specs[0].version
    if text.endswith(".*"):  # ==2.4.* is the 2.4 series, like --torch 2.4
        text, wildcard = text[:-2], True
    else:
        wildcard = False
    try:
        version = Pep440Version(text)
    except InvalidVersion:
        raise UsageError(f"{flag}: {show(text)} is not a version") from None
    if wildcard and (len(version.release) != 2 or version.local or version.pre or version.dev):
        return None
    if not 2 <= len(version.release) <= 3:
        raise UsageError(f"{flag}: {show(text)} is not a torch release (expected major.minor[.patch])")
    if version.local and (problem := variant_problem(version.local)):
        raise UsageError(f"{flag}: {problem}")
    return version.public, version.local


def _wheel_version(location: str) -> str | None:
    """The version in a torch wheel's file name (``torch-2.1.0%2Bcu118-cp310-...whl`` -> 2.1.0+cu118)."""
    name = unquote(location.split("#")[0].split("?")[0].replace("\\", "/").rsplit("/", 1)[-1])
    parts = name[: -len(".whl")].split("-") if name.lower().endswith(".whl") else []
    if len(parts) >= 5 and canonicalize_name(parts[0]) == "torch":
        return parts[1]
    return None


def _torch_line(requirement: Requirement, source: str, flag: str | None = None) -> _TorchLine:
    marker = str(requirement.marker) if requirement.marker else None
    if requirement.url is not None:
        return _direct_line(requirement.url, source, marker, flag or source)
    spec = str(requirement.specifier)
    return _TorchLine(source, spec, _pin(spec, flag or source), marker)


def _direct_line(location: str, source: str, marker: str | None, flag: str) -> _TorchLine:
    """torch installed from a URL or path: a wheel's file name fixes version and variant."""
    version = _wheel_version(location)
    if version is None:
        note = f"torch comes from {show(location)}: its version is unknown until it is built"
        return _TorchLine(source, f" @ {location}", None, marker, (note,))
    return _TorchLine(source, f" @ {location}", _pin(f"=={version}", flag), marker, direct_wheel=True)


def _resolve(line: _TorchLine, indexes: _Indexes | None) -> TorchTarget:
    """The target a torch line installs, given the indexes of its file (None: a --torch flag)."""
    version, variant = line.pin or (None, None)
    notes = list(line.notes)
    index_url = None
    if line.pin is None and not line.notes:
        what = f"torch{line.specifier}" if line.specifier else "torch without a version"
        notes.append(f"{what} does not pin one release: pin it (e.g. torch==2.4.1) to have it judged")
    if indexes is not None and not line.direct_wheel:
        variant, index_url = _apply_indexes(variant, indexes, notes)
    return TorchTarget(
        version, variant, index_url, line.source, line.pin is not None, line.specifier, line.marker, tuple(notes)
    )


def _apply_indexes(pinned_variant: str | None, indexes: _Indexes, notes: list[str]) -> tuple[str | None, str | None]:
    """(variant, index_url) once pip has looked at the named indexes."""
    urls = ([indexes.primary] if indexes.primary else []) + indexes.extra
    offered = [(variant, url) for url in urls if (variant := index_url_variant(url))]
    if pinned_variant is not None:
        serving = next((url for variant, url in offered if variant == pinned_variant), None)
        primary_variant = index_url_variant(indexes.primary) if indexes.primary else None
        if serving is None and primary_variant is not None:
            notes.append(f"+{pinned_variant} is pinned but --index-url serves only {primary_variant} wheels")
        elif serving is None and indexes.primary is None:
            notes.append(
                f"+{pinned_variant} wheels are not on PyPI: name the index "
                f"https://download.pytorch.org/whl/{pinned_variant}"
            )
        return pinned_variant, serving or indexes.primary
    if not offered:
        return None, indexes.primary
    # pip sorts candidates by version, and a local version sorts above the plain release.
    variant, url = max(offered, key=lambda pair: Pep440Version(f"0+{pair[0]}"))
    if len({v for v, _ in offered}) > 1:
        names = ", ".join(sorted({v for v, _ in offered}))
        notes.append(f"several PyTorch indexes ({names}): pip takes the highest local version, +{variant}")
    else:
        notes.append(f"the {variant} index is named: its +{variant} wheel outranks PyPI's plain one")
    return variant, url


# --- files --------------------------------------------------------------------------------------


def _read_text(path: str, label: str) -> str:
    """A file's text: at most 1 MiB, UTF-8 (a BOM is dropped), no binary bytes."""
    if os.path.isdir(path):
        raise UsageError(f"{label}: is a directory, not a file")
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"{label}: cannot read: {reason}") from None
    if len(data) > MAX_FILE_BYTES:
        raise UsageError(f"{label}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB, not a requirements file")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UsageError(f"{label}: UTF-16 text (PowerShell's '>' writes it); save the file as UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"{label}: not UTF-8 text (a binary file?)") from None
    if _CONTROL.search(text):
        raise UsageError(f"{label}: contains control characters, not a text file")
    return text


def parse_requirements_file(path: str | os.PathLike[str]) -> list[TorchTarget]:
    """The torch requirements of a requirements.txt (with its includes) or a pyproject.toml.

    Returns [] when torch is not required. A pyproject is recognised by a ``.toml`` name or by
    TOML table headers, which no requirements file contains.
    """
    path = os.fspath(path)
    label = f"--requirements {show(path)}"
    text = _read_text(path, label)
    if path.lower().endswith(".toml") or _TOML_HEADER.search(text):
        return _pyproject_targets(text, path, label)
    reader = _RequirementsReader()
    reader.read(path, text, stack=(os.path.realpath(path),))
    return [_resolve(line, reader.indexes) for line in reader.lines]


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, line) with continuations joined and comments removed, as pip does."""
    start, parts = 0, []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.endswith("\\") and not _COMMENT.match(line):
            start = start or number
            parts.append(line[:-1])
            continue
        yield (start or number), _COMMENT.sub("", "".join(parts) + line).strip()
        start, parts = 0, []
    if parts:
        yield start, _COMMENT.sub("", "".join(parts)).strip()


_INCLUDE_OPTIONS = {"-r", "--requirement", "-c", "--constraint"}
_INDEX_OPTIONS = {"-i", "--index-url"}
_EXTRA_INDEX_OPTIONS = {"--extra-index-url", "-f", "--find-links"}
_VALUE_OPTIONS = _INCLUDE_OPTIONS | _INDEX_OPTIONS | _EXTRA_INDEX_OPTIONS | {"-e", "--editable", "--trusted-host"}


def _options(tokens: list[str]) -> Iterator[tuple[str, str | None]]:
    """(option, value) pairs of pip's forms: ``--opt value``, ``--opt=value``, ``-r file``, ``-rfile``."""
    i = 0
    while i < len(tokens):
        token, i = tokens[i], i + 1
        if token.startswith("--") and "=" in token:
            name, value = token.split("=", 1)
            yield name, value
        elif token in _VALUE_OPTIONS:
            yield token, tokens[i] if i < len(tokens) else None
            i += 1
        elif token[:2] in _VALUE_OPTIONS and not token.startswith("--"):
            yield token[:2], token[2:]
        elif token.startswith("-"):
            yield token, None


def _is_path_or_url(text: str) -> bool:
    return "/" in text or "\\" in text or text.startswith(".") or text.endswith((".whl", ".zip", ".tar.gz"))


class _RequirementsReader:
    """Reads a requirements file and its includes, collecting torch lines and index options."""

    def __init__(self) -> None:
        self.lines: list[_TorchLine] = []
        self.indexes = _Indexes()
        self.read_paths: set[str] = set()

    def read(self, path: str, text: str, stack: tuple[str, ...]) -> None:
        self.read_paths.add(stack[-1])
        for number, line in _logical_lines(text):
            source = f"{path}:{number}"
            line = _ENV_VAR.sub(lambda m: os.environ.get(m[1], m[0]), line)
            if line.startswith("-"):
                self._option_line(path, source, line.split(), stack)
            elif line:
                self._requirement_line(source, line)

    def _option_line(self, path: str, source: str, tokens: list[str], stack: tuple[str, ...]) -> None:
        for option, value in _options(tokens):
            if option in _VALUE_OPTIONS and not value:
                raise UsageError(f"{source}: {option} needs a value")
            if option in _INDEX_OPTIONS:
                self.indexes.primary = value
            elif option in _EXTRA_INDEX_OPTIONS:
                self.indexes.extra.append(value)  # type: ignore[arg-type]
            elif option in _INCLUDE_OPTIONS:
                self._include(path, source, f"{option} {value}", value, stack)  # type: ignore[arg-type]

    def _include(self, path: str, source: str, what: str, target: str, stack: tuple[str, ...]) -> None:
        label = f"{source}: {show(what)}"
        if "://" in target:
            raise UsageError(f"{label}: includes by URL are not fetched; download the file and pass it")
        included = os.path.join(os.path.dirname(path), target)
        real = os.path.realpath(included)
        if real in stack:
            raise UsageError(f"{label}: include loop back to {show(included)}")
        if len(stack) > MAX_INCLUDE_DEPTH:
            raise UsageError(f"{label}: includes nested deeper than {MAX_INCLUDE_DEPTH} files")
        if real in self.read_paths:  # included twice without a loop: its lines are already read
            return
        self.read(included, _read_text(included, label), stack + (real,))

    def _requirement_line(self, source: str, line: str) -> None:
        # pip: the requirement ends at the first token starting with "-" (--hash=..., --config-settings).
        tokens = line.split()
        end = next((i for i, token in enumerate(tokens) if token.startswith("-")), len(tokens))
        text = " ".join(tokens[:end])
        requirement = _parse_requirement(text)
        if requirement is not None:
            if canonicalize_name(requirement.name) == "torch":
                self.lines.append(_torch_line(requirement, source))
            return
        if not _is_path_or_url(text):
            raise UsageError(f"{source}: not a valid requirement: {show(text)}")
        if _wheel_version(text) is not None:  # a torch wheel named by path or URL, without "torch @"
            self.lines.append(_direct_line(text, source, None, source))


# --- pyproject.toml -----------------------------------------------------------------------------


def _table(data: Any, *keys: str) -> dict[str, Any]:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, dict) else {}


def _line_of(text: str, pattern: str, after: int = 0) -> int | None:
    """The 1-based number of the first line from ``after`` matching a regex, for sources."""
    for number, line in enumerate(text.splitlines()[after:], start=after + 1):
        if re.search(pattern, line):
            return number
    return None


def _pyproject_targets(text: str, path: str, label: str) -> list[TorchTarget]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{label}: not valid TOML: {exc}") from None
    except RecursionError:
        raise UsageError(f"{label}: not valid TOML: nested too deeply") from None
    targets = []
    uv_choices = _uv_choices(data, label)
    for where, requirement_text in _pep621_requirements(data, label):
        requirement = _parse_requirement(requirement_text)
        if requirement is None:
            raise UsageError(f"{label}: [{where}] has an invalid requirement {show(requirement_text)}")
        if canonicalize_name(requirement.name) != "torch":
            continue
        quoted = f"[\"']{re.escape(requirement_text)}[\"']"
        number = _line_of(text, quoted)
        source = f"{path}:{number}" if number else f"{path} [{where}]"
        line = _torch_line(requirement, source)
        group = where.rsplit(".", 1)[1] if where.startswith("project.optional-dependencies.") else None
        for indexes, condition, note, extra in uv_choices:
            if extra is None or group in (None, extra):  # a source for extra "cpu" is not used by extra "cu124"
                targets.append(_with_condition(_resolve(line, indexes), condition, note))
    targets.extend(_poetry_targets(data, text, path, label))
    return targets


def _pep621_requirements(data: dict[str, Any], label: str) -> Iterator[tuple[str, str]]:
    """(where, requirement) for [project] dependencies, optional-dependencies and [dependency-groups]."""
    lists: list[tuple[str, Any]] = [("project.dependencies", _table(data, "project").get("dependencies", []))]
    optional = _table(data, "project", "optional-dependencies")
    lists += [(f"project.optional-dependencies.{k}", v) for k, v in optional.items()]
    lists += [(f"dependency-groups.{k}", v) for k, v in _table(data, "dependency-groups").items()]
    for where, items in lists:
        if not isinstance(items, list):
            raise UsageError(f"{label}: [{where}] must be a list of requirement strings")
        for item in items:
            if isinstance(item, str):
                yield where, item
            elif not (where.startswith("dependency-groups") and isinstance(item, dict)):  # {include-group = ...}
                raise UsageError(f"{label}: [{where}] must be a list of requirement strings")


def _uv_choices(data: dict[str, Any], label: str) -> list[tuple[_Indexes, str | None, str | None, str | None]]:
    """One (indexes, condition, note, extra) per way uv may install torch (``[tool.uv.sources]``)."""
    uv = _table(data, "tool", "uv")
    named: dict[str, str] = {}
    implicit: list[str] = []  # non-explicit indexes, in uv's priority order
    for entry in uv.get("index", []) if isinstance(uv.get("index"), list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("url"), str):
            if isinstance(entry.get("name"), str):
                named[entry["name"]] = entry["url"]
            if not entry.get("explicit"):
                implicit.append(entry["url"])
    legacy = uv.get("extra-index-url", [])
    implicit += [u for u in legacy if isinstance(u, str)] if isinstance(legacy, list) else []
    implicit += [uv["index-url"]] if isinstance(uv.get("index-url"), str) else []
    sources = _table(data, "tool", "uv", "sources")
    entries = next((v for k, v in sources.items() if canonicalize_name(k) == "torch"), None)
    if entries is None:
        # uv's first-index strategy: the first index listing torch wins; a PyTorch index surely does.
        return [(_Indexes(primary=next((url for url in implicit if index_url_variant(url)), None)), None, None, None)]
    choices = []
    for entry in entries if isinstance(entries, list) else [entries]:
        if not isinstance(entry, dict):
            raise UsageError(f"{label}: [tool.uv.sources] torch must be a table or a list of tables")
        condition = entry.get("marker") if isinstance(entry.get("marker"), str) else None
        extra = entry.get("extra") if isinstance(entry.get("extra"), str) else None
        if extra:
            condition = f"extra == '{extra}'" + (f" and ({condition})" if condition else "")
        if isinstance(entry.get("index"), str):
            if entry["index"] not in named:
                raise UsageError(
                    f"{label}: [tool.uv.sources] torch names index {show(entry['index'])}, "
                    "which no [[tool.uv.index]] defines"
                )
            note = f"uv source: index {entry['index']!r}"
            choices.append((_Indexes(primary=named[entry["index"]]), condition, note, extra))
        else:
            choices.append((_Indexes(), condition, f"uv source {show(entry)}: not an index, not judged", extra))
    return choices


def _with_condition(target: TorchTarget, condition: str | None, note: str | None) -> TorchTarget:
    """The target with a uv/Poetry condition added to its marker and a note on where it installs from."""
    if condition:
        marker = f"({target.marker}) and ({condition})" if target.marker else condition
        target = replace(target, marker=marker)
    return replace(target, notes=target.notes + (note,)) if note else target


def _poetry_targets(data: dict[str, Any], text: str, path: str, label: str) -> list[TorchTarget]:
    poetry = _table(data, "tool", "poetry")
    listed = poetry.get("source") if isinstance(poetry.get("source"), list) else []
    sources = [s for s in listed if isinstance(s, dict) and isinstance(s.get("url"), str)]
    named = {s["name"]: s["url"] for s in sources if isinstance(s.get("name"), str)}
    # Poetry searches primary sources (no priority given = primary) before PyPI.
    primary = next(
        (
            s["url"]
            for s in sources
            if s.get("priority", "primary") in ("primary", "default") and index_url_variant(s["url"])
        ),
        None,
    )
    tables = [
        ("tool.poetry.dependencies", _table(poetry, "dependencies")),
        ("tool.poetry.dev-dependencies", _table(poetry, "dev-dependencies")),
    ]
    tables += [
        (f"tool.poetry.group.{g}.dependencies", _table(poetry, "group", g, "dependencies"))
        for g in _table(poetry, "group")
    ]
    targets = []
    for where, table in tables:
        for key, value in table.items():
            if canonicalize_name(key) != "torch":
                continue
            header = _line_of(text, rf"^\s*\[{re.escape(where)}\]") or 0
            number = _line_of(text, rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=", after=header)
            source = f"{path}:{number}" if number else f"{path} [{where}]"
            for entry in value if isinstance(value, list) else [value]:
                targets.append(_poetry_target(entry, source, named, primary, f"{label}: [{where}] torch"))
    return targets


def _poetry_target(entry: Any, source: str, named: dict[str, str], primary: str | None, flag: str) -> TorchTarget:
    if isinstance(entry, str):
        entry = {"version": entry}
    if not isinstance(entry, dict):
        raise UsageError(f"{flag}: must be a version string or a table")
    marker = entry.get("markers") if isinstance(entry.get("markers"), str) else None
    if isinstance(entry.get("platform"), str):  # Poetry's platform is sys.platform
        marker = f"sys_platform == '{entry['platform']}'" + (f" and ({marker})" if marker else "")
    if isinstance(entry.get("url"), str):
        return _with_condition(_resolve(_direct_line(entry["url"], source, None, flag), None), marker, None)
    version = entry.get("version", "*")
    if not isinstance(version, str) or not version.isprintable():
        raise UsageError(f"{flag}: version must be a string")
    version = version.strip()
    # Poetry reads a bare version as an exact pin; ^, ~, * and ranges are not PEP 440 and pin nothing.
    exact = "==" + version if version[:1].isdigit() else version if version.startswith("==") else None
    specifier = exact or ("" if version == "*" else version)
    line = _TorchLine(source, specifier, _pin(exact, flag) if exact else None)
    if isinstance(entry.get("source"), str):
        if entry["source"] not in named:
            raise UsageError(f"{flag}: source {show(entry['source'])} is not a [[tool.poetry.source]]")
        indexes = _Indexes(primary=named[entry["source"]])
    else:
        indexes = _Indexes(primary=primary)
    return _with_condition(_resolve(line, indexes), marker, None)
