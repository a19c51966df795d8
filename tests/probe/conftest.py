"""Shared fixtures for the probe parsers' tests.

Real third-party fixtures live in ``shared/fixtures/real`` beside the repository (see its
SOURCES.md) and are never copied into the repo. A test that takes ``real_file`` and carries
``@pytest.mark.real_files("subdir", "glob", exclude=(suffix, ...))`` runs once per matching
file (names ending with an excluded suffix left out); ``real_dir`` gives
the folder. Both skip, saying why, when the shared folder is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support.paths import MISSING
from support.paths import REAL as REAL_FIXTURES


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "real_files(subdir, pattern, exclude=()): run once per real fixture file")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("real_files")
    if marker is None or "real_file" not in metafunc.fixturenames:
        return
    subdir, pattern = marker.args
    folder = REAL_FIXTURES / subdir
    if not folder.is_dir():
        metafunc.parametrize("real_file", [pytest.param(None, marks=pytest.mark.skip(reason=MISSING))])
        return
    exclude = tuple(marker.kwargs.get("exclude", ()))
    files = sorted(p for p in folder.glob(pattern) if p.is_file() and not (exclude and p.name.endswith(exclude)))
    assert files, f"no {pattern} files in {folder}"
    metafunc.parametrize("real_file", files, ids=[str(p.relative_to(folder)) for p in files])


@pytest.fixture(scope="session")
def real_dir() -> Path:
    if not REAL_FIXTURES.is_dir():
        pytest.skip(MISSING)
    return REAL_FIXTURES
