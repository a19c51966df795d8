"""The command line as users and outside scripts call it: exit codes, JSON shapes, bad input."""

from __future__ import annotations

import json
import os

import pytest

from gpu_preflight.core.host import Framework

from support.host_docs import T4, host_doc
from support.paths import ROOT

HOST_KEYS = {"schema", "hostname", "driver", "gpus", "toolkits", "frameworks", "container", "errors"}
GPU_KEYS = {"index", "name", "compute_capability", "memory_total_mib", "memory_used_mib", "brand", "uuid"}
FINDING_KEYS = {"code", "severity", "cause", "title", "detail", "device", "evidence", "fix"}


def test_version(run_cli):
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("gpu-preflight ")


def test_probe_json_shape(run_cli):
    result = run_cli("probe", "--json")
    assert result.returncode == 0, result.stderr
    document = result.json()
    assert HOST_KEYS <= document.keys()
    assert document["schema"] == "gpu-preflight/host/v1"
    assert {"version", "cuda", "source"} <= document["driver"].keys()
    for error in document["errors"]:
        assert set(error) == {"probe", "message"}


def test_doctor_json_shape_and_exit_code_agree(run_cli):
    result = run_cli("doctor", "--json")
    report = result.json()
    assert report["schema"] == "gpu-preflight/report/v1"
    assert report["status"] in ("pass", "warn", "fail")
    assert report["host"]["schema"] == "gpu-preflight/host/v1"
    for finding in report["findings"]:
        assert set(finding) == FINDING_KEYS
        assert finding["severity"] in ("pass", "info", "warn", "fail")
    assert result.returncode == (1 if report["status"] == "fail" else 0)


def _snapshot(tmp_path) -> str:
    """A host both runs see alike (a live GPU's memory in use moves between two runs)."""
    torch = Framework(name="torch", version="2.4.1+cu121", cuda="12.1", variant="cu121", source="metadata")
    path = tmp_path / "host.json"
    path.write_text(json.dumps(host_doc("gpu-box", "550.54.15", "12.4", T4, used_mib=1024, frameworks=(torch,))))
    return str(path)


def test_bare_preflight_is_doctor(run_cli, tmp_path):
    snapshot = _snapshot(tmp_path)
    plain, doctor = run_cli("--snapshot", snapshot), run_cli("doctor", "--snapshot", snapshot)
    assert (plain.returncode, plain.stdout, plain.stderr) == (doctor.returncode, doctor.stdout, doctor.stderr)
    assert "CUDA versions" in plain.stdout and "Status:" in plain.stdout


def test_doctor_groups_its_checklist_by_layer(run_cli, tmp_path):
    result = run_cli("doctor", "--snapshot", _snapshot(tmp_path), "--model", "VibeThinker-1.5B", "--context", "4096")
    lines = result.stdout.splitlines()
    checks = lines[lines.index("Checks") + 1 :]
    headings = [line.strip().split(" (")[0] for line in checks if line.startswith("  ") and line[2] != " "]
    assert headings == ["Driver", "GPUs", "Framework builds", "CUDA toolkit", "Model memory"]


@pytest.mark.parametrize("flag", ["-v", "--verbose"])
def test_doctor_verbose_shows_each_findings_evidence(run_cli, tmp_path, flag):
    snapshot = _snapshot(tmp_path)
    verbose, plain = run_cli("doctor", "--snapshot", snapshot, flag), run_cli("doctor", "--snapshot", snapshot)
    assert verbose.returncode == plain.returncode == 0
    driver = verbose.stdout.splitlines().index("    [✓] NVIDIA driver 550.54.15 (R550), supports CUDA up to 12.4")
    evidence = verbose.stdout.splitlines()[driver + 1 : driver + 6]
    assert "        evidence:" in evidence and "          driver_version: 550.54.15" in evidence
    assert "          driver_cuda: 12.4" in evidence
    assert "evidence:" not in plain.stdout and "driver_version" not in plain.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["frobnicate"],
        ["doctor", "--no-such-flag"],
        ["doctor", "--json", "--markdown"],
        ["doctor", "--assume-driver", "banana"],
        ["doctor", "--assume-driver", "12"],
        ["doctor", "--assume-driver", "550.54.15.1.2"],
        ["doctor", "--assume-gpu", "Tesla T4:lots"],
        ["doctor", "--assume-gpu", ":16GiB"],
        ["doctor", "--assume-gpu", "Imaginary GPU 9000"],
        ["doctor", "--timeout", "-1"],
        ["probe", "--snapshot", "/nonexistent/file.json"],
        ["probe", "--snapshot", "a.json", "--nvidia-smi-xml", "b.xml"],
        ["db", "--db", "/nonexistent/dir"],
    ],
)
def test_unusable_requests_exit_2_with_one_line(run_cli, args):
    result = run_cli(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("preflight: error: ")
    assert "Traceback" not in result.stderr


ENTITY_BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<nvidia_smi_log>&lol3;</nvidia_smi_log>"""

BAD_FILES = {
    "empty.xml": b"",
    "blank.xml": b"   \n\n",
    "binary.xml": bytes(range(256)) * 8,
    "truncated.xml": b'<?xml version="1.0" ?>\n<nvidia_smi_log>\n<driver_version>550.54.15</driver_version>\n<gpu '
    b'id="0"><product_name>NVIDIA',
    "wrong-root.xml": b"<html><body>not nvidia-smi</body></html>",
    "bomb.xml": ENTITY_BOMB.encode(),
    "external.xml": b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><nvidia_smi_log>&e;</nvidia_smi_log>',
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
@pytest.mark.parametrize("command", ["probe", "doctor"])
def test_bad_xml_dumps(run_cli, tmp_path, name, command):
    path = tmp_path / name
    path.write_bytes(BAD_FILES[name])
    result = run_cli(command, "--nvidia-smi-xml", str(path), timeout=30)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


BAD_SNAPSHOTS = {
    "empty.json": b"",
    "binary.json": b"\x00\xff\xfe" * 100,
    "not-json.json": b"driver: 550",
    "truncated.json": b'{"schema": "gpu-preflight/host/v1", "driver": {"version": "550',
    "list.json": b"[1, 2, 3]",
    "other-schema.json": b'{"schema": "gpu-preflight/report/v1"}',
    "wrong-types.json": b'{"schema": "gpu-preflight/host/v1", "gpus": [{"index": "zero", "name": 5}]}',
    "gpus-not-list.json": b'{"gpus": {"index": 0}}',
    "deep.json": b"[" * 100000 + b"]" * 100000,
}


@pytest.mark.parametrize("name", sorted(BAD_SNAPSHOTS))
def test_bad_snapshots(run_cli, tmp_path, name):
    path = tmp_path / name
    path.write_bytes(BAD_SNAPSHOTS[name])
    result = run_cli("doctor", "--snapshot", str(path))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_directory_as_input(run_cli, tmp_path):
    result = run_cli("probe", "--snapshot", str(tmp_path))
    assert result.returncode == 2 and "is a directory" in result.stderr


def test_snapshot_round_trip(run_cli, tmp_path):
    first = run_cli("probe", "--json")
    path = tmp_path / "host.json"
    path.write_text(first.stdout)
    again = run_cli("probe", "--json", "--snapshot", str(path))
    assert again.returncode == 0
    original, reread = first.json(), again.json()
    assert reread["driver"] == original["driver"] and reread["toolkits"] == original["toolkits"]
    assert reread["gpus"] == original["gpus"]


def test_doctor_never_imports_torch(run_cli, tmp_path):
    """A torch whose import would leave a mark: doctor (without --deep) must describe it from
    metadata alone."""
    site = tmp_path / "site"
    (site / "torch").mkdir(parents=True)
    (site / "torch-2.4.1+cu121.dist-info").mkdir()
    (site / "torch-2.4.1+cu121.dist-info" / "METADATA").write_text("Name: torch\nVersion: 2.4.1+cu121\n")
    marker = tmp_path / "imported"
    (site / "torch" / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    (site / "torch" / "version.py").write_text("cuda = '12.1'\n")
    env = {"PYTHONPATH": os.pathsep.join([str(site), str(ROOT / "src")])}
    result = run_cli("doctor", "--json", env=env)
    assert not marker.exists()
    torch = next(f for f in result.json()["host"]["frameworks"] if f["name"] == "torch")
    assert (torch["version"], torch["cuda"]) == ("2.4.1+cu121", "12.1")


def test_doctor_model_turns_the_plan_into_findings(run_cli):
    fits = run_cli(
        "doctor",
        "--json",
        "--model",
        "VibeThinker-1.5B",
        "--context",
        "32768",
        "--assume-gpu",
        "NVIDIA H100 80GB HBM3",
        "--assume-driver",
        "580.95.05",
        "--torch",
        "2.9.1+cu128",
    )
    findings = fits.json()["findings"]
    assert any(f["code"] == "fit" and f["severity"] == "pass" for f in findings)
    too_small = run_cli(
        "doctor",
        "--json",
        "--model",
        "VibeThinker-1.5B",
        "--engine",
        "transformers",
        "--dtype",
        "float32",
        "--assume-gpu",
        "Tesla T4:4GiB",
        "--assume-driver",
        "580.95.05",
        "--torch",
        "2.9.1+cu128",
    )
    assert too_small.returncode == 1
    assert any(f["cause"] == "out-of-memory" and f["device"] == 0 for f in too_small.json()["findings"])


def test_plain_doctor_imports_only_what_it_uses(tmp_path):
    """Speed by construction: `preflight` alone must not pay for the other commands' modules
    (images, targets and packaging, fit, explain, monitor, serve) nor for any framework."""
    import subprocess
    import sys

    script = (
        "import contextlib, io, sys\n"
        "from gpu_preflight.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['doctor', '--json'])\n"
        # targets.model is cheap (no packaging) and may be imported; the parsers may not.
        "heavy = ('gpu_preflight.images', 'gpu_preflight.targets.specs', 'gpu_preflight.targets.index',\n"
        "         'gpu_preflight.targets.pip', 'gpu_preflight.targets.pyproject', 'gpu_preflight.fit',\n"
        "         'gpu_preflight.explain', 'gpu_preflight.monitor', 'gpu_preflight.serve', 'packaging.requirements',\n"
        "         'torch', 'transformers')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": os.environ.get("PATH", "")},
    )
    assert out.stdout.strip() == "[]", out.stderr


def test_requirements_without_torch_say_so(run_cli, tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text("numpy==1.26.4\n")
    result = run_cli("doctor", "--json", "--requirements", str(path))
    notes = [f["title"] for f in result.json()["findings"] if f["code"] == "target-note"]
    assert notes == [f"{path}: no torch pin found; judged what is installed instead"]
