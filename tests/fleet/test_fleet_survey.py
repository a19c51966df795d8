"""Reading and judging fleets: host documents (files, directories, JSON Lines, stdin), the real
nvidia-smi XML dumps, mixed fleets, the shape cache, the summary and exit codes."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from gpu_preflight.core.host import Framework
from gpu_preflight.fleet import HostInput, Unreadable, read_hostfiles, survey
from gpu_preflight.fleet.judge import FleetJudge, shape_key
from gpu_preflight.fleet.sources import _stdin, read_document
from gpu_preflight.targets.specs import collect_targets

from support.host_docs import A100, H100, K80, RTX5090, T4, host_doc, write_docs, write_lines
from support.paths import MISSING, REAL

TORCH = collect_targets(torch=["2.4.1+cu121"])


def mixed_fleet() -> list[dict]:
    return [
        host_doc("h100-a", "550.54.15", "12.4", H100, count=8, serial=1),  # pass
        host_doc("h100-b", "550.54.15", "12.4", H100, count=8, serial=2, used_mib=4000),  # same shape as h100-a
        host_doc("a100-old", "470.256.02", "11.4", A100, serial=3),  # driver-too-old
        host_doc("k80", "470.256.02", "11.4", K80, count=2, serial=4),  # driver-too-old + gpu-too-old
        host_doc("rtx5090", "570.124.04", "12.8", RTX5090, serial=5),  # no-kernel-image in a cu121 wheel
        host_doc("t4-minor", "525.147.05", "12.0", T4, serial=6),  # minor-version compatibility: warn
        host_doc("mixed-gpus", "550.54.15", "12.4", H100, RTX5090, serial=7),  # the 5090 lacks code and needs R570
    ]


def by_name(report) -> dict:
    return {h.name: h.verdict for h in report.hosts}


def test_mixed_fleet_statuses_and_causes(tmp_path: Path) -> None:
    write_docs(tmp_path / "hosts", mixed_fleet())
    report = survey(read_hostfiles([str(tmp_path / "hosts")]), TORCH)
    verdicts = by_name(report)
    assert list(verdicts) == ["h100-a", "h100-b", "a100-old", "k80", "rtx5090", "t4-minor", "mixed-gpus"]
    assert verdicts["h100-a"].status == verdicts["h100-b"].status == "pass"
    assert verdicts["a100-old"].status == "fail" and verdicts["a100-old"].causes == ("driver-too-old",)
    assert verdicts["k80"].status == "fail" and {"driver-too-old", "gpu-too-old"} <= set(verdicts["k80"].causes)
    assert verdicts["rtx5090"].status == "fail" and "no-kernel-image" in verdicts["rtx5090"].causes
    assert verdicts["t4-minor"].status == "warn"
    assert verdicts["mixed-gpus"].status == "fail" and "no-kernel-image" in verdicts["mixed-gpus"].causes
    assert verdicts["h100-a"].gpus == "8x NVIDIA H100 80GB HBM3 (CC 9.0)"
    assert verdicts["mixed-gpus"].gpus == "1x NVIDIA H100 80GB HBM3 (CC 9.0), 1x NVIDIA GeForce RTX 5090 (CC 12.0)"

    summary = report.summary()
    assert (summary["hosts"], summary["pass"], summary["warn"], summary["fail"]) == (7, 2, 1, 4)
    assert summary["by_cause"]["driver-too-old"] == 3 and summary["by_cause"]["no-kernel-image"] == 2
    assert summary["shapes"] == 6  # h100-a and h100-b share one
    assert [h.name for h in report.ready()] == ["h100-a", "h100-b", "t4-minor"]
    assert report.exit_code() == 1


def test_every_problem_names_its_target() -> None:
    targets = collect_targets(torch=["2.4.1+cu121"], cuda=["12.4"])
    report = survey([HostInput("old", "t", doc=host_doc("old", "470.256.02", "11.4", A100))], targets)
    problems = report.hosts[0].verdict.problems
    assert {p["target"] for p in problems if p["cause"] == "driver-too-old"} == {
        "torch 2.4.1+cu121",
        "CUDA 12.4 runtime",
    }


def test_strict_makes_warnings_fail() -> None:
    doc = host_doc("t4", "525.147.05", "12.0", T4)
    assert survey([HostInput("t4", "t", doc=doc)], TORCH).exit_code() == 0
    strict = survey([HostInput("t4", "t", doc=doc)], TORCH, strict=True)
    assert strict.exit_code() == 1 and strict.ready() == []


def test_all_pass_exits_0_and_no_target_judges_installed_frameworks() -> None:
    docs = [host_doc(f"n{i}", "550.54.15", "12.4", H100, serial=i) for i in range(3)]
    report = survey([HostInput(d["hostname"], "t", doc=d) for d in docs], ())
    assert report.exit_code() == 0 and report.targets == [] and report.summary()["pass"] == 3
    cpu_torch = Framework(name="torch", version="2.4.1+cpu", variant="cpu")
    doc = host_doc("cpu-wheel", "550.54.15", "12.4", H100, frameworks=(cpu_torch,))
    assert "cpu-only-build" in survey([HostInput("x", "t", doc=doc)], ()).hosts[0].verdict.causes


# --- the shape cache ---------------------------------------------------------------------------


def test_shape_ignores_identity_and_momentary_use_only() -> None:
    a = host_doc("a", "550.54.15", "12.4", H100, count=2, serial=1, used_mib=0)
    b = host_doc("b", "550.54.15", "12.4", H100, count=2, serial=2, used_mib=5000)
    assert shape_key(a) == shape_key(b)
    assert shape_key(a) != shape_key(host_doc("a", "550.54.15", "12.4", H100, count=1, serial=1))
    assert shape_key(a) != shape_key(host_doc("a", "550.127.05", "12.4", H100, count=2, serial=1))
    # CUDA_VISIBLE_DEVICES may name GPUs by UUID: then UUIDs are part of the shape
    env = {"CUDA_VISIBLE_DEVICES": "GPU-00000001"}
    assert shape_key(host_doc("a", "550.54.15", "12.4", H100, serial=1, env=env)) != shape_key(
        host_doc("b", "550.54.15", "12.4", H100, serial=2, env=env)
    )


def test_cached_verdicts_equal_uncached_ones() -> None:
    """Every host judged through one cache gets what a fresh judge gives it alone."""
    docs = [doc for serial in range(3) for doc in mixed_fleet()]
    for number, doc in enumerate(docs):
        for gpu in doc["gpus"]:
            gpu["uuid"], gpu["memory_used_mib"] = f"GPU-{number:04d}-{gpu['index']}", number * 7 % 3000
    shared = FleetJudge(TORCH)
    for number, doc in enumerate(docs):
        item = HostInput(doc["hostname"], f"doc {number}", doc=doc)
        assert shared.verdict(item) == FleetJudge(TORCH).verdict(item)
    assert shared.judged == 6


def test_compute_capability_filled_from_the_product_name() -> None:
    doc = host_doc("no-cc", "550.54.15", "12.4", H100, with_cc=False)
    assert (
        survey([HostInput("no-cc", "t", doc=doc)], TORCH).hosts[0].verdict.gpus == "1x NVIDIA H100 80GB HBM3 (CC 9.0)"
    )


# --- reading ------------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_in_a_directory_is_skipped_not_read(tmp_path: Path) -> None:
    """Opening a FIFO blocks until someone writes to it: a directory walk must not hang on one."""
    write_docs(tmp_path / "dir", mixed_fleet()[:1])
    os.mkfifo(tmp_path / "dir" / "c.json")
    assert [i.name for i in read_hostfiles([str(tmp_path / "dir")])] == ["h100-a"]


def test_directory_json_lines_and_names(tmp_path: Path) -> None:
    docs = mixed_fleet()
    write_docs(tmp_path / "dir" / "rack-1", docs[:3])
    (tmp_path / "dir" / ".hidden.json").write_text("garbage")
    (tmp_path / "dir" / "README.md").write_text("not a host")
    anonymous = host_doc(None, "550.54.15", "12.4", H100)
    write_lines(tmp_path / "more.jsonl", [*docs[3:], anonymous])
    (tmp_path / "single.json").write_text(json.dumps(anonymous))
    items = list(read_hostfiles([str(tmp_path / "dir"), str(tmp_path / "more.jsonl"), str(tmp_path / "single.json")]))
    assert all(isinstance(i, HostInput) for i in items)
    assert [i.name for i in items] == [
        "h100-a",
        "h100-b",
        "a100-old",
        "k80",
        "rtx5090",
        "t4-minor",
        "mixed-gpus",
        f"{tmp_path / 'more.jsonl'}:5",
        "single",
    ]
    assert items[3].source == f"{tmp_path / 'more.jsonl'}:1"


def test_json_lines_without_the_suffix_and_doctor_reports(tmp_path: Path) -> None:
    docs = mixed_fleet()[:2]
    path = write_lines(tmp_path / "fleet.json", docs)
    assert [i.name for i in read_hostfiles([str(path)])] == ["h100-a", "h100-b"]
    report_doc = {"schema": "gpu-preflight/report/v1", "status": "pass", "host": docs[0], "findings": []}
    assert [i.name for i in read_document(json.dumps(report_doc).encode(), "r.json", "r")] == ["h100-a"]


def test_stdin_is_streamed_line_by_line_or_read_whole() -> None:
    docs = mixed_fleet()[:3]
    lines = io.BytesIO(b"\n" + "".join(json.dumps(d) + "\n" for d in docs).encode() + b"oops\n")
    items = list(_stdin(lines))
    assert [type(i).__name__ for i in items] == ["HostInput"] * 3 + ["Unreadable"]
    assert items[0].source == "-:2" and items[3].source == "-:5"
    pretty = io.BytesIO(json.dumps(docs[0], indent=2).encode())
    assert [i.name for i in _stdin(pretty)] == ["h100-a"]
    assert isinstance(next(_stdin(io.BytesIO(b"  \n"))), Unreadable)


def test_garbage_among_good_hosts_is_recorded_and_the_survey_goes_on(tmp_path: Path) -> None:
    write_docs(tmp_path / "hosts", mixed_fleet()[:2])
    (tmp_path / "hosts" / "garbage.json").write_bytes(b"\x00\x01 not json")
    (tmp_path / "hosts" / "empty.json").write_text("")
    (tmp_path / "hosts" / "other.json").write_text('{"hello": "world"}')
    (tmp_path / "hosts" / "bad-type.json").write_text(json.dumps({**mixed_fleet()[0], "gpus": "eight"}))
    (tmp_path / "hosts" / "bad.xml").write_text("<nvidia_smi_log><gpu>")
    write_lines(tmp_path / "hosts" / "lines.jsonl", [mixed_fleet()[2]])
    with open(tmp_path / "hosts" / "lines.jsonl", "a") as fh:
        fh.write("{truncated\n")
    report = survey(read_hostfiles([str(tmp_path / "hosts")]), TORCH)
    assert sorted(h.name for h in report.hosts) == ["a100-old", "h100-a", "h100-b"]
    messages = {Path(u.source.split(":")[0]).name: u.message for u in report.unreadable}
    assert set(messages) == {"garbage.json", "empty.json", "other.json", "bad-type.json", "bad.xml", "lines.jsonl"}
    assert "not a host document" in messages["other.json"] and "at $.gpus: expected a list" in messages["bad-type.json"]
    assert report.exit_code() == 2  # incomplete survey, even though a host also fails


def test_a_bad_document_of_a_known_shape_is_still_judged_by_its_shape() -> None:
    """Fields no check reads are validated with the first document of a shape only (documented)."""
    good = host_doc("a", "550.54.15", "12.4", H100, serial=1)
    odd = host_doc("b", "550.54.15", "12.4", H100, serial=2)
    odd["gpus"][0]["uuid"] = 12345
    report = survey([HostInput("a", "1", doc=good), HostInput("b", "2", doc=odd)], TORCH)
    assert [h.verdict.status for h in report.hosts] == ["pass", "pass"]
    alone = survey([HostInput("b", "2", doc=odd)], TORCH)
    assert alone.hosts == [] and "at $.gpus[0].uuid: expected a string" in alone.unreadable[0].message


# --- the real nvidia-smi XML dumps ----------------------------------------------------------------


@pytest.fixture(scope="module")
def xml_report():
    folder = REAL / "nvidia-smi-xml"
    if not folder.is_dir():
        pytest.skip(MISSING)
    return folder, survey(read_hostfiles([str(folder)]), TORCH)


def test_every_real_xml_dump_is_a_judged_host(xml_report) -> None:
    folder, report = xml_report
    assert not report.unreadable
    assert [h.name for h in report.hosts] == sorted(p.stem for p in folder.glob("*.xml"))
    assert report.summary()["hosts"] == len(report.hosts) == report.shapes
    for host in report.hosts:
        assert "CC " in host.verdict.gpus, f"{host.name}: compute capability not resolved ({host.verdict.gpus})"


def test_real_xml_verdicts(xml_report) -> None:
    _, report = xml_report
    verdicts = by_name(report)
    assert "gpu-too-old" in verdicts["pai__4x-tesla-k80__430.26__cuda-version-not-found"].causes
    assert verdicts["pai__4x-tesla-k80__430.26__cuda-version-not-found"].gpus == "4x Tesla K80 (CC 3.7)"
    assert "no-kernel-image" in verdicts["telegraf__rtx-pro-6000-blackwell-maxq__590.44.01__v13"].causes
    # a GPU newer than its driver is "Graphics Device": resolved by PCI device id
    assert verdicts["telegraf__gtx-1660-ti__418.43"].gpus == "1x Graphics Device (CC 7.5)"
    assert verdicts["telegraf__rtx-4000-sff-ada__595.84__v13"].status == "pass"


def test_the_knowledge_base_is_loaded_once_per_survey(monkeypatch: pytest.MonkeyPatch) -> None:
    import gpu_preflight.knowledge as knowledge

    built = []

    class Counting(knowledge.KnowledgeBase):
        def __init__(self, *args, **kwargs) -> None:
            built.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(knowledge, "KnowledgeBase", Counting)
    knowledge.clear_cache()
    try:
        report = survey([HostInput(d["hostname"], "t", doc=d) for d in mixed_fleet()], TORCH)
    finally:
        knowledge.clear_cache()
    assert report.shapes == 6 and len(built) == 1


def test_a_host_that_could_not_be_judged_is_not_ready() -> None:
    """A dump that lists GPUs but not the driver version warns; it must not be scheduled on."""
    known = host_doc("known", "550.54.15", "12.4", A100)
    unknown = host_doc("unknown", None, None, A100)
    report = survey([HostInput("known", "t", doc=known), HostInput("unknown", "t", doc=unknown)], TORCH)
    assert by_name(report)["unknown"].status == "warn"
    assert [h.name for h in report.ready()] == ["known"]
