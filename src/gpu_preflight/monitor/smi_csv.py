"""Read `nvidia-smi --query-gpu=... --format=csv[,nounits]` output into samples.

Quirks seen in real output (fixtures/real/SOURCES.md, section 3): units in the header
(`power.draw [W]`) and, without `nounits`, in every value (`30.37 W`); unavailable values as
`[N/A]`, bare `N/A`, `[Unknown Error]`, `[Requested functionality has been deprecated]`,
`[Not Supported]` (read by ``probe.smi_values``, the rule the XML reader follows too); a blank
line between header and rows; captures that hold several commands' output separated by
`# command` lines; `clocks_throttle_reasons.*` renamed `clocks_event_reasons.*` by newer drivers;
PowerShell's `>` writing UTF-16.
A loop (`-l`/`-lms`) repeats one row per GPU: a new sample starts when a GPU's index comes again.
"""

from __future__ import annotations

import csv
import functools
import re
from datetime import datetime
from typing import Any

from gpu_preflight.core.limits import MAX_HOST_GPUS, MAX_REPLAY_SAMPLES
from gpu_preflight.core.readers import iter_lines
from gpu_preflight.monitor.sample import (
    GpuSample,
    Sample,
    now_iso,
    throttle_reason_names,
)
from gpu_preflight.probe.smi_values import smi_value

# Sample field -> the nvidia-smi fields that hold it, best first. Graphics and SM clocks are one
# clock on every GPU since Kepler (the fixtures show them equal); some queries ask for only one.
FIELDS: dict[str, tuple[str, ...]] = {
    "index": ("index",),
    "name": ("name",),
    "uuid": ("uuid",),
    "utilization_gpu_pct": ("utilization.gpu",),
    "utilization_memory_pct": ("utilization.memory",),
    "memory_used_mib": ("memory.used",),
    "memory_total_mib": ("memory.total",),
    "temperature_c": ("temperature.gpu",),
    "power_w": ("power.draw", "power.draw.instant", "power.draw.average"),
    "power_limit_w": ("enforced.power.limit", "power.limit"),
    "sm_clock_mhz": ("clocks.current.sm", "clocks.sm", "clocks.current.graphics", "clocks.gr"),
    "memory_clock_mhz": ("clocks.current.memory", "clocks.mem"),
    "sm_clock_max_mhz": ("clocks.max.sm", "clocks.max.graphics"),
    "sm_clock_base_mhz": ("clocks.default_applications.graphics",),
    "ecc_errors_corrected": ("ecc.errors.corrected.volatile.total",),
    "ecc_errors_uncorrected": ("ecc.errors.uncorrected.volatile.total",),
}
INTEGER_FIELDS = {"index", "ecc_errors_corrected", "ecc_errors_uncorrected"}
TEXT_FIELDS = {"name", "uuid"}
THROTTLE_PREFIXES = ("clocks_event_reasons", "clocks_throttle_reasons")
KNOWN_FIELDS = (
    {name for names in FIELDS.values() for name in names}
    | {"timestamp", "driver_version"}
    | {f"{prefix}.active" for prefix in THROTTLE_PREFIXES}
)

_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*$")
_UNIT_SUFFIX = re.compile(r"\s*\[[^\]]*\]$")  # "power.draw [W]" -> "power.draw"
_NUMBER = re.compile(r"(-?\d+(?:\.\d+)?)(?:\s*[A-Za-z%/]+)?$")  # "30.37 W", "0 %", "7979 MiB", "56"
_HEX = re.compile(r"0x[0-9A-Fa-f]+$")


class CsvError(ValueError):
    """Not nvidia-smi CSV; the message names the line."""


# A recording repeats the same few thousand cell texts (names, "0 %", "81559 MiB"): each is read
# once. Bounded caches, so that a file of unique cells costs time, never memory.
_cell = functools.lru_cache(maxsize=1 << 16)(smi_value)


@functools.lru_cache(maxsize=1 << 16)
def parse_number(cell: str) -> int | float | None:
    """A cell's number, its unit dropped ("30.37 W"); None when nvidia-smi has no value there
    (``smi_value``) or the cell is not a number ("P0")."""
    value = _cell(cell)
    match = _NUMBER.match(value) if value is not None else None
    if match is None:
        return None
    number = match.group(1)
    if len(number) > 40:
        return None  # no reading has forty digits: a broken cell, not a number
    return float(number) if "." in number else int(number)


def header_fields(line: str) -> list[str] | None:
    """The field names when ``line`` is a --query-gpu header naming at least one field we read."""
    names = [_UNIT_SUFFIX.sub("", cell.strip()) for cell in line.split(",")]
    if all(_FIELD_NAME.match(name) for name in names) and KNOWN_FIELDS & set(names):
        return names
    return None


def parse_csv(text: str) -> list[Sample]:
    """Every sample in the text. Raises ``CsvError`` (with the line number) for text that is not
    --query-gpu CSV: no header line, or a row whose value count differs from the header's, or
    more GPUs in one sample or more samples than any real recording has."""
    samples: list[Sample] = []
    header: list[str] | None = None
    plan: _Plan | None = None
    row_plan: _Plan = _Plan([])  # the plan of the rows in ``current``
    current: list[dict[str, str]] = []
    seen: set[str] = set()  # the GPU keys of ``current``: a set, so a long loop stays linear
    for number, line in enumerate(iter_lines(text), start=1):
        if line.startswith("#"):  # a capture's "# nvidia-smi ..." line: another command's output follows
            header = None
            continue
        if not line.strip():
            continue
        if header is None or plan is None:
            header = header_fields(line)
            plan = _Plan(header) if header else None
            continue  # not a header: --list-gpus or --help output in a capture, skipped
        if line.lstrip().startswith(header[0]) and header_fields(line) == header:
            continue  # a repeated header
        cells = next(csv.reader([line], skipinitialspace=True))
        if len(cells) != len(header):
            raise CsvError(
                f"line {number}: {len(cells)} values for {len(header)} header fields"
                " (truncated, or not nvidia-smi CSV?)"
            )
        row = dict(zip(header, cells, strict=True))
        key = plan.gpu_key(row)
        if key is not None and key in seen:
            samples.append(_sample(current, row_plan))
            current, seen = [], set()
            if len(samples) >= MAX_REPLAY_SAMPLES:
                raise CsvError(f"line {number}: more than {MAX_REPLAY_SAMPLES:,} samples; replay a part of it")
        current.append(row)
        row_plan = plan
        if len(current) > MAX_HOST_GPUS:
            raise CsvError(
                f"line {number}: more than {MAX_HOST_GPUS:,} GPUs in one sample"
                " (does the index, uuid or pci.bus_id column never repeat?)"
            )
        if key is not None:
            seen.add(key)
    if current:
        samples.append(_sample(current, row_plan))
    if not samples:
        raise CsvError(
            "no nvidia-smi --query-gpu CSV found: expected a header line naming fields such as"
            " 'index, name, utilization.gpu [%]' followed by rows"
        )
    return samples


class _Plan:
    """What to read from the columns of one header, worked out once rather than per row."""

    def __init__(self, header: list[str]) -> None:
        present = set(header)
        self.columns = [(name, [c for c in names if c in present]) for name, names in FIELDS.items()]
        self.key_columns = [c for c in ("index", "uuid", "pci.bus_id") if c in present]
        self.masks = [f"{prefix}.active" for prefix in THROTTLE_PREFIXES if f"{prefix}.active" in present]
        self.flags = [
            (name, name.partition(".")[2])
            for name in header
            if name.partition(".")[0] in THROTTLE_PREFIXES and name.partition(".")[2] not in ("supported", "active")
        ]

    def gpu_key(self, row: dict[str, str]) -> str | None:
        for column in self.key_columns:
            value = _cell(row[column])
            if value:
                return value
        return None


def _sample(rows: list[dict[str, str]], plan: _Plan) -> Sample:
    first = rows[0]
    return Sample(
        time=_iso_time(first.get("timestamp")) or now_iso(),
        gpus=[_gpu(row, position, plan) for position, row in enumerate(rows)],
        source="replay:csv",
        driver_version=_cell(first["driver_version"]) if "driver_version" in first else None,
    )


def _gpu(row: dict[str, str], position: int, plan: _Plan) -> GpuSample:
    values: dict[str, Any] = {}
    for field, names in plan.columns:
        cell = next((row[name] for name in names if _cell(row[name]) is not None), None)
        if cell is None:
            values[field] = None
        elif field in TEXT_FIELDS:
            values[field] = _cell(cell)
        else:
            number = parse_number(cell)
            values[field] = int(number) if number is not None and field in INTEGER_FIELDS else number
    values["index"] = values["index"] if values["index"] is not None else position
    values["name"] = values["name"] or "unknown"
    return GpuSample(**values, throttle_reasons=_throttle_reasons(row, plan))


def _throttle_reasons(row: dict[str, str], plan: _Plan) -> list[str] | None:
    for column in plan.masks:
        mask = _cell(row[column])
        if mask and _HEX.match(mask) and len(mask) <= 18:
            return throttle_reason_names(int(mask, 16))
    # No bitmask: the one-field-per-reason form ("Active" / "Not Active").
    flags = {}
    for name, reason in plan.flags:
        value = _cell(row[name])
        if value is not None:
            flags[reason] = value
    return [name for name, value in flags.items() if value == "Active"] if flags else None


def _iso_time(cell: str | None) -> str | None:
    value = smi_value(cell)
    if value is None:
        return None
    try:  # nvidia-smi's "2021/06/10 00:55:54.492", local time of the machine that wrote it
        return datetime.strptime(value, "%Y/%m/%d %H:%M:%S.%f").isoformat(timespec="milliseconds")
    except ValueError:
        return None
