"""Hostile fleet inputs: one line and exit 2 when nothing can be judged, an unreadable entry
otherwise; never a traceback (issue 17, classes 1, 6 and 7)."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpu_preflight.cli.main import main
from gpu_preflight.core.errors import UsageError
from gpu_preflight.fleet import k8s
from gpu_preflight.fleet.sources import Unreadable, read_document, read_k8s_nodes

LONG = "9" * 5000


def fleet(capsys, *args: str) -> tuple[int, str]:
    code = main(["fleet", *args])
    return code, capsys.readouterr().err


def test_an_empty_directory_is_no_fleet(tmp_path, capsys):
    (tmp_path / "hosts").mkdir()
    code, err = fleet(capsys, str(tmp_path / "hosts"))
    assert code == 2 and "no host found in" in err and err.count("\n") == 1


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_directory_holding_only_a_fifo_is_no_fleet(tmp_path, capsys):
    (tmp_path / "hosts").mkdir()
    os.mkfifo(tmp_path / "hosts" / "c.json")
    code, err = fleet(capsys, str(tmp_path / "hosts"))
    assert code == 2 and "no host found in" in err


def test_only_cpu_nodes_is_no_fleet(tmp_path, capsys):
    path = tmp_path / "nodes.json"
    path.write_text(
        json.dumps(
            {
                "kind": "NodeList",
                "items": [{"kind": "Node", "metadata": {"name": "cpu-1", "labels": {"kubernetes.io/os": "linux"}}}],
            }
        )
    )
    code, err = fleet(capsys, "--k8s-nodes", str(path))
    assert code == 2 and "no GPU node to judge: 1 node(s)" in err and "cpu-1" in err


@pytest.mark.parametrize(
    "labels",
    [
        f"nvidia.com/gpu.product=Tesla-T4\nnvidia.com/gpu.count={LONG}\n",
        f"nvidia.com/gpu.product=Tesla-T4\nnvidia.com/gpu.memory={LONG}\n",
        f"nvidia.com/gpu.product=Tesla-T4\nnvidia.com/cuda.driver-version.full={LONG}.1\n",
        f"nvidia.com/gpu.product=Tesla-T4\nnvidia.com/cuda.driver.major={LONG}\n",
        f"nvidia.com/gpu.product=Tesla-T4\nnvidia.com/mig-1g.5gb.count={LONG}\n",
        json.dumps({"nvidia.com/gpu.product": "Tesla-T4", "nvidia.com/gpu.count": LONG}),
        '{"nvidia.com/gpu.product": "Tesla-T4", "nvidia.com/gpu.count": ' + LONG + "}",
    ],
)
def test_labels_with_absurd_numbers_are_unreadable(tmp_path, capsys, labels):
    path = tmp_path / "labels.txt"
    path.write_text(labels)
    (item,) = read_k8s_nodes(str(path))
    assert isinstance(item, Unreadable) and ("characters, not a real value" in item.message or "digits" in item.message)
    code, err = fleet(capsys, "--k8s-nodes", str(path))
    assert code == 2 and "no host could be read" in err and "internal error" not in err


@given(
    st.dictionaries(
        st.sampled_from(
            sorted(
                {
                    "nvidia.com/" + k
                    for k in (
                        *k8s._GFD_KEYS,
                        "gpu.memory",
                        "gpu.compute.major",
                        "gpu.compute.minor",
                        "gpu.replicas",
                        "mig.strategy",
                        "mig-1g.5gb.count",
                        "mig-1g.5gb.memory",
                        "cuda.runtime-version.full",
                    )
                }
            )
        ),
        st.text(alphabet="0123456789.-x ", max_size=80),
    )
)
@settings(max_examples=300, deadline=None)
def test_any_label_values_are_a_host_or_one_line(labels):
    try:
        gpu = k8s.GpuLabels.from_labels(labels)
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    if gpu is not None:
        host = gpu.to_host("n")
        assert len(host.gpus) <= k8s.MAX_GPUS


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"1" * 5000, "a number of 5000 digits"),
        (b"[" + b"{}," * 1_100_000 + b"{}]", "objects and arrays"),
        (
            b'{"schema": "gpu-preflight/host/v1", "gpus": [{"index": 0, "name": "T4", "memory_total_mib": '
            + LONG.encode()
            + b"}]}",
            "digits",
        ),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"[" * 500 + b"]" * 500, "nested more than 64 levels deep"),
    ],
)
def test_hostile_json_documents_are_unreadable(data, message):
    (item,) = read_document(data, "x.json", "x")
    assert isinstance(item, Unreadable) and message in item.message


def test_a_json_lines_file_with_an_absurd_number_records_that_line(tmp_path, capsys):
    path = tmp_path / "fleet.jsonl"
    path.write_text('{"driver": {}, "gpus": [{"index": ' + LONG + ', "name": "T4"}]}\n')
    code, err = fleet(capsys, str(path))
    assert code == 2 and "fleet.jsonl:1" in err


def test_host_document_fields_are_checked_with_their_path(tmp_path, capsys):
    path = tmp_path / "a.json"
    path.write_text(
        json.dumps({"schema": "gpu-preflight/host/v1", "gpus": [{"index": 0, "name": "T4", "memory_total_mib": -5}]})
    )
    code, err = fleet(capsys, str(path))
    assert code == 2 and "at $.gpus[0].memory_total_mib" in err


def test_a_line_longer_than_any_document_is_not_read_whole():
    import io

    from gpu_preflight.fleet.sources import _bounded_lines, _json_lines

    assert list(_bounded_lines(io.BytesIO(b"{}\n" + b"x" * 100 + b"\n{}\n"), limit=10)) == [b"{}\n", None]
    items = list(_json_lines(_bounded_lines(io.BytesIO(b"x" * 100), limit=10), "f.jsonl"))
    assert [type(i) for i in items] == [Unreadable] and "a line longer than" in items[0].message


def test_a_json_lines_line_with_a_refused_value_says_why(tmp_path, capsys):
    path = tmp_path / "fleet.jsonl"
    path.write_text("[" * 200 + "]" * 200 + "\n")
    code, err = fleet(capsys, str(path))
    assert code == 2 and "fleet.jsonl:1: refusing this JSON: nested more than 64 levels deep" in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("NAME STATUS LABELS\n" + "n a/b=c\n" * 3_000_001, "more than 3,000,000 lines of label text"),
        ("NAME STATUS LABELS\n" + "n a/b=c\n" * 50_001, "more than 50,000 nodes"),
        ("items:\n" + "- apiVersion: v1\n  metadata:\n    labels:\n      a/b: c\n" * 50_001, "more than 50,000 nodes"),
        ("".join(f"a/b{i}=c\n" for i in range(100_001)), "more than 100,000 labels for one node"),
        (
            "items:\n- metadata:\n    labels:\n" + "".join(f"      a/b{i}: c\n" for i in range(100_001)),
            "100,000 labels",
        ),
    ],
)
def test_label_text_of_absurd_size_is_refused_quickly(tmp_path, text, message):
    import time

    path = tmp_path / "labels.txt"
    path.write_text(text)
    started = time.monotonic()
    (item,) = read_k8s_nodes(str(path))
    assert isinstance(item, Unreadable) and message in item.message and item.message.startswith("--k8s-nodes ")
    assert time.monotonic() - started < 10


def test_a_node_list_longer_than_any_cluster_is_refused():
    (item,) = read_document(json.dumps({"kind": "NodeList", "items": [{}] * 50_001}).encode(), "n.json", "n")
    assert isinstance(item, Unreadable) and "more than 50,000 nodes" in item.message
