"""fit's text: the plan table is fit_plan's own; the findings and status line are terminal.py's."""

from __future__ import annotations

import io

from gpu_preflight.fit import fit_devices, fit_findings, plan_memory, resolve_model
from gpu_preflight.report.fit_plan import render_fit_text
from gpu_preflight.report.terminal import Style, checklist_lines, status_line

from support.fit_inputs import gpu, host


def _style() -> Style:
    return Style(io.TextIOWrapper(io.BytesIO(), encoding="utf-8"))


def test_fit_text_prints_findings_through_the_one_checklist_renderer():
    plan = plan_memory(resolve_model("Qwen2.5-7B-Instruct"), dtype="float16", context=8192)
    machine = host(gpu("Tesla T4", 16384, cc="7.5"), gpu("NVIDIA H100 80GB HBM3", 81559, cc="9.0"))
    devices = fit_devices(plan, machine)
    findings = fit_findings(plan, machine, devices)
    style = _style()
    lines = render_fit_text(plan, devices, findings, style).splitlines()
    checklist = checklist_lines(findings, style)
    start = lines.index("Checks")
    assert lines[start : start + len(checklist)] == checklist
    assert lines[-1] == status_line(findings, style) == "Status: WARN (0 failed, 1 warning(s), 1 passed)"


def test_the_plan_table_is_in_gib_with_two_decimals():
    plan = plan_memory(resolve_model("VibeThinker-1.5B"), context=4096, engine="transformers")
    machine = host(gpu("Tesla T4", 16384, cc="7.5"))
    text = render_fit_text(plan, fit_devices(plan, machine), [], _style())
    assert "GPU 0: Tesla T4  (16.00 of 16.00 GiB free)" in text
    assert "  usable         16.00 GiB (free): fits" in text
