"""The TARGET flags of docs/architecture.md ("Command-line flags") into targets: ``--torch SPEC``,
``--cuda X.Y`` and ``--requirements FILE`` (a pip requirements file or a ``pyproject.toml``).
Every bad input raises :class:`UsageError` with one line naming the flag (or ``file:line``) and
the value.

Decisions on ambiguous cases:

* ``--torch 2.4`` keeps ``"2.4"``: the 2.4 series, judged from the knowledge base's 2.4 row (see
  ``index.pinned_release``).
* ``--torch`` must pin one release; a range (``torch>=2.0``, ``~=2.4.0``) is refused. In a file a
  range (or a bare ``torch``) is kept with ``pinned=False``, ``torch_version=None`` and a note, so
  the caller can warn instead of failing on a file the user did not write for this tool.
* A file is a pyproject when its name ends in ``.toml`` or it has TOML table headers, which no
  requirements file contains; otherwise it is read as pip does (``pip.py``).
* An empty file is a valid requirements file: it pins no torch, like a file without torch ([]).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.limits import MAX_SPEC_CHARS
from gpu_preflight.core.text import show
from gpu_preflight.core.versions import CUDA_MAJORS, WHEEL_VARIANT, Version
from gpu_preflight.targets.index import names_torch, parse_requirement, resolve_target, torch_line
from gpu_preflight.targets.model import CudaTarget, Target, Targets, TorchTarget
from gpu_preflight.targets.pip import parse_pip_requirements, read_requirements_text
from gpu_preflight.targets.pyproject import parse_pyproject

_CUDA_SPEC = re.compile(r"(?:cuda[-_ ]?)?(?P<version>[0-9]{1,3}(?:\.[0-9]{1,3}){0,2})", re.ASCII | re.IGNORECASE)
_BARE_TORCH_VERSION = re.compile(r"(?:torch\s+)?(?P<version>[0-9]\S*)", re.ASCII | re.IGNORECASE)
_TOML_HEADER = re.compile(r"^\s*\[\[?[A-Za-z0-9_.\-\"' ]+\]\]?\s*(#.*)?$", re.MULTILINE)


def collect_targets(torch: Iterable[str] = (), cuda: Iterable[str] = (), requirements: Iterable[str] = ()) -> Targets:
    """The targets of repeated ``--torch``, ``--cuda`` and ``--requirements`` flags."""
    items: list[Target] = [parse_torch_spec(spec) for spec in torch]
    for path in requirements:
        items.extend(parse_requirements_file(path))
    items.extend(parse_cuda_spec(spec) for spec in cuda)
    return Targets(tuple(items))


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
    requirement = parse_requirement(f"torch=={bare['version']}" if bare else spec)
    is_torch = requirement is not None and names_torch(requirement)
    if requirement is None or (not is_torch and not requirement.specifier and not requirement.url):
        raise UsageError(
            f"{label}: not a torch version or requirement (examples: 2.1.0+cu118, 2.6.0, torch==2.4.1+cu121)"
        )
    if not is_torch:
        raise UsageError(f"{label}: names the package {requirement.name!r}, not torch")
    line = torch_line(requirement, source or f"--torch {spec}", label)
    if line.pin is None:
        problem = "a version range cannot be judged" if line.specifier else "no version given"
        problem = line.notes[0] if line.notes else problem  # a URL that is not a wheel says why
        raise UsageError(f"{label}: {problem}; pin one release, e.g. --torch 2.4.1 or --torch 2.4.1+cu121")
    return resolve_target(line, None)


def parse_requirements_file(path: str | os.PathLike[str]) -> list[TorchTarget]:
    """The torch requirements of a requirements.txt (with its includes) or a pyproject.toml;
    [] when torch is not required."""
    path = os.fspath(path)
    label = f"--requirements {show(path)}"
    text = read_requirements_text(path, label)
    if path.lower().endswith(".toml") or _TOML_HEADER.search(text):
        return parse_pyproject(text, path, label)
    return parse_pip_requirements(path, text)
