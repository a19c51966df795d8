"""CUDA toolkit -> driver floors, minor-version compatibility, driver branches."""

from __future__ import annotations

import re

import pytest

from gpu_preflight.core.versions import Version
from gpu_preflight.knowledge import KnowledgeBase
from gpu_preflight.knowledge.minor_compat import find_minor_compat_floor
from gpu_preflight.knowledge.toolkit import find_toolkit_release

from support.knowledge import load_facts, params

V = Version.parse
FACTS = load_facts()


# --- every Table 3 row, cross-checked against the reference ------------------------------


def _release_version(text: str) -> str:
    m = re.search(r"\((\d+\.\d+(?:\.\d+)?)", text) or re.search(r"(\d+\.\d+\.\d+)", text)
    if m:
        return m.group(1)
    return re.search(r"CUDA (\d+\.\d+)", text).group(1)  # "CUDA 13.5 (13.5.x)"


@pytest.mark.parametrize("row", params(FACTS.get("toolkit_min_driver", []), ids=lambda r: r["release"]))
def test_every_toolkit_row_matches_the_reference(kb: KnowledgeBase, row: dict) -> None:
    release = find_toolkit_release(kb.toolkit_releases, V(_release_version(row["release"])))
    assert release is not None, row["release"]
    assert release.label == row["release"]
    if not release.provenance.conflict and not _runfile_sources(release):
        # a conflict row's status is that of the side we took; a runfile name may raise a status
        assert row["status"].startswith(release.provenance.status)
    assert set(row["source"]) <= set(release.provenance.sources)

    linux = re.search(r">=\s*(\d+(?:\.\d+)*)", row["linux_x86_64"])
    branch_only = re.search(r"branch R(\d+)", row["linux_x86_64"])
    if linux:
        expected = V(linux.group(1))
        if release.provenance.conflict:  # we took the conservative side: never a lower floor
            assert release.linux_min_driver >= expected
            assert (
                str(expected) in release.provenance.conflict
                or str(release.linux_min_driver) in release.provenance.conflict
            )
        else:
            assert release.linux_min_driver == expected
            assert release.linux_exact
    elif branch_only:
        assert release.linux_min_driver == V(branch_only.group(1))
        assert not release.linux_exact
    else:
        assert release.linux_min_driver is None

    windows = re.fullmatch(r">=(\d+(?:\.\d+)*)", row["windows_x86_64"].strip())
    assert release.windows_min_driver == (V(windows.group(1)) if windows else None)

    branch = re.match(r"R(\d+)", row["bundled_driver_branch"])
    assert release.branch == (int(branch.group(1)) if branch else None)


def _runfile_sources(release) -> list[str]:
    return [s for s in release.provenance.sources if s.startswith("RUNFILE_")]


def test_table_has_no_rows_beyond_the_reference_but_runfile_releases(kb: KnowledgeBase) -> None:
    """Rows the reference lacks are patch releases whose NVIDIA runfile names the bundled driver."""
    rows = FACTS.get("toolkit_min_driver")
    if not rows:
        pytest.skip("shared reference facts are absent")
    listed = {_release_version(r["release"]) for r in rows}
    extra = [r for r in kb.toolkit_releases if str(r.version) not in listed and r.kind != "family"]
    assert {str(r.version) for r in extra} == {"12.3.2", "12.8.2", "12.9.2", "13.1.2"}
    for release in extra:
        runfile = _runfile_sources(release)
        assert runfile, release.label
        url = kb.sources[runfile[0]].url
        # the runfile's own name carries the driver the row states
        assert url.endswith(f"cuda_{release.version}_{release.linux_min_driver}_linux.run"), url


@pytest.mark.parametrize(
    "cuda, driver, status",
    [
        ("12.3.2", "545.23.08", "derived"),  # = 12.3.1's Table 3 floor
        ("12.9.2", "575.57.08", "derived"),
        ("13.1.2", "590.48.01", "derived"),
        ("12.8.2", "570.211.01", "unconfirmed"),  # bundles a newer driver than 12.8.1's floor: not a stated minimum
        ("13.0.3", "580.126.20", "unconfirmed"),
        ("13.3.0", "610.43.02", "confirmed"),  # third-party table copies + the runfile name agree
        ("13.3.1", "610.43.02", "confirmed"),
    ],
)
def test_patch_releases_from_runfile_names(kb: KnowledgeBase, cuda: str, driver: str, status: str) -> None:
    release = find_toolkit_release(kb.toolkit_releases, V(cuda))
    assert release.linux_min_driver == V(driver) and release.provenance.status == status
    assert _runfile_sources(release)


def test_a_bundled_driver_does_not_raise_the_floor_of_an_unknown_update(kb: KnowledgeBase) -> None:
    # torch's cu128 / cu130 wheels report "12.8" / "13.0": the confirmed Table 3 rows decide.
    assert kb.driver_requirement(V("12.8")).native == V("570.124.06")
    assert kb.driver_requirement(V("13.0")).native == V("580.95.05")
    assert kb.driver_requirement(V("12.8.2")).native == V("570.211.01")


@pytest.mark.parametrize(
    "cuda, linux, windows",
    [
        ("8.0.44", "367.48", "369.30"),
        ("9.1.85", "390.46", "391.29"),
        ("10.2.89", "440.33", "441.22"),
        ("11.0.2", "450.51.05", "451.48"),
        ("11.8.0", "520.61.05", "520.06"),
        ("12.0.0", "525.60.13", "527.41"),
        ("12.4.0", "550.54.14", "551.61"),
        ("12.4.1", "550.54.15", "551.78"),
        ("12.9.1", "575.57.08", "576.57"),
        ("13.0.0", "580.65.06", None),
        ("13.2.2", "595.71.05", None),
        ("13.3.0", "610.43.02", None),
    ],
)
def test_known_floors(kb: KnowledgeBase, cuda: str, linux: str, windows: str | None) -> None:
    release = find_toolkit_release(kb.toolkit_releases, V(cuda))
    assert release.linux_min_driver == V(linux)
    assert release.windows_min_driver == (V(windows) if windows else None)


def test_short_version_is_the_ga_row(kb: KnowledgeBase) -> None:
    assert find_toolkit_release(kb.toolkit_releases, V("12.4")).version == V("12.4.0")
    assert find_toolkit_release(kb.toolkit_releases, V("11.0")).label == "CUDA 11.0.2 GA"
    assert find_toolkit_release(kb.toolkit_releases, V("13.4")).version.parts == (13, 4, 1)  # 13.4.0 was a preview
    assert find_toolkit_release(kb.toolkit_releases, V("10.1.243")).kind == "family"
    assert find_toolkit_release(kb.toolkit_releases, V("12.7")) is None


@pytest.mark.parametrize(
    "cuda, native, exact, minor_compat, status",
    [
        ("12.4.0", "550.54.14", True, "525.60.13", "confirmed"),
        ("12.4.1", "550.54.15", True, "525.60.13", "confirmed"),
        # unknown update: the highest floor of the line is the conservative one
        ("12.4", "550.54.15", True, "525.60.13", "confirmed"),
        ("12.6", "560.35.05", True, "525.60.13", "confirmed"),
        ("11.8", "520.61.05", True, "450.80.02", "confirmed"),
        ("10.2", "440.33", True, None, "confirmed"),
        ("10.1.243", "418.39", True, None, "confirmed"),
        # a branch, not a patch-level floor
        ("13.4", "615", False, "580", "third-party"),
        ("13.4.0", "616.00", True, "580", "third-party"),
        # a release without a Table 3 row says so
        ("12.4.127", "550.54.15", True, "525.60.13", "unconfirmed"),
        # 13.0.3's third-party 580.126.20 is not taken as the line's floor over confirmed rows
        ("13.0", "580.95.05", True, "580", "confirmed"),
        ("13.0.3", "580.126.20", True, "580", "unconfirmed"),
        ("13.5", None, False, "580", "unconfirmed"),
        ("12.7", None, False, "525.60.13", "unconfirmed"),
        ("14.0", None, False, None, "unconfirmed"),
    ],
)
def test_driver_requirement(kb, cuda, native, exact, minor_compat, status) -> None:
    req = kb.driver_requirement(V(cuda))
    assert req.native == (V(native) if native else None)
    assert req.exact is exact
    assert req.minor_compat == (V(minor_compat) if minor_compat else None)
    assert req.provenance.status == status
    assert bool(req.provenance.sources) == bool(req.native or req.minor_compat)  # nothing known, nothing cited
    if status == "unconfirmed":
        assert req.provenance.note


def test_driver_requirement_windows(kb: KnowledgeBase) -> None:
    req = kb.driver_requirement(V("12.4.1"), platform="windows")
    assert (req.native, req.minor_compat) == (V("551.78"), V("528.33"))
    req = kb.driver_requirement(V("13.0.2"), platform="windows")
    assert req.native is None and req.minor_compat == V("580") and req.provenance.status == "unconfirmed"
    with pytest.raises(ValueError):
        kb.driver_requirement(V("12.4"), platform="macos")


# --- minor-version compatibility floors --------------------------------------------------


@pytest.mark.parametrize(
    "major, platform, driver, exact",
    [
        (11, "linux", "450.80.02", True),
        (11, "windows", "452.39", True),
        (12, "linux", "525.60.13", True),
        (12, "windows", "528.33", True),  # conflict 527.41 vs 528.33: the higher one
        (13, "linux", "580", False),
        (13, "windows", "580", False),
    ],
)
def test_minor_compat_floors(kb, major, platform, driver, exact) -> None:
    floor = find_minor_compat_floor(kb.minor_compat_floors, major, platform)
    assert floor.driver == V(driver) and floor.exact is exact
    assert floor.provenance.sources


def test_minor_compat_floor_conflict_is_recorded(kb: KnowledgeBase) -> None:
    floor = find_minor_compat_floor(kb.minor_compat_floors, 12, "windows")
    assert "527.41" in floor.provenance.conflict and "528.33" in floor.provenance.chosen
    assert find_minor_compat_floor(kb.minor_compat_floors, 10, "linux") is None


@pytest.mark.parametrize("row", params(FACTS.get("minor_compat_floor", []), ids=lambda r: r["major"]))
def test_minor_compat_floors_match_the_reference(kb: KnowledgeBase, row: dict) -> None:
    floor = find_minor_compat_floor(kb.minor_compat_floors, int(row["major"].split(".")[0]), "linux")
    exact = re.search(r">=(\d+\.\d+\.\d+)", row["linux_exact"])
    assert floor.driver == V(exact.group(1) if exact else row["min_driver"].lstrip(">="))


# --- driver branches ---------------------------------------------------------------------


@pytest.mark.parametrize("row", params(FACTS.get("driver_branch_max_cuda", []), ids=lambda r: r["branch"]))
def test_every_branch_matches_the_reference(kb: KnowledgeBase, row: dict) -> None:
    branch = int(row["branch"].lstrip("R"))
    listed = next(b for b in kb.driver_branches if b.branch == branch)
    if re.fullmatch(r"\d+\.\d+", row["max_cuda"]):
        assert listed.max_cuda == V(row["max_cuda"])
        assert kb.max_cuda_for_driver(V(f"{branch}.10")) == V(row["max_cuda"])
    else:
        assert listed.max_cuda is None and listed.provenance.status == "unconfirmed"
    assert set(row["source"]) <= set(listed.provenance.sources)


@pytest.mark.parametrize(
    "driver, platform, branch, max_cuda, lower_bound",
    [
        ("550.54.15", "linux", 550, "12.4", False),
        ("418.39", "linux", 418, "10.1", False),
        ("565.57.01", "linux", 565, "12.7", False),
        ("580.95.05", "linux", 580, "13.0", False),
        ("610.57.04", "linux", 610, "13.3", False),
        ("616.00", "linux", 616, "13.4", True),  # developer branch
        ("620.10", "linux", 620, "13.4", True),  # listed, max CUDA unconfirmed: lower bound
        ("551.78", "linux", 551, "12.4", True),  # a Linux number is its branch, known or not
        # facts §1b: Windows numbers run ahead of the branch (551.78 is R550, 536.25 R535, 576.57 R575)
        ("551.78", "windows", 550, "12.4", False),
        ("536.40", "windows", 535, "12.2", False),
        ("576.57", "windows", 575, "12.9", False),
        ("527.41", "windows", 525, "12.0", False),
        ("452.39", "windows", 450, "11.0", False),
        ("581.57", "windows", 580, "13.0", False),
        ("621.10", "windows", 620, "13.4", True),  # R620's max CUDA is unconfirmed: R615's, at least
    ],
)
def test_driver_branch(kb, driver, platform, branch, max_cuda, lower_bound) -> None:
    found = kb.driver_branch(V(driver), platform)
    assert kb.branch_of(V(driver), platform) == branch
    assert found.branch == branch
    assert found.max_cuda == V(max_cuda)
    assert found.lower_bound is lower_bound
    assert kb.max_cuda_for_driver(V(driver), platform) == V(max_cuda)


def test_driver_older_than_every_known_branch(kb: KnowledgeBase) -> None:
    assert kb.driver_branch(V("340.108")) is None
    assert kb.max_cuda_for_driver(V("340.108")) is None
    assert kb.branch_of(V("340.108"), "windows") is None  # a Windows number needs a known branch below it
    assert kb.branch_of(V("340.108")) == 340


def test_a_branch_reports_at_least_every_cuda_it_was_bundled_with(kb: KnowledgeBase) -> None:
    for release in kb.toolkit_releases:
        if release.branch is not None:
            assert kb.max_cuda_for_driver(V(str(release.branch))) >= release.version.truncate(2), release.label
