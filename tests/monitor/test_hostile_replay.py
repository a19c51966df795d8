"""Hostile recordings for ``monitor --replay``: one line and exit 2, never a traceback, and
linear time on big files (issue 17, classes 1, 2, 4 and 7)."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpu_preflight.cli.main import main
from gpu_preflight.core.errors import UsageError
from gpu_preflight.monitor import Sample, read_recording
from gpu_preflight.monitor.hints import find_hints
from gpu_preflight.monitor.sample import NUMBER_FIELDS
from gpu_preflight.monitor.smi_csv import parse_csv

GPU = {"index": 0, "name": "T4", "memory_used_mib": 15000, "memory_total_mib": 15360}
SAMPLE = {"schema": "gpu-preflight/sample/v1", "time": "t", "gpus": [GPU]}


def replay(tmp_path, text: str) -> list[Sample]:
    path = tmp_path / "rec.jsonl"
    path.write_text(text)
    return read_recording(str(path))


@pytest.mark.parametrize(
    ("gpu_field", "value", "message"),
    [
        ("memory_used_mib", -5, "at $.gpus[0].memory_used_mib: expected a number or null from 0"),
        ("memory_used_mib", "abc", "at $.gpus[0].memory_used_mib"),
        ("index", [0], "at $.gpus[0].index: expected a GPU index from 0 to 65,535, got a list of 1"),
        ("name", {"a": 1}, "at $.gpus[0].name: expected a str or null, got an object"),
        ("processes", [{"pid": "x"}], "at $.gpus[0].processes[0].pid"),
        ("xid_errors", [1.5], "at $.gpus[0].xid_errors[0]"),
        ("throttle_reasons", "hot", "at $.gpus[0].throttle_reasons"),
    ],
)
def test_bad_sample_fields_are_named_by_their_path(tmp_path, gpu_field, value, message):
    sample = {**SAMPLE, "gpus": [{**GPU, gpu_field: value}]}
    with pytest.raises(UsageError) as info:
        replay(tmp_path, json.dumps(sample) + "\n")
    assert f"line 1: {message}" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            '{"schema": "gpu-preflight/sample/v1", "time": "t", "gpus": [], "requests_waiting": ' + "9" * 5000 + "}",
            "a number of 5000 digits",
        ),
        (
            '{"schema": "gpu-preflight/sample/v1", "time": "t", "gpus": [' + "{}," * 1_100_000 + "{}]}",
            "objects and arrays",
        ),
        (
            '{"schema": "gpu-preflight/sample/v1", "time": "t", "gpus": ['
            + '{"index": 0, "name": "x"},' * 1100
            + "{}]}",
            "at $.gpus: expected a list of GPUs of at most 1,024 entries",
        ),
        ('{"schema": "gpu-preflight/sample/v1", "time": 5, "gpus": []}', "at $.time"),
        ('{"schema": "gpu-preflight/sample/v1", "time": "t", "gpus": [], "driver": []}', "at $.driver"),
    ],
)
def test_hostile_lines_are_one_line(tmp_path, line, message):
    with pytest.raises(UsageError, match="line 1: ") as info:
        replay(tmp_path, line + "\n")
    assert message in str(info.value)


@given(
    st.sampled_from([*NUMBER_FIELDS, "index", "name", "uuid", "processes", "xid_errors", "throttle_reasons"]),
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers(min_value=-(10**30), max_value=10**30)
        | st.floats()
        | st.text(max_size=10),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
        max_leaves=6,
    ),
)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_value_in_a_gpu_field_is_a_sample_or_one_line(field, value):
    line = json.dumps({**SAMPLE, "gpus": [{**GPU, field: value}]})
    try:
        sample = Sample.from_dict(json.loads(line))
    except ValueError as exc:
        assert "\n" not in str(exc)
    else:
        find_hints([sample] * 10)
        json.dumps(sample.to_dict())


def test_memory_nearly_full_replayed_when_the_newest_sample_has_no_reading(tmp_path, capsys):
    last = {**SAMPLE, "gpus": [{**GPU, "memory_used_mib": None}]}
    path = tmp_path / "memfull.jsonl"
    path.write_text("".join(json.dumps(SAMPLE) + "\n" for _ in range(9)) + json.dumps(last) + "\n")
    assert main(["monitor", "--replay", str(path), "--json"]) == 0
    newest = json.loads(capsys.readouterr().out.splitlines()[-1])
    (hint,) = newest["hints"]
    assert hint["code"] == "memory-nearly-full" and "15000 of 15360 MiB used" in hint["evidence"]


def test_no_memory_reading_at_all_gives_no_memory_hint():
    empty = Sample.from_dict({**SAMPLE, "gpus": [{"index": 0, "name": "T4", "memory_total_mib": 15360}]})
    assert not [h for h in find_hints([empty] * 10) if h.code == "memory-nearly-full"]


def test_a_big_csv_recording_replays_in_linear_time():
    """8 GPUs x 20,000 samples (about 4 MB): seconds, not minutes; twice the rows, about twice the time."""
    header = (
        "timestamp, name, pci.bus_id, driver_version, pstate, index, utilization.gpu [%], utilization.memory [%],"
        " memory.total [MiB], memory.used [MiB], temperature.gpu, power.draw [W], clocks.sm [MHz], clocks.mem [MHz]\n"
    )

    def rows(samples: int) -> str:
        return header + "".join(
            f"2024/01/01 00:00:{i % 60:02d}.{i % 1000:03d}, NVIDIA H100 80GB HBM3, 00000000:{g:02d}:00.0, 550.54.15,"
            f" P0, {g}, {i % 100} %, 20 %, 81559 MiB, {i % 80000} MiB, 40, 300.12 W, 1980 MHz, 2619 MHz\n"
            for i in range(samples)
            for g in range(8)
        )

    small, big = rows(5_000), rows(20_000)
    started = time.monotonic()
    assert len(parse_csv(small)) == 5_000
    middle = time.monotonic()
    assert len(parse_csv(big)) == 20_000
    ended = time.monotonic()
    assert ended - middle < 15 and (ended - middle) < 8 * max(middle - started, 0.05)


def test_a_recording_longer_than_any_replay_is_refused_before_reading():
    from gpu_preflight.core.limits import MAX_REPLAY_SAMPLES
    from gpu_preflight.monitor.replay import parse_json_lines

    started = time.monotonic()
    with pytest.raises(ValueError, match=f"more than {MAX_REPLAY_SAMPLES:,} lines"):
        parse_json_lines((json.dumps(SAMPLE) + "\n") * (MAX_REPLAY_SAMPLES + 1001))
    assert time.monotonic() - started < 2


def test_line_ends_inside_json_strings_do_not_split_a_line(tmp_path):
    sample = {**SAMPLE, "gpus": [{**GPU, "name": "T4\u2028x\x0bz"}]}
    (read,) = replay(tmp_path, json.dumps(sample, ensure_ascii=False) + "\r\n")
    assert read.gpus[0].name == "T4\u2028x\x0bz"
