"""The replay path: every real nvidia-smi CSV fixture, synthetic CSV quirks, the monitor's own
JSON lines, and bad input (one line on stderr, exit 2, never a traceback)."""

from __future__ import annotations

import json
import time

import pytest

from gpu_preflight.core.errors import UsageError
from gpu_preflight.monitor import Sample, read_recording
from gpu_preflight.monitor.sample import NUMBER_FIELDS
from gpu_preflight.monitor.smi_csv import CsvError, parse_csv, parse_number
from gpu_preflight.probe.smi_values import smi_value

from support.monitor import real_csv, real_csv_params


@pytest.mark.parametrize("path", real_csv_params())
def test_every_real_csv_fixture_replays(path, run_cli):
    samples = read_recording(str(path))
    assert samples and all(s.gpus for s in samples)
    for sample in samples:
        assert sample.source == "replay:csv"
        for gpu in sample.gpus:
            assert gpu.name and gpu.name != "unknown"
            for field in NUMBER_FIELDS:  # no "[N/A]" or "30 W" text left in a number field
                value = getattr(gpu, field)
                assert value is None or isinstance(value, (int, float)), (field, value)
        # the JSON lines written for it read back to the same sample
        assert Sample.from_dict(json.loads(json.dumps(sample.to_dict())), source="replay:csv") == sample
    result = run_cli("monitor", "--replay", str(path), "--json")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == len(samples)


# (fixture, field, expected): what the CSV says, including the cells that say nothing
EXPECTED = [
    ("mindminer-issue-627__442.19__windows__unknown-error-cell.csv", "name", "GeForce RTX 2080 Ti"),
    ("mindminer-issue-627__442.19__windows__unknown-error-cell.csv", "utilization_gpu_pct", 100),
    ("mindminer-issue-627__442.19__windows__unknown-error-cell.csv", "power_w", 228.82),
    ("mindminer-issue-627__442.19__windows__unknown-error-cell.csv", "power_limit_w", 210.0),
    ("mindminer-issue-627__442.19__windows__unknown-error-cell.csv", "sm_clock_mhz", 1560),  # clocks.current.graphics
    ("mindminer-issue-627__442.19__windows__unknown-error-cell.csv", "memory_used_mib", None),  # not queried
    (
        "mindminer-issue-627__442.19__windows__unknown-error-cell.csv",
        "throttle_reasons",
        None,
    ),  # not queried: unknown, not "none"
    ("netdata__tesla-p100__query-gpu.csv", "uuid", "GPU-ef1b2c9b-38d8-2090-2bd1-f567a3eb42a6"),
    ("netdata__tesla-p100__query-gpu.csv", "memory_used_mib", 0),  # nounits
    ("netdata__tesla-p100__query-gpu.csv", "sm_clock_mhz", 405),
    ("netdata__tesla-p100__query-gpu.csv", "memory_total_mib", None),
    (
        "gpu-exporter__linux-x86_64__nvidia-h100-mig__590.48.01__query-gpu-all-fields.csv",
        "utilization_gpu_pct",
        None,
    ),  # [N/A] in MIG mode
    ("gpu-exporter__linux-x86_64__nvidia-h100-mig__590.48.01__query-gpu-all-fields.csv", "memory_used_mib", 59),
    (
        "gpu-exporter__linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__query-gpu-all-fields.csv",
        "ecc_errors_uncorrected",
        0,
    ),
    ("gpu-exporter__linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__query-gpu-all-fields.csv", "power_limit_w", 700.0),
    (
        "gpu-exporter__linux-x86_64__nvidia-geforce-rtx-2080-super__595.71.05__query-gpu-all-fields.csv",
        "throttle_reasons",
        ["sw_power_cap"],
    ),
    (
        "gpu-exporter__linux-x86_64__nvidia-geforce-rtx-2080-super__595.71.05__query-gpu-all-fields.csv",
        "sm_clock_base_mhz",
        None,
    ),  # deprecated
    (
        "gpu-exporter__linux-x86_64__nvidia-geforce-rtx-2080-super__595.71.05__query-gpu-all-fields.csv",
        "ecc_errors_corrected",
        None,
    ),
    ("gpu-exporter__linux-x86_64__nvidia-l40s__595.80__query-gpu-all-fields.csv", "throttle_reasons", []),  # mask 0x0
    ("gpu-exporter__linux-x86_64__nvidia-l40s__595.80__query-gpu-all-fields.csv", "utilization_gpu_pct", 100),
    (
        "gpu-exporter__465.27__ubuntu-20.04__rtx-2080-super__list-gpus+query-gpu+help.txt",
        "throttle_reasons",
        ["gpu_idle"],
    ),
    ("gpu-exporter__465.27__ubuntu-20.04__rtx-2080-super__list-gpus+query-gpu+help.txt", "memory_total_mib", 7979),
]


@pytest.mark.parametrize(
    "name, field, expected", EXPECTED, ids=[f"{n.split('__')[0]}-{n.split('__')[-2]}-{f}" for n, f, _ in EXPECTED]
)
def test_real_csv_values(name, field, expected):
    (sample,) = read_recording(str(real_csv(name)))
    assert getattr(sample.gpus[0], field) == expected


def test_real_csv_sample_level_fields():
    (old,) = read_recording(
        str(real_csv("gpu-exporter__465.27__ubuntu-20.04__rtx-2080-super__list-gpus+query-gpu+help.txt"))
    )
    assert old.time == "2021-06-10T00:55:54.492" and old.driver_version == "465.27"  # --help text after it ignored
    (new,) = read_recording(
        str(real_csv("gpu-exporter__linux-x86_64__nvidia-geforce-rtx-2080-super__610.57.04__query-gpu-all-fields.csv"))
    )
    assert new.driver_version == "610.57.04" and new.cuda_driver_version is None  # CSV has no CUDA field


@pytest.mark.parametrize(
    "cell, value",
    [
        ("[N/A]", None),
        ("N/A", None),
        ("[Unknown Error]", None),
        ("[Requested functionality has been deprecated]", None),
        ("[Not Supported]", None),
        ("", None),
        ("30.37 W", 30.37),
        ("7979 MiB", 7979),
        ("0 %", 0),
        ("56", 56),
        ("P0", None),
    ],
)
def test_cell_values(cell, value):
    assert parse_number(cell) == value


def test_unknown_error_in_a_field_read_is_null():
    text = "name, power.draw [W], power.limit [W]\n\nGeForce RTX 2080 Ti, 228.82, [Unknown Error]\n"
    (sample,) = parse_csv(text)
    assert sample.gpus[0].power_w == 228.82 and sample.gpus[0].power_limit_w is None
    assert smi_value("[Unknown Error]") is None


def test_a_looping_query_groups_rows_into_samples():
    text = (
        "timestamp, index, name, utilization.gpu [%]\r\n"
        "2026/01/01 10:00:00.000, 0, NVIDIA A100-SXM4-40GB, 10 %\r\n"
        "2026/01/01 10:00:00.001, 1, NVIDIA A100-SXM4-40GB, 20 %\r\n"
        "timestamp, index, name, utilization.gpu [%]\r\n"
        "2026/01/01 10:00:01.000, 0, NVIDIA A100-SXM4-40GB, 30 %\r\n"
        "2026/01/01 10:00:01.001, 1, NVIDIA A100-SXM4-40GB, 40 %\r\n"
    )
    samples = parse_csv(text)
    assert [[g.utilization_gpu_pct for g in s.gpus] for s in samples] == [[10, 20], [30, 40]]
    assert [s.time for s in samples] == ["2026-01-01T10:00:00.000", "2026-01-01T10:00:01.000"]


def test_throttle_reasons_from_one_field_per_reason():
    text = (
        "index, name, clocks_throttle_reasons.gpu_idle, clocks_throttle_reasons.hw_thermal_slowdown, "
        "clocks_throttle_reasons.sw_power_cap\n"
        "0, Tesla V100-SXM2-16GB, Not Active, Active, [N/A]\n"
    )
    assert parse_csv(text)[0].gpus[0].throttle_reasons == ["hw_thermal_slowdown"]


def test_utf16_from_powershell(tmp_path):
    path = tmp_path / "smi.csv"
    path.write_text("index, name, temperature.gpu\n0, NVIDIA GeForce RTX 3080, 65\n", encoding="utf-16")
    assert read_recording(str(path))[0].gpus[0].temperature_c == 65


def test_own_json_lines_replay_to_the_same_output(run_cli, tmp_path):
    path = real_csv("gpu-exporter__linux-x86_64__nvidia-l40s__595.80__query-gpu-all-fields.csv")
    recorded = run_cli("monitor", "--replay", str(path), "--json")
    recording = tmp_path / "recording.jsonl"
    recording.write_text(recorded.stdout * 3)  # three samples
    replayed = run_cli("monitor", "--replay", str(recording), "--json")
    assert replayed.returncode == 0, replayed.stderr
    lines = [json.loads(line) for line in replayed.stdout.splitlines()]
    assert len(lines) == 3
    assert lines[0]["gpus"] == json.loads(recorded.stdout)["gpus"]
    assert lines[0]["source"] == "replay:jsonl"


def test_replay_plain_output_when_not_a_terminal(run_cli):
    path = real_csv("gpu-exporter__linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__query-gpu-all-fields.csv")
    result = run_cli("monitor", "--replay", str(path))
    assert result.returncode == 0
    header, row = result.stdout.splitlines()
    assert header.split()[:3] == ["TIME", "GPU", "NAME"] and "\033" not in result.stdout
    assert "NVIDIA H100 80GB HBM3" in row and "0/81559 (0%)" in row and "70/700" in row


def test_count_stops_a_replay_early(run_cli, tmp_path):
    path = tmp_path / "loop.csv"
    path.write_text("index, name, temperature.gpu\n" + "".join(f"0, GPU, {t}\n" for t in range(40, 50)))
    result = run_cli("monitor", "--replay", str(path), "--json", "--count", "4")
    assert [json.loads(line)["gpus"][0]["temperature_c"] for line in result.stdout.splitlines()] == [40, 41, 42, 43]


BAD_INPUT = {
    "binary": b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00>\x00\xff\xfe\xfd",
    "random-bytes": bytes(range(256)) * 4,
    "empty": b"",
    "truncated-csv": (
        b"index, name, utilization.gpu [%], memory.used [MiB]\n0, NVIDIA H100, 50 %, 1000 MiB\n1, NVIDIA H1"
    ),
    "csv-without-header": b"GeForce RTX 2080 Ti, 100, 37, 56, 228.82, 210.00\n",
    "truncated-json": (
        b'{"schema": "gpu-preflight/sample/v1", "time": "2026-01-01T00:00:00Z", "gpus": [{"index": 0, "na'
    ),
    "garbage-json": b"{this is not json}\n",
    "json-of-another-kind": b'{"schema": "gpu-preflight/host/v1", "gpus": []}\n',
    "json-wrong-types": b'{"schema": "gpu-preflight/sample/v1", "time": "t", "gpus": [{"index": "0", "name": "x"}]}\n',
    "json-nested-too-deeply": b'{"schema": "gpu-preflight/sample/v1", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
    "json-bad-number": (
        b'{"schema": "gpu-preflight/sample/v1", "time": "t", "gpus": [{"index": 0, "name": "x", "power_w": "30 W"}]}\n'
    ),
}


@pytest.mark.parametrize("kind", sorted(BAD_INPUT))
def test_bad_replay_input_is_one_line_and_exit_2(kind, run_cli, tmp_path):
    path = tmp_path / f"{kind}.txt"
    path.write_bytes(BAD_INPUT[kind])
    result = run_cli("monitor", "--replay", str(path), "--json")
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("preflight: error: replay file")


def test_missing_replay_file(run_cli, tmp_path):
    result = run_cli("monitor", "--replay", str(tmp_path / "nope.csv"))
    assert (
        result.returncode == 2
        and "replay file" in result.stderr
        and "cannot read" in result.stderr
        and result.stderr.count("\n") == 1
    )


def test_replay_from_stdin(run_cli):
    result = run_cli("monitor", "--replay", "-", "--json", input="index, name, temperature.gpu\n0, Tesla T4, 44\n")
    assert result.returncode == 0 and json.loads(result.stdout)["gpus"][0]["temperature_c"] == 44


@pytest.mark.parametrize(
    "flags",
    [
        ["--interval", "0"],
        ["--interval", "-1"],
        ["--interval", "abc"],
        ["--interval", "nan"],
        ["--count", "0"],
        ["--count", "-3"],
        ["--count", "1.5"],
        ["--prometheus", "70000"],
        ["--prometheus", "http"],
        ["--timeout", "0"],
    ],
)
def test_bad_flags_exit_2(flags, run_cli):
    result = run_cli("monitor", *flags)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and flags[0] in result.stderr


def test_a_long_loop_of_distinct_gpus_reads_in_linear_time():
    """1,024 rows with different indexes: one sample; comparing each row with every row before it
    would be quadratic. More GPUs in one sample than any machine has is refused with the line."""
    text = "index, utilization.gpu [%]\n" + "".join(f"{i}, 50 %\n" for i in range(1024))
    (sample,) = parse_csv(text)
    assert len(sample.gpus) == 1024 and sample.gpus[-1].index == 1023
    text = "index, utilization.gpu [%]\n" + "".join(f"{i}, 50 %\n" for i in range(700_000))
    started = time.monotonic()
    with pytest.raises(CsvError, match="line 1026: more than 1,024 GPUs in one sample"):
        parse_csv(text)
    assert time.monotonic() - started < 5


def test_read_recording_raises_usage_error(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("no header here\n")
    with pytest.raises(UsageError, match="no nvidia-smi --query-gpu CSV found"):
        read_recording(str(path))
