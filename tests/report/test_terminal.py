"""The terminal renderer: doctor's checklist grouped by layer, -v's evidence, the building blocks
fit and db print through."""

from __future__ import annotations

import io

from gpu_preflight.checks.diagnose import Report
from gpu_preflight.core.findings import Finding, Severity
from gpu_preflight.core.host import Host
from gpu_preflight.report.terminal import Style, evidence_rows, finding_lines, render_report, table_lines

HEADINGS = ("Driver", "GPUs", "Framework builds", "Container and images", "CUDA toolkit", "Model memory", "Other")


def _style() -> Style:
    return Style(io.TextIOWrapper(io.BytesIO(), encoding="utf-8"))  # not a terminal: no colour, ✓ marks


def _report() -> Report:
    # Worst first, as diagnose() sorts them; every layer plus a code no table knows.
    findings = [
        Finding(code="fit-out-of-memory", severity=Severity.FAIL, title="does not fit", fix=["--context 4096"]),
        Finding(code="arch-missing", severity=Severity.FAIL, title="no code for sm_120"),
        Finding(code="brand-new-check", severity=Severity.WARN, title="something new"),
        Finding(code="driver-runtime", severity=Severity.WARN, title="minor-version compatibility"),
        Finding(code="image", severity=Severity.INFO, title="image facts", detail="from the registry"),
        Finding(code="toolkit", severity=Severity.INFO, title="nvcc 12.4"),
        Finding(
            code="driver",
            severity=Severity.PASS,
            title="driver 550.54.15",
            detail="Reported by nvml.",
            evidence={"driver_version": "550.54.15", "driver_cuda": "12.4"},
        ),
        Finding(
            code="gpu",
            severity=Severity.PASS,
            title="GPU 0: Tesla T4",
            evidence={"memory_total_mib": 15360, "uuid": None, "bytes": {"weights": 10, "total": 12}},
        ),
        Finding(code="arch-coverage", severity=Severity.PASS, title="has sm_75"),
    ]
    return Report(host=Host(hostname="box", source="snapshot"), findings=findings)


def _checks(text: str) -> list[str]:
    lines = text.splitlines()
    return lines[lines.index("Checks") + 1 : -2]


def test_doctor_groups_the_checklist_by_layer_in_reading_order():
    checks = _checks(render_report(_report(), _style()))
    headings = [line.strip().split(" (")[0] for line in checks if not line.startswith("    ")]
    assert headings == list(HEADINGS)


def test_each_group_keeps_failures_first_and_counts_its_problems():
    checks = _checks(render_report(_report(), _style()))
    builds = checks.index("  Framework builds (1 failed, 1 warning(s))")
    assert checks[builds + 1 : builds + 4] == [
        "    [✗] no code for sm_120",
        "    [!] minor-version compatibility",
        "    [✓] has sm_75",
    ]
    assert "  Driver" in checks and "  Model memory (1 failed)" in checks and "  Other (1 warning(s))" in checks


def test_the_status_line_still_names_the_worst():
    assert render_report(_report(), _style()).splitlines()[-1] == "Status: FAIL (2 failed, 2 warning(s), 3 passed)"


def test_verbose_shows_each_findings_evidence_under_it():
    text = render_report(_report(), _style(), verbose=True)
    checks = _checks(text)
    driver = checks.index("    [✓] driver 550.54.15")
    assert checks[driver + 1 : driver + 5] == [
        "        Reported by nvml.",  # a pass line's detail, too
        "        evidence:",
        "          driver_version: 550.54.15",
        "          driver_cuda: 12.4",
    ]
    gpu = checks.index("    [✓] GPU 0: Tesla T4")
    assert checks[gpu + 1 : gpu + 6] == [
        "        evidence:",
        "          memory_total_mib: 15360",
        "          uuid: null",
        "          bytes.weights: 10",
        "          bytes.total: 12",
    ]
    assert text.count("evidence:") == 2  # only findings that carry some


def test_without_verbose_no_evidence_and_no_pass_detail():
    text = render_report(_report(), _style())
    assert "evidence" not in text and "driver_version" not in text and "550.54.15\n    " not in text
    assert "Reported by nvml." not in text
    assert "        from the registry" in text and "        fix: --context 4096" in text


def test_evidence_values_are_written_as_json_writes_them():
    rows = evidence_rows({"name": "Tesla T4", "ok": True, "list": ["a", 1], "empty": {}, "odd": "a\nb"})
    assert rows == [("name", "Tesla T4"), ("ok", "true"), ("list", '["a", 1]'), ("empty", "{}"), ("odd", '"a\\nb"')]


def test_a_flat_finding_starts_at_the_margin():
    finding = Finding(code="fit", severity=Severity.WARN, title="t", detail="d", fix=["f"])
    assert finding_lines(finding, _style()) == ["[!] t", "    d", "    fix: f"]


def test_tables_align_their_values():
    assert table_lines([("a", "1"), ("longer", "2")]) == ["  a       1", "  longer  2"]
