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
import re
from datetime import datetime
from typing import Any

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


def parse_number(cell: str) -> int | float | None:
    """A cell's number, its unit dropped ("30.37 W"); None when nvidia-smi has no value there
    (``smi_value``) or the cell is not a number ("P0")."""
    value = smi_value(cell)
    match = _NUMBER.match(value) if value is not None else None
    if match is None:
        return None
    number = match.group(1)
    return float(number) if "." in number else int(number)


def header_fields(line: str) -> list[str] | None:
    """The field names when ``line`` is a --query-gpu header naming at least one field we read."""
    names = [_UNIT_SUFFIX.sub("", cell.strip()) for cell in line.split(",")]
    if all(_FIELD_NAME.match(name) for name in names) and KNOWN_FIELDS & set(names):
        return names
    return None


def parse_csv(text: str) -> list[Sample]:
    """Every sample in the text. Raises ``CsvError`` (with the line number) for text that is not
    --query-gpu CSV: no header line, or a row whose value count differs from the header's."""
    samples: list[Sample] = []
    header: list[str] | None = None
    current: list[dict[str, str]] = []
    seen: set[str] = set()  # the GPU keys of ``current``: a set, so a long loop stays linear
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("#"):  # a capture's "# nvidia-smi ..." line: another command's output follows
            header = None
            continue
        if not line.strip():
            continue
        if header is None:
            header = header_fields(line)
            continue  # not a header: --list-gpus or --help output in a capture, skipped
        if header_fields(line) == header:
            continue  # a repeated header
        cells = next(csv.reader([line], skipinitialspace=True))
        if len(cells) != len(header):
            raise CsvError(
                f"line {number}: {len(cells)} values for {len(header)} header fields"
                " (truncated, or not nvidia-smi CSV?)"
            )
        row = dict(zip(header, cells, strict=True))
        key = _gpu_key(row)
        if key is not None and key in seen:
            samples.append(_sample(current))
            current, seen = [], set()
        current.append(row)
        if key is not None:
            seen.add(key)
    if current:
        samples.append(_sample(current))
    if not samples:
        raise CsvError(
            "no nvidia-smi --query-gpu CSV found: expected a header line naming fields such as"
            " 'index, name, utilization.gpu [%]' followed by rows"
        )
    return samples


def _gpu_key(row: dict[str, str]) -> str | None:
    return smi_value(row.get("index")) or smi_value(row.get("uuid")) or smi_value(row.get("pci.bus_id"))


def _sample(rows: list[dict[str, str]]) -> Sample:
    first = rows[0]
    return Sample(
        time=_iso_time(first.get("timestamp")) or now_iso(),
        gpus=[_gpu(row, position) for position, row in enumerate(rows)],
        source="replay:csv",
        driver_version=smi_value(first.get("driver_version")),
    )


def _gpu(row: dict[str, str], position: int) -> GpuSample:
    values: dict[str, Any] = {}
    for field, names in FIELDS.items():
        cells = [row[name] for name in names if name in row and smi_value(row[name]) is not None]
        if not cells:
            values[field] = None
        elif field in TEXT_FIELDS:
            values[field] = smi_value(cells[0])
        else:
            number = parse_number(cells[0])
            values[field] = int(number) if number is not None and field in INTEGER_FIELDS else number
    values["index"] = values["index"] if values["index"] is not None else position
    values["name"] = values["name"] or "unknown"
    return GpuSample(**values, throttle_reasons=_throttle_reasons(row))


def _throttle_reasons(row: dict[str, str]) -> list[str] | None:
    for prefix in THROTTLE_PREFIXES:
        mask = smi_value(row.get(f"{prefix}.active"))
        if mask and _HEX.match(mask):
            return throttle_reason_names(int(mask, 16))
    # No bitmask: the one-field-per-reason form ("Active" / "Not Active").
    flags = {}
    for name, value in row.items():
        prefix, _, reason = name.partition(".")
        if prefix in THROTTLE_PREFIXES and reason not in ("supported", "active") and smi_value(value) is not None:
            flags[reason] = smi_value(value)
    return [name for name, value in flags.items() if value == "Active"] if flags else None


def _iso_time(cell: str | None) -> str | None:
    value = smi_value(cell)
    if value is None:
        return None
    try:  # nvidia-smi's "2021/06/10 00:55:54.492", local time of the machine that wrote it
        return datetime.strptime(value, "%Y/%m/%d %H:%M:%S.%f").isoformat(timespec="milliseconds")
    except ValueError:
        return None
