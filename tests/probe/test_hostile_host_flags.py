"""HOST flags and inputs given hostile values: one UsageError line each (issue 17, classes 3 and 5)."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpu_preflight.cli.main import main
from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.limits import MAX_HOST_GPUS, MAX_XML_TAGS
from gpu_preflight.probe.hostspec import HostSpec, resolve_host
from gpu_preflight.probe.smi_xml import parse_smi_xml

EMPTY = '{"schema": "gpu-preflight/host/v1", "source": "snapshot"}'


@pytest.fixture
def empty_snapshot(tmp_path):
    path = tmp_path / "host.json"
    path.write_text(EMPTY)
    return str(path)


@pytest.mark.parametrize("timeout", [float("nan"), float("inf"), 1e308, -1.0, 0.0])
def test_timeouts_no_timer_can_take_are_refused(empty_snapshot, timeout):
    with pytest.raises(UsageError, match="--timeout must be a number of seconds above 0"):
        resolve_host(HostSpec(snapshot=empty_snapshot, timeout=timeout))


@pytest.mark.parametrize(
    ("driver", "message"),
    [("", "--assume-driver is empty"), ("   ", "--assume-driver is empty"), ("9" * 5000, "not a driver version")],
)
def test_an_empty_or_absurd_assumed_driver_is_refused(empty_snapshot, driver, message):
    with pytest.raises(UsageError, match=message):
        resolve_host(HostSpec(snapshot=empty_snapshot, assume_driver=driver))


@pytest.mark.parametrize("memory", ["9" * 400, "9" * 40 + "GiB", "1e5", "inf", "nan", "-5"])
def test_assumed_gpu_memory_that_is_no_size_is_refused(empty_snapshot, memory):
    with pytest.raises(UsageError, match=r"^--assume-gpu 'Tesla T4:"):
        resolve_host(HostSpec(snapshot=empty_snapshot, assume_gpus=(f"Tesla T4:{memory}",)))


def test_too_many_assumed_gpus_are_refused(empty_snapshot):
    with pytest.raises(UsageError, match="at most 1024 GPUs"):
        resolve_host(HostSpec(snapshot=empty_snapshot, assume_gpus=("Tesla T4",) * (MAX_HOST_GPUS + 1)))


@given(st.text(max_size=30))
@settings(max_examples=150, deadline=None)
def test_any_assumed_gpu_text_is_a_gpu_or_one_line(text):
    try:
        resolve_host(HostSpec(probe_live=False, assume_gpus=(f"Tesla T4:{text}",)))
    except UsageError as exc:
        assert "\n" not in str(exc)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("1" * 5000, "a number of 5000 digits"),
        ('{"kind": "NodeList", "items": []}', "preflight fleet --k8s-nodes"),
        ('{"schema": "gpu-preflight/host/v1", "env": null, "gpus": []}', None),
        (
            '{"driver": {"version": "550.54.15"}, "gpus": [{"index": 0, "name": "Tesla T4", "memory_total_mib": -5}]}',
            "at $.gpus[0].memory_total_mib: expected a whole number of MiB",
        ),
        ("[" + "{}," * 1_100_000 + "{}]", "objects and arrays, more than any real document has (1,000,000)"),
    ],
)
def test_snapshot_inputs_are_a_host_or_one_line(tmp_path, capsys, document, message):
    path = tmp_path / "x.json"
    path.write_text(document)
    code = main(["doctor", "--snapshot", str(path)])
    err = capsys.readouterr().err
    if message is None:
        assert code in (0, 1) and err == ""
    else:
        assert code == 2 and message in err and err.count("\n") == 1 and "internal error" not in err


# --- nvidia-smi XML ----------------------------------------------------------------------------


def test_an_xml_dump_with_more_gpus_than_any_machine_is_refused_at_once():
    text = "<nvidia_smi_log>" + '<gpu id="0"><product_name>T4</product_name></gpu>' * 100_000 + "</nvidia_smi_log>"
    started = time.monotonic()
    with pytest.raises(UsageError, match="100,000 <gpu> elements"):
        parse_smi_xml(text, "x.xml")
    assert time.monotonic() - started < 2


def test_an_xml_dump_with_millions_of_tags_is_refused():
    with pytest.raises(UsageError, match="XML tags"):
        parse_smi_xml("<nvidia_smi_log>" + "<a/>" * MAX_XML_TAGS + "</nvidia_smi_log>", "x.xml")


@pytest.mark.parametrize(
    "text",
    [
        '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        "<nvidia_smi_log>&b;</nvidia_smi_log>",
        '<!DOCTYPE nvidia_smi_log [<!ENTITY x SYSTEM "file:///etc/passwd">]><nvidia_smi_log>&x;</nvidia_smi_log>',
        "<nvidia_smi_log><driver_version>" + "9" * 5000 + "</driver_version></nvidia_smi_log>",
    ],
)
def test_entity_tricks_and_absurd_values_never_expand(text):
    try:
        host = parse_smi_xml(text, "x.xml")
    except UsageError as exc:
        assert "entity" in str(exc)
    else:
        assert host.driver.version is None
        json.dumps(host.to_dict())
