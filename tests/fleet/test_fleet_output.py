"""What `preflight fleet` prints: the nodeAffinity snippet (parsed back), kubectl label commands,
the fleet/v1 JSON document, exit codes, and the command line run as a user runs it."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from gpu_preflight.core.errors import UsageError
from gpu_preflight.fleet import (
    kubectl_label_commands,
    node_affinity,
    node_affinity_yaml,
)
from gpu_preflight.fleet.placement import check_label

from support.host_docs import A100, H100, T4, host_doc, write_docs, write_lines
from support.paths import MISSING, REAL

yaml = pytest.importorskip("yaml")


def affinity_values(text: str) -> list:
    document = yaml.safe_load(text)
    terms = document["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    (expression,) = terms[0]["matchExpressions"]
    assert (expression["key"], expression["operator"]) == ("kubernetes.io/hostname", "In")
    return expression["values"]


def test_affinity_yaml_parses_back_to_the_same_names() -> None:
    names = ["gpu-a", "123", "true", "null", "1e3", "node.with.dots", "yes"]
    text = node_affinity_yaml(names)
    assert affinity_values(text) == names  # strings all, although YAML would read some as others
    assert yaml.safe_load(text)["affinity"] == node_affinity(names)


def test_no_ready_node_gives_no_snippet() -> None:
    assert yaml.safe_load(node_affinity_yaml([])) is None and node_affinity([]) is None


def test_kubectl_commands_quote_and_deduplicate() -> None:
    commands = kubectl_label_commands(["gpu-a", "gpu-a", "odd name"], "team.example.com/llm=ok")
    assert commands == [
        "kubectl label node gpu-a team.example.com/llm=ok --overwrite",
        "kubectl label node 'odd name' team.example.com/llm=ok --overwrite",
    ]
    assert shlex.split(commands[1])[3] == "odd name"


@pytest.mark.parametrize("label", ["gpu-preflight/ok=true", "ok=", "a.b.c/x_y=1.2-3"])
def test_valid_labels(label: str) -> None:
    assert check_label(label) == label


@pytest.mark.parametrize(
    "label", ["noequals", "=x", "a/b/c=d", "key=bad value", "key=" + "x" * 64, "Upper.Case/k=v", "-k=v"]
)
def test_invalid_labels(label: str) -> None:
    with pytest.raises(UsageError, match="--label"):
        check_label(label)


# --- the command line ---------------------------------------------------------------------------


def fleet_dir(tmp_path: Path) -> Path:
    docs = [
        host_doc("gpu-ok-1", "550.54.15", "12.4", H100, count=8, serial=1),
        host_doc("gpu-ok-2", "550.54.15", "12.4", H100, count=8, serial=2),
        host_doc("gpu-old", "470.256.02", "11.4", A100, serial=3),
        host_doc("gpu-warn", "525.147.05", "12.0", T4, serial=4),
    ]
    write_docs(tmp_path / "hosts", docs)
    return tmp_path / "hosts"


def test_cli_json_document(run_cli, tmp_path: Path) -> None:
    result = run_cli("fleet", str(fleet_dir(tmp_path)), "--torch", "2.4.1+cu121", "--json")
    assert result.returncode == 1, result.stderr
    document = result.json()
    assert document["schema"] == "gpu-preflight/fleet/v1"
    for host in document["hosts"]:
        assert {"name", "status", "causes"} <= host.keys()
        assert host["status"] in ("pass", "warn", "fail")
    statuses = {h["name"]: (h["status"], h["causes"]) for h in document["hosts"]}
    assert statuses["gpu-old"] == ("fail", ["driver-too-old"])
    assert statuses["gpu-ok-1"] == ("pass", [])
    summary = document["summary"]
    assert (summary["hosts"], summary["pass"], summary["warn"], summary["fail"]) == (4, 2, 1, 1)
    assert summary["by_cause"] == {"driver-too-old": 1}
    assert document["ready"]["nodes"] == ["gpu-ok-1", "gpu-ok-2", "gpu-warn"]
    values = document["ready"]["node_affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert values["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == ["gpu-ok-1", "gpu-ok-2", "gpu-warn"]
    assert document["ready"]["kubectl"][0] == "kubectl label node gpu-ok-1 gpu-preflight/ok=true --overwrite"
    assert document["targets"][0]["kind"] == "torch"


def test_cli_text_affinity_and_kubectl_outputs(run_cli, tmp_path: Path) -> None:
    hosts = str(fleet_dir(tmp_path))
    text = run_cli("fleet", hosts, "--torch", "2.4.1+cu121")
    assert text.returncode == 1 and "gpu-old" in text.stdout and "driver-too-old: 1 host(s)" in text.stdout
    assert "kubectl label node gpu-ok-1 gpu-preflight/ok=true --overwrite" in text.stdout
    affinity = run_cli("fleet", hosts, "--torch", "2.4.1+cu121", "--affinity", "--strict")
    assert affinity_values(affinity.stdout) == ["gpu-ok-1", "gpu-ok-2"]  # --strict: the warning host is out
    commands = run_cli("fleet", hosts, "--torch", "2.4.1+cu121", "--kubectl", "--label", "llm.example.com/torch241=yes")
    assert commands.stdout.splitlines() == [
        f"kubectl label node {n} llm.example.com/torch241=yes --overwrite" for n in ("gpu-ok-1", "gpu-ok-2", "gpu-warn")
    ]


def test_cli_exit_0_when_nothing_fails(run_cli, tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "fleet.jsonl", [host_doc(f"n{i}", "550.54.15", "12.4", H100, serial=i) for i in range(5)]
    )
    result = run_cli("fleet", str(path), "--cuda", "12.4", "--json")
    assert result.returncode == 0 and result.json()["summary"]["pass"] == 5


def test_cli_stdin_json_lines(run_cli) -> None:
    lines = "".join(json.dumps(host_doc(f"n{i}", "550.54.15", "12.4", H100, serial=i)) + "\n" for i in range(3))
    result = run_cli("fleet", "-", "--cuda", "12.4", "--json", input=lines)
    assert result.returncode == 0 and [h["name"] for h in result.json()["hosts"]] == ["n0", "n1", "n2"]


def test_cli_unreadable_input_warns_reports_the_rest_and_exits_2(run_cli, tmp_path: Path) -> None:
    hosts = fleet_dir(tmp_path)
    (hosts / "garbage.json").write_text("this is not json")
    result = run_cli("fleet", str(hosts), "--torch", "2.4.1+cu121", "--json")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "warning:" in result.stderr and "garbage.json" in result.stderr
    document = result.json()
    assert document["summary"]["unreadable"] == 1 and len(document["hosts"]) == 4
    assert document["unreadable"][0]["source"].endswith("garbage.json")


@pytest.mark.parametrize(
    "args, message",
    [
        ((), "give HOSTFILEs"),
        (("does-not-exist.json",), "no such file"),
        (("-", "-"), "only once"),
        (("x.json", "--torch", "not-a-version"), "--torch"),
        (("x.json", "--label", "bad label"), "--label"),
    ],
)
def test_cli_unusable_requests_exit_2_with_one_line(run_cli, tmp_path: Path, args, message) -> None:
    (tmp_path / "x.json").write_text(json.dumps(host_doc("x", "550.54.15", "12.4", H100)))
    result = run_cli("fleet", *args)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


def test_cli_nothing_readable_is_one_line(run_cli, tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{")
    result = run_cli("fleet", "bad.json", "--cuda", "12.4")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "no host could be read" in result.stderr


def test_cli_k8s_nodes_real_fixtures(run_cli) -> None:
    folder = REAL / "k8s-nodes"
    if not folder.is_dir():
        pytest.skip(MISSING)
    args = [arg for path in sorted(folder.iterdir()) for arg in ("--k8s-nodes", str(path))]
    result = run_cli("fleet", *args, "--torch", "2.4.1+cu121", "--json")
    assert result.returncode == 1, result.stderr
    document = result.json()
    assert len(document["hosts"]) == 9 and document["summary"]["unreadable"] == 0
    # both H100 files describe node s4124-0073 (R550): the only ones that run a CUDA 12.1 wheel
    assert document["ready"]["nodes"] == ["s4124-0073", "s4124-0073"]
    assert affinity_values("affinity:\n" + _indent(yaml.safe_dump(document["ready"]["node_affinity"]))) == [
        "s4124-0073"
    ]


def _indent(text: str) -> str:
    return "".join("  " + line + "\n" for line in text.splitlines())


def test_cli_mixed_input_kinds_in_one_survey(run_cli, tmp_path: Path) -> None:
    if not REAL.is_dir():
        pytest.skip(MISSING)
    xml = REAL / "nvidia-smi-xml" / "telegraf__rtx-3060__570.124.04.xml"
    labels = REAL / "k8s-nodes" / "nvidia-docs__a100-sxm4-40gb__450.80.02__gfd-labels-mig-none.json"
    hosts = fleet_dir(tmp_path)
    result = run_cli("fleet", str(hosts), str(xml), "--k8s-nodes", str(labels), "--torch", "2.4.1+cu121", "--json")
    statuses = {h["name"]: h["status"] for h in result.json()["hosts"]}
    assert statuses == {
        "gpu-ok-1": "pass",
        "gpu-ok-2": "pass",
        "gpu-old": "fail",
        "gpu-warn": "warn",
        "telegraf__rtx-3060__570.124.04": "pass",
        "nvidia-docs__a100-sxm4-40gb__450.80.02__gfd-labels-mig-none": "fail",
    }
    assert result.returncode == 1


def test_host_names_and_messages_are_shown_as_text_not_obeyed() -> None:
    from gpu_preflight.fleet import render_text, survey, unreadable_warnings
    from gpu_preflight.fleet.sources import HostInput, Unreadable

    hostile = "gpu-\x1b]0;pwned\x07\x1b[2J\u202e\r"
    report = survey(
        [
            HostInput(hostile, "hosts/a.json", doc=host_doc(hostile, "550.54.15", "12.4", T4)),
            Unreadable("hosts/b.json", "not JSON: '\x1b[31m'"),
        ]
    )
    shown = render_text(report) + "\n".join(unreadable_warnings(report))
    unsafe = [ch for ch in shown if ch != "\n" and (ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 or ch == "\u202e")]
    assert unsafe == []
    assert "gpu-\\x1b]0;pwned\\x07" in shown and "\\x1b[31m" in shown


def test_kubectl_commands_never_carry_control_characters() -> None:
    from gpu_preflight.fleet.placement import kubectl_label_commands

    (command,) = kubectl_label_commands(["node\x1b[2J\x07-7"])
    assert "\x1b" not in command and "\x07" not in command
    assert kubectl_label_commands(["gpu-node-7"]) == ["kubectl label node gpu-node-7 gpu-preflight/ok=true --overwrite"]
