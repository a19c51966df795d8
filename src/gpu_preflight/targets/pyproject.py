"""pyproject.toml: the torch requirements of PEP 621 (``[project]`` dependencies and optional
dependencies), ``[dependency-groups]``, uv and Poetry, with the index each tool installs torch from.

* uv names one index: ``[tool.uv.sources]`` torch (per marker or per extra), else the first
  non-explicit ``[[tool.uv.index]]`` (or the legacy ``index-url``/``extra-index-url``) that is a
  PyTorch index.
* Poetry names one index: the dependency's ``source``, else the first primary
  ``[[tool.poetry.source]]``. A bare version is an exact pin; ``^``, ``~``, ``*`` and ranges pin nothing.
* A uv/Poetry condition (marker, extra, platform) is added to the target's marker, kept and not
  evaluated: the machine that installs may not be the one running this tool.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from packaging.utils import canonicalize_name

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.readers import parse_toml
from gpu_preflight.core.text import show
from gpu_preflight.targets.engines import engine_requirement
from gpu_preflight.targets.index import (
    Indexes,
    TorchLine,
    direct_torch_line,
    index_url_variant,
    names_torch,
    parse_requirement,
    pinned_release,
    resolve_target,
    torch_line,
)
from gpu_preflight.targets.model import EngineTarget, TorchTarget


@dataclass(frozen=True)
class _UvChoice:
    """One way uv may install torch: from these indexes, under this condition, for this extra."""

    indexes: Indexes
    condition: str | None = None  # a marker the choice applies under
    note: str | None = None  # where it installs from, in words
    extra: str | None = None  # the optional-dependencies group it is for; None: every group


def parse_pyproject(text: str, path: str, label: str) -> list[TorchTarget]:
    """The torch targets of a pyproject.toml's ``text``; ``label`` starts the messages about the
    file as a whole, ``path:line`` names a target's source."""
    data = parse_toml(text, label)
    targets = []
    uv_choices = _uv_choices(data, label)
    for where, requirement_text in _pep621_requirements(data, label):
        requirement = parse_requirement(requirement_text)
        if requirement is None:
            raise UsageError(f"{label}: [{where}] has an invalid requirement {show(requirement_text)}")
        if not names_torch(requirement):
            continue
        quoted = f"[\"']{re.escape(requirement_text)}[\"']"
        number = _line_of(text, quoted)
        source = f"{path}:{number}" if number else f"{path} [{where}]"
        line = torch_line(requirement, source)
        group = where.rsplit(".", 1)[1] if where.startswith("project.optional-dependencies.") else None
        for choice in uv_choices:
            if choice.extra is None or group in (None, choice.extra):  # a source for extra "cpu" is not used by "cu124"
                targets.append(_with_condition(resolve_target(line, choice.indexes), choice.condition, choice.note))
    targets.extend(_poetry_targets(data, text, path, label))
    return targets


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


def _uv_choices(data: dict[str, Any], label: str) -> list[_UvChoice]:
    """One choice per way uv may install torch (``[tool.uv.sources]``)."""
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
        return [_UvChoice(Indexes(primary=next((url for url in implicit if index_url_variant(url)), None)))]
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
            choices.append(_UvChoice(Indexes(primary=named[entry["index"]]), condition, note, extra))
        else:
            choices.append(_UvChoice(Indexes(), condition, f"uv source {show(entry)}: not an index, not judged", extra))
    return choices


def _with_condition(target: TorchTarget, condition: str | None, note: str | None) -> TorchTarget:
    """The target with a uv/Poetry condition added to its marker and a note on where it installs from."""
    if condition:
        marker = f"({target.marker}) and ({condition})" if target.marker else condition
        target = replace(target, marker=marker)
    return replace(target, notes=target.notes + (note,)) if note else target


def _poetry_targets(data: dict[str, Any], text: str, path: str, label: str) -> list[TorchTarget]:
    poetry = _table(data, "tool", "poetry")
    listed: list[Any] = poetry["source"] if isinstance(poetry.get("source"), list) else []
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
        return _with_condition(resolve_target(direct_torch_line(entry["url"], source, None, flag), None), marker, None)
    version = entry.get("version", "*")
    if not isinstance(version, str) or not version.isprintable():
        raise UsageError(f"{flag}: version must be a string")
    version = version.strip()
    # Poetry reads a bare version as an exact pin; ^, ~, * and ranges are not PEP 440 and pin nothing.
    exact = "==" + version if version[:1].isdigit() else version if version.startswith("==") else None
    specifier = exact or ("" if version == "*" else version)
    line = TorchLine(source, specifier, pinned_release(exact, flag) if exact else None)
    if isinstance(entry.get("source"), str):
        if entry["source"] not in named:
            raise UsageError(f"{flag}: source {show(entry['source'])} is not a [[tool.poetry.source]]")
        indexes = Indexes(primary=named[entry["source"]])
    else:
        indexes = Indexes(primary=primary)
    return _with_condition(resolve_target(line, indexes), marker, None)


def parse_pyproject_engines(text: str, path: str, label: str) -> list[EngineTarget]:
    """The inference engines (vllm, sglang) of a pyproject.toml's PEP 621 dependencies,
    optional dependencies and dependency groups."""
    data = parse_toml(text, label)
    found = []
    for where, requirement_text in _pep621_requirements(data, label):
        requirement = parse_requirement(requirement_text)
        if requirement is None:
            raise UsageError(f"{label}: [{where}] has an invalid requirement {show(requirement_text)}")
        number = _line_of(text, f"[\"']{re.escape(requirement_text)}[\"']")
        engine = engine_requirement(requirement, f"{path}:{number}" if number else f"{path} [{where}]")
        if engine is not None:
            found.append(engine)
    return found
