"""A Dockerfile what-if judges the image, not the machine running preflight (issue 14): this
machine's nvcc and frameworks stay apart, an unpinned torch reads as such, and the wheel inside
an arm64 image is an aarch64 one."""

from __future__ import annotations

from pathlib import Path

from gpu_preflight.checks.diagnose import Report, diagnose
from gpu_preflight.core.host import Framework
from gpu_preflight.images.resolve import collect_image_requests, resolve_images
from gpu_preflight.knowledge import load_knowledge

from support.scenarios import RTX3080, host

KB = load_knowledge()


def _doctor(tmp_path: Path, dockerfile: str, machine=None) -> Report:
    path = tmp_path / "Dockerfile"
    path.write_text(dockerfile)
    machine = machine or host(
        "570.124.06",
        RTX3080,
        driver_cuda="12.8",
        toolkits=("13.0.88",),  # nvcc of the machine running preflight: not in the image
        frameworks=(Framework(name="torch", version="2.13.0+cpu", variant="cpu", source="metadata"),),
    )
    images = resolve_images(collect_image_requests(dockerfiles=[str(path)]), KB, machine, socket_path="")
    return diagnose(machine, images=images, with_plan=False)


UNPINNED = "FROM nvidia/cuda:12.4.1-runtime-ubuntu22.04\nRUN pip install torch\n"


def test_unpinned_torch_in_a_dockerfile_is_the_default_wheel_at_build_time(tmp_path) -> None:
    report = _doctor(tmp_path, UNPINNED)
    (summary,) = [f for f in report.findings if f.code == "image"]
    assert "torch None" not in summary.title and "torch (unpinned)" in summary.title
    assert summary.evidence["torch"] is None and summary.evidence["torch_unpinned"] == "any"
    (assumed,) = [f for f in report.findings if f.code == "target-assumed"]
    assert assumed.fix == ["pip install torch==2.14.* --index-url https://download.pytorch.org/whl/cu130"]
    # facts §1c / §9.5: the 13.0 default needs >= 580; this R570 host fails it, whatever the base image's 12.4
    assert any(f.cause == "driver-too-old" and "CUDA 13.0" in f.title for f in report.findings)


def test_this_machines_toolkit_and_frameworks_are_not_the_images(tmp_path) -> None:
    report = _doctor(tmp_path, UNPINNED)
    toolkit = [f for f in report.findings if f.code.startswith("toolkit")]
    assert [f.severity.label for f in toolkit] == ["info"]
    assert "on this machine, not in the image" in toolkit[0].title
    assert not [f for f in report.findings if "2.13.0+cpu" in f.title]  # this machine's torch is not judged
    (confusion,) = [f for f in report.findings if f.code == "cuda-version-confusion"]
    assert "nvcc" not in " ".join(confusion.evidence) and "'s CUDA" in " ".join(confusion.evidence)


def test_the_wheel_inside_an_arm64_image_is_the_aarch64_one(tmp_path) -> None:
    """GH200 / GB200 images are linux/arm64: torch 2.13's default wheel there is cu130 with the
    aarch64 architecture list (sm_80, sm_90, ...), not the x86_64 one."""
    dockerfile = "FROM --platform=linux/arm64 nvidia/cuda:12.4.1-runtime-ubuntu22.04\nRUN pip install torch==2.13.0\n"
    report = _doctor(tmp_path, dockerfile)
    coverage = [f for f in report.findings if f.code == "arch-coverage"]
    assert coverage and coverage[0].evidence["archs"] == str(KB.torch_wheel("2.13.0", None, "linux-aarch64").archs)


def test_the_page_says_the_host_rows_are_not_the_images(tmp_path) -> None:
    from gpu_preflight.report.terminal import render_report

    page = render_report(_doctor(tmp_path, UNPINNED))
    table = page.split("CUDA versions", 1)[1].split("GPUs", 1)[0]
    assert "3-5 are this host's, not the image's" in table
    assert "torch None" not in page
