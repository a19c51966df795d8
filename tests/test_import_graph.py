"""The layout is the architecture (docs/architecture.md, "Layers"): every import, lazy ones
included, points to a lower floor or stays in its own package, and no two modules import each
other, directly or around a loop."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.paths import ROOT

PACKAGE = ROOT / "src" / "gpu_preflight"

# Floor of each top-level package or module, bottom up. Same floor: may not import each other.
FLOORS: dict[str, int] = {
    "core": 0,
    "knowledge": 1,
    "probe": 2,
    "targets": 2,
    "images": 3,
    "fit": 4,
    "checks": 5,
    "report": 6,
    "explain": 7,
    "fleet": 7,
    "monitor": 7,
    "serve": 8,
    "cli": 9,
    "__main__": 10,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for every gpu_preflight module ``path`` imports, at any depth of the code."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            if base.startswith("gpu_preflight"):
                # `from pkg import module` imports the module; `from module import name` the module.
                for alias in node.names:
                    candidate = f"{base}.{alias.name}"
                    yield node.lineno, candidate if _is_module(candidate) else base
        elif isinstance(node, ast.Import):
            yield from ((node.lineno, a.name) for a in node.names if a.name.startswith("gpu_preflight"))


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


SOURCES = sorted(PACKAGE.rglob("*.py"))
GRAPH = {module_name(p): sorted({m for _, m in imports_of(p)} - {module_name(p)}) for p in SOURCES}


def test_every_package_has_a_floor() -> None:
    packages = {top(module_name(p)) for p in SOURCES} - {""}
    assert packages <= FLOORS.keys(), f"give these a floor here and in docs/architecture.md: {packages - FLOORS.keys()}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path: Path) -> None:
    here = top(module_name(path))
    if not here:
        return  # gpu_preflight/__init__.py: the version only
    upward = []
    for line, target in imports_of(path):
        there = top(target)
        if there and there != here and FLOORS[there] >= FLOORS[here]:
            upward.append(f"line {line}: {target} (floor {FLOORS[there]} >= {here}'s {FLOORS[here]})")
    assert not upward, "\n".join(upward)


def test_no_import_cycles() -> None:
    state: dict[str, str] = {}
    cycles: list[list[str]] = []

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for target in GRAPH.get(module, ()):
            if state.get(target) == "open":
                cycles.append([*trail[trail.index(target) :], target] if target in trail else [module, target])
            elif target not in state:
                visit(target, [*trail, target])
        state[module] = "done"

    for module in GRAPH:
        if module not in state:
            visit(module, [module])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)
