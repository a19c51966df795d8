"""The data files themselves: every row cites a known source, and malformed data is refused."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from gpu_preflight.core.errors import UsageError
from gpu_preflight.knowledge import (
    DATA_FILES,
    ENV_VAR,
    KnowledgeBase,
    KnowledgeError,
    packaged_data_dir,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DATA = packaged_data_dir()


def _load(name: str) -> dict:
    with open(DATA / name, "rb") as handle:
        return tomllib.load(handle)


def _rows(name: str):
    """Every row of a data file: [[table]] entries, [section] tables, [section.key] tables."""
    for key, value in _load(name).items():
        if key == "meta":
            continue
        if isinstance(value, list):
            for i, row in enumerate(value):
                yield f"{name} [[{key}]] #{i + 1}", row
        elif all(isinstance(v, dict) for v in value.values()):
            for sub, row in value.items():
                yield f"{name} [{key}.{sub}]", row
        else:
            yield f"{name} [{key}]", value


SOURCE_KEYS = set(_load("sources.toml")["source"])
ROWS = [row for name in DATA_FILES if name != "sources.toml" for row in _rows(name)]


def test_the_package_ships_every_data_file() -> None:
    assert sorted(p.name for p in DATA.glob("*.toml")) == sorted(DATA_FILES)


@pytest.mark.parametrize("name", DATA_FILES)
def test_every_file_has_a_meta_header(name: str) -> None:
    meta = _load(name)["meta"]
    assert set(meta) == {"version", "date", "description"}
    assert all(isinstance(v, str) and v for v in meta.values())


@pytest.mark.parametrize("where, row", ROWS, ids=[where for where, _ in ROWS])
def test_every_row_cites_known_sources(where: str, row: dict) -> None:
    """A data change with no matching source fails here (and the loader refuses it)."""
    sources = row.get("sources")
    assert isinstance(sources, list) and sources, f"{where}: no sources"
    unknown = [s for s in sources if s not in SOURCE_KEYS]
    assert not unknown, f"{where}: unknown source keys {unknown}"
    assert row.get("status") in {"confirmed", "observed", "derived", "third-party", "unconfirmed"}, where
    assert ("conflict" in row) == ("chosen" in row), where


def test_every_source_has_a_title() -> None:
    for key, source in _load("sources.toml")["source"].items():
        assert source["title"].strip(), key
        assert source["url"] == "" or source["url"].startswith("https://"), key


def test_sources_not_cited_by_any_row() -> None:
    cited = {s for _, row in ROWS for s in row["sources"]}
    # The reference's key list is kept whole; these back the requirement grammar, the error
    # semantics and the observations that the checks / explain layers cite, not a table row.
    assert SOURCE_KEYS - cited == {
        "COMPAT_LATEST",
        "ERR803_OBS",
        "ERR_DOCS",
        "GITLAB_183",
        "LNC_COMPAT",
        "LNC_CONF",
        "LNC_DRV",
        "MVC_DETAIL",
        "REDIST_3P",
        "SMI_COMPAT_OBS",
        "WSL_OBS",
    }


# --- malformed data ----------------------------------------------------------------------


def _override(tmp_path: Path, name: str, old: str, new: str) -> Path:
    text = (DATA / name).read_text(encoding="utf-8")
    assert old in text, old
    (tmp_path / name).write_text(text.replace(old, new, 1), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    "name, old, new, message",
    [
        ("toolkit.toml", "[[release]]", "[[release]", "not valid TOML"),
        ("toolkit.toml", 'label = "CUDA 13.5 (13.5.x)"\n', "", "missing field 'label'"),
        ("toolkit.toml", 'sources = ["RN135", "DC620"]', 'sources = ["NOPE"]', "unknown source key 'NOPE'"),
        ("toolkit.toml", 'sources = ["RN135", "DC620"]', "sources = []", "every row must name its source"),
        ("toolkit.toml", 'linux_min_driver = "595.71.05"', 'linux_min_driver = "595.x"', "not a version"),
        ("toolkit.toml", 'status = "unconfirmed"', 'status = "sure"', "status 'sure'"),
        ("toolkit.toml", 'kind = "family"', 'kind = "family"\nlable = "typo"', "unknown field 'lable'"),
        ("toolkit.toml", 'chosen = "455.23.04', 'chozen = "455.23.04', "must be given together"),
        ("gpus.toml", "pattern = '(TESLA )?K80'", "pattern = '(TESLA K80'", "not a valid regular expression"),
        ("gpus.toml", 'pci_device_ids = ["102D"]', 'pci_device_ids = ["0x102D"]', "4 upper-case hex"),
        ("torch.toml", 'archs = "9.0"', 'archs = "9.0+SASS"', "not a CUDA architecture"),
        ("torch.toml", 'default_pypi_cuda = "11.7"', "default_pypi_cuda = 11.7", "must be a string"),
        ("driver_branches.toml", "branch = 550", 'branch = "550"', "must be an integer"),
        ("sources.toml", 'version = "2026.12.06"\n', "", "missing field 'version'"),
        ("minor_compat.toml", "[meta]", "[metadata]", "missing [meta] header"),
        ("gpus.toml", 'product = "NVIDIA B200"', 'product = "NVIDIA B2000"', "unknown products: NVIDIA B2000"),
        ("gpus.toml", 'min_driver = "570.133.20"', 'min_driver = "570.x"', "min_driver"),
        ("sources.toml", 'date = "2025-06-02"', 'date = "June 2025"', "not an ISO date"),
    ],
)
def test_malformed_data_is_refused(tmp_path, fresh_loader, name, old, new, message) -> None:
    directory = _override(tmp_path, name, old, new)
    with pytest.raises(KnowledgeError) as info:
        fresh_loader(directory)
    text = str(info.value)
    assert message in text
    assert name in text and "\n" not in text  # one line naming the file (and the row)
    assert isinstance(info.value, UsageError)


def test_the_error_names_the_row(tmp_path, fresh_loader) -> None:
    directory = _override(tmp_path, "toolkit.toml", 'linux_min_driver = "595.71.05"', 'linux_min_driver = "595.x"')
    with pytest.raises(KnowledgeError, match=r"toolkit\.toml: \[\[release\]\] row \d+ \(version '13\.2\.2'\)"):
        fresh_loader(directory)


def test_missing_directory_is_refused(tmp_path, fresh_loader) -> None:
    with pytest.raises(KnowledgeError, match="not found"):
        fresh_loader(tmp_path / "nope")


def test_env_var_points_at_updated_data(tmp_path, fresh_loader, monkeypatch) -> None:
    _override(tmp_path, "torch.toml", 'version = "2026.11.27"', 'version = "2099.01.01"')
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    kb = fresh_loader()
    assert kb.directory == tmp_path.resolve()
    origins = {f.name: f.origin for f in kb.meta.files}
    assert origins["torch.toml"] == "override" and origins["toolkit.toml"] == "packaged"
    assert kb.meta.version == "2099.01.01"
    assert fresh_loader() is kb  # cached per directory
    monkeypatch.delenv(ENV_VAR)
    assert fresh_loader() is not kb


def test_a_changed_file_is_never_served_from_the_cache(tmp_path, fresh_loader) -> None:
    for name in DATA_FILES:
        shutil.copy(DATA / name, tmp_path / name)
    assert KnowledgeBase(tmp_path).driver_requirement("12.4.1").native.text == "550.54.15"
    path = tmp_path / "toolkit.toml"
    path.write_text(path.read_text().replace('"550.54.15"', '"550.54.16"'))
    assert KnowledgeBase(tmp_path).driver_requirement("12.4.1").native.text == "550.54.16"


def test_a_corrupt_cache_is_ignored(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    KnowledgeBase().load_all()
    caches = list((tmp_path / "gpu-preflight" / "knowledge").glob("*.marshal"))
    assert len(caches) == len(DATA_FILES)
    for cache in caches:
        cache.write_bytes(b"garbage")
    assert len(KnowledgeBase().load_all().toolkit_releases) > 60


def test_packaged_load_is_lazy(fresh_loader) -> None:
    kb = fresh_loader()
    kb.driver_requirement("12.4")
    assert set(kb.files.loaded) == {"sources.toml", "toolkit.toml", "minor_compat.toml"}
