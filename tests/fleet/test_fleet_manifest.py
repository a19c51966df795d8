"""docs/k8s: the DaemonSet manifest loads, and its probe script writes what `fleet` reads, both
as a log line and as a node annotation (the API call is captured, not sent)."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from gpu_preflight.fleet import read_hostfiles, read_k8s_nodes, survey
from gpu_preflight.targets.specs import collect_targets

from support.paths import ROOT

yaml = pytest.importorskip("yaml")
K8S_DOCS = ROOT / "docs" / "k8s"


def manifest() -> dict[str, dict]:
    docs = list(yaml.safe_load_all((K8S_DOCS / "gpu-preflight-probe.yaml").read_text()))
    docs += list(yaml.safe_load_all((K8S_DOCS / "gpu-preflight-probe-rbac.yaml").read_text()))
    return {d["kind"]: d for d in docs}


def script_text() -> str:
    return manifest()["ConfigMap"]["data"]["probe-loop.py"]


def test_manifest_wiring() -> None:
    kinds = manifest()
    spec = kinds["DaemonSet"]["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    assert env["NVIDIA_VISIBLE_DEVICES"]["value"] == "all" and env["ANNOTATE"]["value"] == "false"
    assert "nvidia.com/gpu" not in json.dumps(container.get("resources", {}))  # never takes a GPU
    assert spec["volumes"][0]["configMap"]["name"] == kinds["ConfigMap"]["metadata"]["name"]
    assert container["command"][-1] == "/etc/gpu-preflight/" + next(iter(kinds["ConfigMap"]["data"]))
    assert kinds["ClusterRole"]["rules"] == [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["patch"]}]
    subject = kinds["ClusterRoleBinding"]["subjects"][0]
    assert (subject["name"], subject["namespace"]) == (
        spec["serviceAccountName"],
        kinds["Namespace"]["metadata"]["name"],
    )


def test_probe_script_log_line_is_a_fleet_input(tmp_path: Path) -> None:
    script = tmp_path / "probe-loop.py"
    script.write_text(script_text())
    env = dict(os.environ, NODE_NAME="gpu-node-7", ONCE="true", PYTHONPATH=str(ROOT / "src"))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    log = tmp_path / "fleet.jsonl"
    log.write_text(line + "\n" + "gpu-preflight probe on gpu-node-8 failed: timeout\n")
    report = survey(read_hostfiles([str(log)]), collect_targets(cuda=["12.4"]))
    assert [h.name for h in report.hosts] == ["gpu-node-7"]
    assert "gpu-node-8" in report.unreadable[0].message  # the error line names its node


def test_probe_script_annotation_is_read_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    namespace: dict = {"__name__": "probe_loop"}
    monkeypatch.setenv("NODE_NAME", "gpu-node-7")
    exec(compile(script_text(), "probe-loop.py", "exec"), namespace)
    (tmp_path / "token").write_text("secret-token\n")
    namespace["SERVICE_ACCOUNT"] = str(tmp_path)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    monkeypatch.setattr(ssl, "create_default_context", lambda cafile: ("context", cafile))
    sent = []

    class Response:
        def close(self) -> None:
            pass

    monkeypatch.setattr(
        urllib.request, "urlopen", lambda request, context, timeout: sent.append((request, context)) or Response()
    )
    document = {
        "schema": "gpu-preflight/host/v1",
        "hostname": "gpu-node-7",
        "driver": {"version": "550.54.15", "cuda": "12.4", "source": "nvml"},
        "gpus": [{"index": 0, "name": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0"}],
    }
    namespace["annotate"](document)

    ((request, context),) = sent
    assert request.get_method() == "PATCH" and request.full_url == "https://[fd00::1]:443/api/v1/nodes/gpu-node-7"
    assert request.get_header("Authorization") == "Bearer secret-token"
    assert request.get_header("Content-type") == "application/merge-patch+json"
    assert context == ("context", f"{tmp_path}/ca.crt")
    patch = json.loads(request.data)
    node = {"kind": "Node", "metadata": {"name": "gpu-node-7", **patch["metadata"]}}
    nodes = tmp_path / "nodes.json"
    nodes.write_text(json.dumps({"kind": "NodeList", "items": [node]}))
    report = survey(read_k8s_nodes(str(nodes)), collect_targets(cuda=["12.4"]))
    assert [(h.name, h.verdict.status) for h in report.hosts] == [("gpu-node-7", "pass")]
