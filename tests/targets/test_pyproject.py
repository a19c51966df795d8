"""targets/pyproject.py: pyproject.toml's PEP 621 dependencies, dependency groups, uv and Poetry."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpu_preflight.targets.specs import parse_requirements_file

from support.targets import WHEEL_CU118, summary, usage_error, write


def test_pyproject_project_dependencies(in_tmp: Path) -> None:
    write(
        in_tmp / "pyproject.toml",
        '[project]\nname = "app"\ndependencies = [\n  "numpy>=1.26",\n  "torch==2.1.0+cu118",\n]\n\n'
        "[project.optional-dependencies]\ncpu = ['torch==2.1.0+cpu ; sys_platform == \"darwin\"']\nother = ['rich']\n\n"
        '[dependency-groups]\ndev = [{include-group = "test"}, "torch>=2.1"]\ntest = ["pytest"]\n',
    )
    targets = parse_requirements_file("pyproject.toml")
    assert summary(targets) == [
        ("2.1.0", "cu118", None, "pyproject.toml:5", True),
        ("2.1.0", "cpu", None, "pyproject.toml:9", True),
        (None, None, None, "pyproject.toml:13", False),
    ]
    assert targets[1].marker == 'sys_platform == "darwin"'


def test_pyproject_without_torch(in_tmp: Path) -> None:
    write(
        in_tmp / "pyproject.toml", '[project]\nname = "app"\ndependencies = ["numpy"]\n[tool.ruff]\nline-length = 99\n'
    )
    assert parse_requirements_file("pyproject.toml") == []


UV_INDEXES = """
[[tool.uv.index]]
name = "pytorch-cpu"
url = "https://download.pytorch.org/whl/cpu"
explicit = true

[[tool.uv.index]]
name = "pytorch-cu124"
url = "https://download.pytorch.org/whl/cu124"
explicit = true
"""


def test_pyproject_uv_source_names_the_index(in_tmp: Path) -> None:
    write(
        in_tmp / "pyproject.toml",
        '[project]\ndependencies = ["torch==2.5.1"]\n\n[tool.uv.sources]\ntorch = { index = "pytorch-cu124" }\n'
        + UV_INDEXES,
    )
    [target] = parse_requirements_file("pyproject.toml")
    assert (target.torch_version, target.variant, target.index_url, target.source) == (
        "2.5.1",
        "cu124",
        "https://download.pytorch.org/whl/cu124",
        "pyproject.toml:2",
    )
    assert "uv source: index 'pytorch-cu124'" in target.notes


def test_pyproject_uv_sources_per_platform(in_tmp: Path) -> None:
    write(
        in_tmp / "pyproject.toml",
        "[project]\ndependencies = [\"torch>=2.5 ; python_version >= '3.10'\"]\n\n[tool.uv.sources]\ntorch = [\n"
        '  { index = "pytorch-cpu", marker = "sys_platform != \'linux\'" },\n'
        '  { index = "pytorch-cu124", marker = "sys_platform == \'linux\'" },\n]\n' + UV_INDEXES,
    )
    targets = parse_requirements_file("pyproject.toml")
    assert [(t.variant, t.marker, t.pinned) for t in targets] == [
        ("cpu", "(python_version >= \"3.10\") and (sys_platform != 'linux')", False),
        ("cu124", "(python_version >= \"3.10\") and (sys_platform == 'linux')", False),
    ]


def test_pyproject_uv_sources_per_extra(in_tmp: Path) -> None:
    write(
        in_tmp / "pyproject.toml",
        '[project.optional-dependencies]\ncpu = ["torch==2.6.0"]\ncu124 = ["torch==2.6.0+cu124"]\n\n[tool.uv.sources]\n'
        'torch = [{ index = "pytorch-cpu", extra = "cpu" },\n'
        '         { index = "pytorch-cu124", extra = "cu124" }]\n' + UV_INDEXES,
    )
    targets = parse_requirements_file("pyproject.toml")
    # A source for one extra applies to that extra's torch line only.
    assert [(t.variant, t.marker, t.source) for t in targets] == [
        ("cpu", "extra == 'cpu'", "pyproject.toml:2"),
        ("cu124", "extra == 'cu124'", "pyproject.toml:3"),
    ]


@pytest.mark.parametrize(
    ("uv", "variant"),
    [
        ('[[tool.uv.index]]\nname = "pytorch"\nurl = "https://download.pytorch.org/whl/cu121"\n', "cu121"),
        (
            '[[tool.uv.index]]\nname = "pytorch"\nurl = "https://download.pytorch.org/whl/cu121"\nexplicit = true\n',
            None,
        ),
        (
            '[[tool.uv.index]]\nname = "mirror"\nurl = "https://mirror.example/simple"\n\n'
            '[[tool.uv.index]]\nname = "pt"\nurl = "https://download.pytorch.org/whl/cu118"\n',
            "cu118",
        ),
        ('[tool.uv]\nextra-index-url = ["https://download.pytorch.org/whl/cu118"]\n', "cu118"),
        ('[tool.uv]\nindex-url = "https://download.pytorch.org/whl/cpu"\n', "cpu"),
    ],
)
def test_pyproject_uv_indexes_without_sources(in_tmp: Path, uv: str, variant: str | None) -> None:
    write(in_tmp / "pyproject.toml", '[project]\ndependencies = ["torch==2.4.1"]\n\n' + uv)
    [target] = parse_requirements_file("pyproject.toml")
    assert target.variant == variant


POETRY_SOURCES = """
[[tool.poetry.source]]
name = "pytorch-cu118"
url = "https://download.pytorch.org/whl/cu118"
priority = "explicit"

[[tool.poetry.source]]
name = "pytorch-cpu"
url = "https://download.pytorch.org/whl/cpu"
priority = "supplemental"
"""


@pytest.mark.parametrize(
    ("dependency", "expected"),
    [
        ('torch = "2.1.0"', ("2.1.0", None, True, "==2.1.0")),
        ('torch = "==2.1.0+cpu"', ("2.1.0", "cpu", True, "==2.1.0+cpu")),
        ('torch = { version = "2.1.0", source = "pytorch-cu118" }', ("2.1.0", "cu118", True, "==2.1.0")),
        ('torch = { version = "2.1.0+cu118", source = "pytorch-cu118" }', ("2.1.0", "cu118", True, "==2.1.0+cu118")),
        ('torch = "^2.1"', (None, None, False, "^2.1")),
        ('torch = "~2.1.0"', (None, None, False, "~2.1.0")),
        ('torch = ">=2.1,<2.3"', (None, None, False, ">=2.1,<2.3")),
        ('torch = "*"', (None, None, False, "")),
        ('torch = { git = "https://github.com/pytorch/pytorch.git" }', (None, None, False, "")),
        (f'torch = {{ url = "{WHEEL_CU118}" }}', ("2.1.0", "cu118", True, f" @ {WHEEL_CU118}")),
    ],
)
def test_pyproject_poetry(in_tmp: Path, dependency: str, expected: tuple) -> None:
    write(
        in_tmp / "pyproject.toml",
        f'[tool.poetry]\nname = "app"\n\n[tool.poetry.dependencies]\npython = "^3.10"\n{dependency}\n' + POETRY_SOURCES,
    )
    [target] = parse_requirements_file("pyproject.toml")
    assert (target.torch_version, target.variant, target.pinned, target.specifier) == expected
    assert target.source == "pyproject.toml:6"


def test_pyproject_poetry_per_platform_and_groups(in_tmp: Path) -> None:
    write(
        in_tmp / "pyproject.toml",
        '[tool.poetry.dependencies]\npython = "^3.10"\n\n[tool.poetry.group.gpu.dependencies]\ntorch = [\n'
        '  { version = "2.1.0", source = "pytorch-cu118", markers = "sys_platform == \'linux\'" },\n'
        '  { version = "2.1.0", platform = "darwin" },\n]\n' + POETRY_SOURCES,
    )
    targets = parse_requirements_file("pyproject.toml")
    assert [(t.variant, t.marker, t.source) for t in targets] == [
        ("cu118", "sys_platform == 'linux'", "pyproject.toml:5"),
        (None, "sys_platform == 'darwin'", "pyproject.toml:5"),
    ]


def test_pyproject_poetry_primary_source_applies_without_naming_it(in_tmp: Path) -> None:
    write(
        in_tmp / "pyproject.toml",
        '[tool.poetry.dependencies]\ntorch = "2.1.0"\n\n[[tool.poetry.source]]\nname = "pt"\n'
        'url = "https://download.pytorch.org/whl/cu121"\npriority = "primary"\n',
    )
    [target] = parse_requirements_file("pyproject.toml")
    assert (target.variant, target.index_url) == ("cu121", "https://download.pytorch.org/whl/cu121")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[project\n", "not valid TOML: Expected ']' at the end of a table declaration (at line 1, column 9)"),
        ("a = [" * 5000, "not valid TOML: Invalid value (at line 1, column 6)"),
        ("a = " + "[" * 5000 + "]" * 5000, "not valid TOML: nested too deeply"),
        ('[project]\ndependencies = "torch"\n', "[project.dependencies] must be a list of requirement strings"),
        ("[project]\ndependencies = [1]\n", "[project.dependencies] must be a list of requirement strings"),
        (
            '[project]\ndependencies = ["torch==2.x"]\n',
            "[project.dependencies] has an invalid requirement 'torch==2.x'",
        ),
        ('[project]\ndependencies = ["torch==2.1.0+foo"]\n', "+foo is not a PyTorch wheel variant"),
        (
            '[project]\ndependencies = ["torch"]\n[tool.uv.sources]\ntorch = { index = "nope" }\n',
            "[tool.uv.sources] torch names index 'nope', which no [[tool.uv.index]] defines",
        ),
        (
            '[tool.poetry.dependencies]\ntorch = { version = "2.1.0", source = "nope" }\n',
            "[tool.poetry.dependencies] torch: source 'nope' is not a [[tool.poetry.source]]",
        ),
        (
            "[tool.poetry.dependencies]\ntorch = 2\n",
            "[tool.poetry.dependencies] torch: must be a version string or a table",
        ),
        ('[tool.poetry.dependencies]\ntorch = "2.x"\n', "'2.x' is not a version"),
    ],
)
def test_pyproject_errors(in_tmp: Path, text: str, message: str) -> None:
    write(in_tmp / "pyproject.toml", text)
    got = usage_error(parse_requirements_file, "pyproject.toml")
    assert got.startswith("--requirements 'pyproject.toml': ") or got.startswith("pyproject.toml")
    assert message in got
