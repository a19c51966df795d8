"""The doctor report document (docs/architecture.md, "Contracts"): every report the scenario table
and the real XML hosts produce has the documented shape, and every finding's cause is a taxonomy
id or null. The taxonomy is read from the project's original specification (../shared/design.md,
"Cause taxonomy") when the shared folder is there, so the code is held to the spec, not to itself."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from test_scenarios import SCENARIOS

from gpu_preflight.checks.diagnose import diagnose
from gpu_preflight.core.findings import CAUSES
from gpu_preflight.probe.hostspec import HostSpec, resolve_host
from gpu_preflight.targets.specs import collect_targets

from support.paths import REAL, ROOT, SHARED
from support.scenarios import RTX3090, RTX5090, host, run_doctor

DESIGN = SHARED / "design.md"

SEVERITIES = ("pass", "info", "warn", "fail")
CC = re.compile(r"^\d+\.\d+$")


def taxonomy_table(path: Path) -> frozenset[str]:
    """The ids of the "Cause taxonomy" table of a Markdown document."""
    text = path.read_text(encoding="utf-8")
    section = text[text.index("Cause taxonomy") :]
    ids = frozenset(re.findall(r"^\s*\| `([a-z0-9-]+)` \|", section, re.MULTILINE))
    assert ids, f"the cause taxonomy table of {path} could not be read"
    return ids


DOCS_TAXONOMY = taxonomy_table(ROOT / "docs" / "architecture.md")


def design_taxonomy() -> frozenset[str]:
    return taxonomy_table(DESIGN) if DESIGN.is_file() else DOCS_TAXONOMY


TAXONOMY = design_taxonomy()


def _opt(value: Any, kind: type | tuple[type, ...]) -> bool:
    return value is None or (
        isinstance(value, kind) and not isinstance(value, bool) if kind is int else isinstance(value, kind)
    )


def contract_problems(doc: dict[str, Any]) -> list[str]:
    p: list[str] = []
    if doc.get("schema") != "gpu-preflight/report/v1":
        p.append(f"schema {doc.get('schema')!r}")
    if doc.get("status") not in ("pass", "warn", "fail"):
        p.append(f"status {doc.get('status')!r}")
    if not isinstance(doc.get("targets"), list) or not all(isinstance(t, dict) for t in doc["targets"]):
        p.append("targets must be a list of objects")
    # host: the probe document
    h = doc.get("host")
    if not isinstance(h, dict):
        return p + ["host must be an object"]
    if h.get("schema") != "gpu-preflight/host/v1":
        p.append(f"host.schema {h.get('schema')!r}")
    d = h.get("driver")
    if not isinstance(d, dict):
        p.append("host.driver must be an object")
    else:
        if not _opt(d.get("version"), str):
            p.append("driver.version must be str|null")
        if d.get("cuda") is not None and not (isinstance(d["cuda"], str) and CC.match(d["cuda"])):
            p.append(f"driver.cuda must be 'X.Y'|null, got {d.get('cuda')!r}")
        if not isinstance(d.get("source"), str):
            p.append("driver.source must be str")
    gpus = h.get("gpus")
    if not isinstance(gpus, list):
        p.append("host.gpus must be a list")
    else:
        for g in gpus:
            if not (isinstance(g.get("index"), int) and not isinstance(g.get("index"), bool)):
                p.append(f"gpu.index must be int: {g.get('index')!r}")
            if not isinstance(g.get("name"), str):
                p.append("gpu.name must be str")
            cc = g.get("compute_capability")
            if cc is not None and not (isinstance(cc, str) and CC.match(cc)):
                p.append(f"gpu.compute_capability must be 'X.Y'|null: {cc!r}")
            for key in ("memory_total_mib", "memory_used_mib"):
                if key not in g or not _opt(g[key], int):
                    p.append(f"gpu.{key} must be int|null: {g.get(key)!r}")
            for key in ("brand", "uuid"):
                if key not in g or not _opt(g[key], str):
                    p.append(f"gpu.{key} must be str|null: {g.get(key)!r}")
    for key in ("toolkits", "frameworks"):
        if not isinstance(h.get(key), list):
            p.append(f"host.{key} must be a list")
    if not isinstance(h.get("container"), dict):
        p.append("host.container must be an object")
    errors = h.get("errors")
    if not isinstance(errors, list) or not all(
        isinstance(e, dict) and isinstance(e.get("probe"), str) and isinstance(e.get("message"), str) for e in errors
    ):
        p.append("host.errors must be a list of {probe: str, message: str}")
    # findings
    findings = doc.get("findings")
    if not isinstance(findings, list):
        return p + ["findings must be a list"]
    for f in findings:
        where = f"finding {f.get('code')!r}"
        if not (isinstance(f.get("code"), str) and f["code"]):
            p.append(f"{where}: code must be a non-empty str")
        if f.get("severity") not in SEVERITIES:
            p.append(f"{where}: severity {f.get('severity')!r}")
        # the spec's ids, plus those the repo adds ("add ids; never rename"), documented in
        # docs/architecture.md (held below to equal CAUSES and to keep every spec id)
        if f.get("cause") is not None and f["cause"] not in TAXONOMY | DOCS_TAXONOMY:
            p.append(f"{where}: cause {f['cause']!r} is not in the cause taxonomy")
        if not (isinstance(f.get("title"), str) and f["title"]):
            p.append(f"{where}: title must be a non-empty str")
        if not isinstance(f.get("detail"), str):
            p.append(f"{where}: detail must be str")
        if "device" not in f or not _opt(f["device"], int):
            p.append(f"{where}: device must be int|null")
        if not isinstance(f.get("evidence"), dict):
            p.append(f"{where}: evidence must be an object")
        if not (isinstance(f.get("fix"), list) and all(isinstance(x, str) and x for x in f["fix"])):
            p.append(f"{where}: fix must be a list of non-empty str")
    # status: the worst severity, info counting as pass
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    worst = max(
        (f.get("severity") for f in findings if f.get("severity") in rank), key=rank.__getitem__, default="pass"
    )
    expected = "pass" if worst in ("pass", "info") else worst
    if doc.get("status") != expected:
        p.append(f"status {doc.get('status')!r} but the worst finding is {worst!r}")
    return p


def _roundtrip(doc: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(doc)  # must be plain JSON (no Version objects, enums, sets)
    return json.loads(text)


def test_code_taxonomy_keeps_every_design_id() -> None:
    """Cause ids may be added, never renamed: the code knows every id the specification lists."""
    assert TAXONOMY <= CAUSES, sorted(TAXONOMY - CAUSES)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_scenario_report_follows_contract(scenario, tmp_path) -> None:
    report = run_doctor(scenario.host, tmp_path, scenario.torch, scenario.cuda, scenario.requirements)
    doc = _roundtrip(report.to_dict())
    assert not contract_problems(doc), contract_problems(doc)
    assert doc["status"] == report.status
    assert report.exit_code() == (1 if report.status == "fail" else 0)


def _xml_paths():
    folder = REAL / "nvidia-smi-xml"
    return sorted(folder.glob("*.xml")) if folder.is_dir() else []


@pytest.mark.skipif(
    not _xml_paths(), reason=f"real fixtures not found at {REAL} (the shared folder beside the repo root)"
)
@pytest.mark.parametrize("path", _xml_paths(), ids=[p.stem for p in _xml_paths()])
def test_xml_host_report_follows_contract(path) -> None:
    host = resolve_host(HostSpec(nvidia_smi_xml=str(path)))
    for targets in (None, collect_targets(torch=["2.4.1+cu121", "2.7.0+cu128"], cuda=["12.4"])):
        doc = _roundtrip(diagnose(host, targets).to_dict())
        assert not contract_problems(doc), contract_problems(doc)


def test_cli_json_document_follows_contract(run_cli, tmp_path) -> None:
    """The same document as a user gets it: `preflight doctor --snapshot F --torch X --json`."""
    snapshot = tmp_path / "host.json"
    snapshot.write_text(json.dumps(host("550.54.15", RTX5090, RTX3090).to_dict()))
    result = run_cli("doctor", "--snapshot", str(snapshot), "--torch", "2.5.1+cu124", "--json")
    assert result.returncode == 1, result.stderr  # GPU 0 (CC 12.0) has no code in cu124: a failure
    doc = result.json()
    assert not contract_problems(doc), contract_problems(doc)
    assert doc["status"] == "fail"
    causes = {(f["cause"], f["device"]) for f in doc["findings"]}
    assert ("no-kernel-image", 0) in causes


def test_docs_list_every_cause_of_the_code_and_the_spec() -> None:
    """docs/architecture.md's table is the taxonomy a contributor reads: it stays true."""
    assert DOCS_TAXONOMY == CAUSES
    if DESIGN.is_file():
        assert taxonomy_table(DESIGN) <= DOCS_TAXONOMY
