"""From a torch requirement and the package indexes an install names to the ``TorchTarget`` pip
would install: the one place that knows how PyTorch's wheel indexes pick a variant.

* A pinned local version (``+cu118``) always wins: that is the wheel pip must install.
* A plain pin (or a range) next to PyTorch indexes (``.../whl/cu118``, ``/whl/cpu``, ``/whl/rocm6.2``)
  resolves to that variant: pip prefers ``2.1.0+cu118`` over PyPI's plain ``2.1.0`` because a local
  version sorts higher. With several variant indexes pip takes the highest local version
  (``+cu121`` over ``+cu118``); so do we, with a note.
* A wheel named by path or URL fixes version and variant by its file name; indexes do not apply.

Readers of requirement sources (``pip.py``, ``pyproject.py``, ``specs.py``, a Dockerfile's
``pip install``) turn each torch requirement into a ``TorchLine`` and gather ``Indexes``;
``resolve_target`` combines the two.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion
from packaging.version import Version as Pep440Version

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.limits import MAX_INT_DIGITS
from gpu_preflight.core.text import show
from gpu_preflight.core.versions import variant_problem
from gpu_preflight.targets.model import TorchTarget

_HUGE_NUMBER = re.compile(f"[0-9]{{{MAX_INT_DIGITS + 1}}}")


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
class TorchLine:
    """A torch requirement as read, before the indexes of its install are applied."""

    source: str
    specifier: str  # as written, for display
    pin: tuple[str, str | None] | None  # (torch_version, local variant) when one release is pinned
    marker: str | None = None
    notes: tuple[str, ...] = ()
    direct_wheel: bool = False  # a wheel file or URL: its name fixes the variant, indexes do not apply


@dataclass
class Indexes:
    """The package indexes an install uses. pip applies index options to every requirement."""

    primary: str | None = None  # --index-url: replaces PyPI
    extra: list[str] = field(default_factory=list)  # --extra-index-url, --find-links


def parse_requirement(text: str) -> Requirement | None:
    """A PEP 508 requirement, or None when ``text`` is not one."""
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None


def names_torch(requirement: Requirement) -> bool:
    return canonicalize_name(requirement.name) == "torch"


def pinned_release(specifier: str, flag: str) -> tuple[str, str | None] | None:
    """(release, variant) when a PEP 440 specifier pins one release or one X.Y series, else None.

    ``torch==2.4`` (pip: exactly 2.4.0) and ``torch==2.4.*`` both mean the 2.4 series, judged
    from the knowledge base's 2.4 row, like ``--torch 2.4``.
    """
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
    if _HUGE_NUMBER.search(text):  # packaging would turn it into an int (ValueError past 4,300 digits)
        raise UsageError(f"{flag}: {show(text)} is not a version (a number of more than {MAX_INT_DIGITS} digits)")
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


def torch_wheel_version(location: str) -> str | None:
    """The version in a torch wheel's file name (``torch-2.1.0%2Bcu118-cp310-...whl`` -> 2.1.0+cu118)."""
    name = unquote(location.split("#")[0].split("?")[0].replace("\\", "/").rsplit("/", 1)[-1])
    parts = name[: -len(".whl")].split("-") if name.lower().endswith(".whl") else []
    if len(parts) >= 5 and canonicalize_name(parts[0]) == "torch":
        return parts[1]
    return None


def torch_line(requirement: Requirement, source: str, flag: str | None = None) -> TorchLine:
    """The line of a torch requirement; ``flag`` names it in messages (default: ``source``)."""
    marker = str(requirement.marker) if requirement.marker else None
    if requirement.url is not None:
        return direct_torch_line(requirement.url, source, marker, flag or source)
    spec = str(requirement.specifier)
    return TorchLine(source, spec, pinned_release(spec, flag or source), marker)


def direct_torch_line(location: str, source: str, marker: str | None, flag: str) -> TorchLine:
    """torch installed from a URL or path: a wheel's file name fixes version and variant."""
    version = torch_wheel_version(location)
    if version is None:
        note = f"torch comes from {show(location)}: its version is unknown until it is built"
        return TorchLine(source, f" @ {location}", None, marker, (note,))
    return TorchLine(source, f" @ {location}", pinned_release(f"=={version}", flag), marker, direct_wheel=True)


def resolve_target(line: TorchLine, indexes: Indexes | None) -> TorchTarget:
    """The target a torch line installs, given the indexes of its install (None: a --torch flag)."""
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


def _apply_indexes(pinned_variant: str | None, indexes: Indexes, notes: list[str]) -> tuple[str | None, str | None]:
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
