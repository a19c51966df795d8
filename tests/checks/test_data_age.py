"""checks/data_age.py: a release newer than the knowledge base says the data is stale, undated."""

from __future__ import annotations

import pytest

from gpu_preflight.checks.context import CheckContext
from gpu_preflight.checks.data_age import check_data_age
from gpu_preflight.core.findings import Severity
from gpu_preflight.core.versions import Version
from gpu_preflight.targets.model import CudaTarget

from support.scenarios import H100, host, installed_torch


def findings(h, targets=()) -> list:
    return list(check_data_age(CheckContext(host=h, targets=tuple(targets))))


def test_releases_the_base_holds_say_nothing() -> None:
    h = host("580.95.05", H100, driver_cuda="13.0", toolkits=("13.0.88",))
    h.frameworks = [installed_torch("2.9.0+cu130", "cu130", "13.0")]
    assert findings(h) == []


def test_a_driver_branch_newer_than_the_base() -> None:
    [finding] = findings(host("650.12", H100))
    assert finding.severity == Severity.WARN and finding.code == "data-age"
    newest = max(b.branch for b in CheckContext(host=host(None)).kb.driver_branches)
    assert f"R650; newest branch known: R{newest}" in finding.title
    # honest about what offline cannot know
    assert "cannot be told offline" in finding.detail
    assert finding.evidence["data_date"] and finding.evidence["newest_source_date"]


@pytest.mark.parametrize(
    "h, targets, says",
    [
        (host("580.95.05", H100, toolkits=("13.9.41",)), (), "toolkit 13.9"),
        (host("580.95.05", H100), (CudaTarget(Version.parse("14.1"), "--cuda"),), "target CUDA 14.1"),
    ],
)
def test_cuda_newer_than_the_base(h, targets, says: str) -> None:
    [finding] = findings(h, targets)
    assert says in finding.title


def test_torch_newer_than_the_base_is_one_finding_with_every_release() -> None:
    h = host("700.1", H100)
    h.frameworks = [installed_torch("2.99.0+cu150", "cu150", "15.0")]
    [finding] = findings(h)
    assert "R700" in finding.title and "torch 2.99" in finding.title
    assert finding.detail.startswith("These releases came out after its data was compiled")


def test_a_windows_driver_number_is_not_a_branch() -> None:
    # Windows drivers are numbered above their branch (581.xx is R580): not "newer than the base"
    assert findings(host("621.15", H100, platform="windows")) == []
