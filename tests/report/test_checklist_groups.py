"""The one table from finding code to checklist layer: complete, honest, and in reading order."""

from __future__ import annotations

import re

from gpu_preflight.core.findings import Finding, Severity
from gpu_preflight.report.layers import LAYER_OF_CODE, Layer, group_by_layer, layer_of

from support.paths import ROOT

SOURCE = ROOT / "src" / "gpu_preflight"
CODE = re.compile(r'\bcode="([a-z0-9-]+)"')


def _emitted_codes() -> set[str]:
    return {code for path in SOURCE.rglob("*.py") for code in CODE.findall(path.read_text(encoding="utf-8"))}


def test_every_code_the_checks_emit_has_a_layer():
    missing = _emitted_codes() - LAYER_OF_CODE.keys()
    assert not missing, f"add these codes to report/layers.py LAYER_OF_CODE: {sorted(missing)}"


def test_the_table_names_no_code_that_nothing_emits():
    assert LAYER_OF_CODE.keys() <= _emitted_codes()


def test_an_unknown_code_is_other():
    assert layer_of("no-such-code") is Layer.OTHER


def test_layers_read_driver_first_memory_then_other_last():
    assert [layer.value for layer in Layer] == [
        "Driver",
        "GPUs",
        "Framework builds",
        "Container and images",
        "CUDA toolkit",
        "Model memory",
        "Other",
    ]


def test_groups_come_in_reading_order_and_keep_the_findings_order():
    findings = [
        Finding(code="fit-out-of-memory", severity=Severity.FAIL, title="oom"),
        Finding(code="mystery", severity=Severity.FAIL, title="mystery"),
        Finding(code="arch-missing", severity=Severity.FAIL, title="no sm_120"),
        Finding(code="driver-runtime", severity=Severity.WARN, title="minor compat"),
        Finding(code="gpu", severity=Severity.PASS, title="gpu 0"),
        Finding(code="arch-coverage", severity=Severity.PASS, title="has sm_90"),
        Finding(code="driver", severity=Severity.PASS, title="driver"),
    ]
    groups = group_by_layer(findings)
    assert [layer for layer, _ in groups] == [Layer.DRIVER, Layer.GPUS, Layer.BUILDS, Layer.MEMORY, Layer.OTHER]
    assert [f.title for f in dict(groups)[Layer.BUILDS]] == ["no sm_120", "minor compat", "has sm_90"]
