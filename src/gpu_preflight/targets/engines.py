"""Inference engines as targets: ``--engine-pkg vllm==0.11.0`` and the engine requirements of
requirements files, pyproject files and Dockerfile installs, as ``EngineTarget`` values.

Decisions on ambiguous cases:

* A release may name a build as a PEP 440 local version, as vLLM's own wheels do
  (``vllm==0.20.0+cu129``); without one the release's default build is meant.
* In a file, a range or a bare name (``vllm>=0.10``, ``pip install vllm``) is kept unpinned with a
  note: it gets whatever release is newest when it is installed, so it is judged by the newest
  rule the knowledge base has, marked unconfirmed.
* A wheel named by URL or path (``.../vllm-0.20.0+cu129-cp38-abi3-manylinux_2_28_x86_64.whl``)
  fixes release and build from its file name.
* ``--engine-pkg`` must pin one release (``vllm==0.11.0``, ``vllm 0.11.0``, ``ollama==0.12.3``,
  ``llama.cpp==b7000``); anything else is a UsageError naming the flag and the value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.limits import MAX_SPEC_CHARS
from gpu_preflight.core.text import show
from gpu_preflight.targets.model import EngineTarget

# Engine names as users write them -> the engine's key in the knowledge base (engines.toml).
ENGINE_NAMES = {
    "vllm": "vllm",
    "sglang": "sglang",
    "ollama": "ollama",
    "llama.cpp": "llama.cpp",
    "llama-cpp": "llama.cpp",
    "llamacpp": "llama.cpp",
}
# Engines installed with pip (the ones a requirements file or `pip install` can name).
PIP_ENGINES = frozenset({"vllm", "sglang"})
_FLAG = "--engine-pkg"
_SPEC = re.compile(
    r"(?P<name>[A-Za-z][A-Za-z0-9._-]*)(?:\[[A-Za-z0-9_,\s-]*\])?"
    r"(?:\s*(?:===?|\s|@|:)\s*v?(?P<version>[0-9b][0-9A-Za-z.]*?)(?:\+(?P<variant>[A-Za-z0-9_.-]+))?)?",
    re.ASCII,
)
_RELEASE = re.compile(r"b?\d+(?:\.\d+){0,3}(?:\.?post\d+|rc\d+)?", re.ASCII | re.IGNORECASE)


def parse_engine_spec(text: object) -> EngineTarget:
    """``vllm==0.11.0``, ``vllm 0.20.0+cu129``, ``sglang==0.5.1.post3``, ``ollama==0.12.3``,
    ``llama.cpp==b7000`` -> a pinned engine target; UsageError (one line) for anything else."""
    if not isinstance(text, str):
        raise UsageError(f"{_FLAG}: expected text, got {type(text).__name__}")
    spec = text.strip()
    if not spec or len(spec) > MAX_SPEC_CHARS or not spec.isprintable():
        raise UsageError(f"{_FLAG} {show(spec)}: not an engine release (example: vllm==0.11.0)")
    m = _SPEC.fullmatch(spec)
    if m is None:
        raise UsageError(
            f"{_FLAG} {show(spec)}: pin one release of one engine (examples: vllm==0.11.0, vllm==0.20.0+cu129, "
            "sglang==0.5.1, ollama==0.12.3)"
        )
    engine = ENGINE_NAMES.get(m["name"].lower())
    if engine is None:
        known = ", ".join(sorted(set(ENGINE_NAMES.values())))
        raise UsageError(f"{_FLAG} {show(spec)}: {show(m['name'])} is not an engine this tool knows ({known})")
    version = m["version"]
    if version is None or not _RELEASE.fullmatch(version):
        raise UsageError(f"{_FLAG} {show(spec)}: no release given; pin one, e.g. {engine}==0.11.0")
    return EngineTarget(engine, version, _variant(m["variant"]), f"{_FLAG} {spec}", f"=={version}")


def collect_engine_targets(specs: Iterable[object]) -> tuple[EngineTarget, ...]:
    """The targets of repeated ``--engine-pkg`` flags."""
    return tuple(parse_engine_spec(spec) for spec in specs)


def engine_requirement(requirement: Requirement, source: str, origin: str = "") -> EngineTarget | None:
    """The engine a PEP 508 requirement names (``vllm==0.11.0``, ``sglang[all]>=0.5``), or None
    when it names no pip-installed engine. ``origin`` says what an unpinned one gets, in words."""
    name = canonicalize_name(requirement.name)
    if name not in PIP_ENGINES:
        return None
    if requirement.url is not None:
        return engine_wheel(requirement.url, source) or EngineTarget(
            name, None, None, source, f" @ {requirement.url}", (f"{name} built from {show(requirement.url)}",)
        )
    specifier = str(requirement.specifier)
    specs = list(requirement.specifier)
    if len(specs) == 1 and specs[0].operator in ("==", "===") and not specs[0].version.endswith(".*"):
        release, _, local = specs[0].version.partition("+")
        return EngineTarget(name, release, _variant(local or None), source, specifier)
    what = f"{name}{specifier}" if specifier else f"{name} without a version"
    note = f"{what} does not pin one release: {origin or 'it gets the newest release at install time'}"
    return EngineTarget(name, None, None, source, specifier, (note,))


def engine_wheel(location: str, source: str) -> EngineTarget | None:
    """An engine wheel named by URL or path: release and build from its file name
    (``vllm-0.20.0%2Bcu129-cp38-abi3-manylinux_2_28_x86_64.whl`` -> vllm 0.20.0, cu129)."""
    name = unquote(location.split("#")[0].split("?")[0].replace("\\", "/").rsplit("/", 1)[-1])
    parts = name[: -len(".whl")].split("-") if name.lower().endswith(".whl") else []
    if len(parts) < 5 or canonicalize_name(parts[0]) not in PIP_ENGINES:
        return None
    release, _, local = parts[1].partition("+")
    engine = canonicalize_name(parts[0])
    return EngineTarget(engine, release, _variant(local or None), source, f" @ {location}")


def _variant(local: str | None) -> str | None:
    """A local version as a build name: ``cu129``; other local labels (``g1234abc``) name no build."""
    if local is None:
        return None
    return local.lower() if re.fullmatch(r"cu\d{2,3}", local, re.IGNORECASE) else None
