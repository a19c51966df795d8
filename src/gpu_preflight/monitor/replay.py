"""``--replay FILE``: samples from a recording, through the same loop as live NVML samples.

A recording is either the JSON lines ``preflight monitor --json`` wrote, or nvidia-smi
``--query-gpu ... --format=csv`` output (see ``smi_csv``); the first meaningful character tells
which. The whole file is read and checked before the first sample is shown, so bad input ends
with one line and exit 2 rather than half a replay.
"""

from __future__ import annotations

import codecs
import json

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.readers import read_input
from gpu_preflight.monitor.sample import Sample
from gpu_preflight.monitor.smi_csv import CsvError, parse_csv
from gpu_preflight.monitor.source import SeriesSource

MAX_BYTES = 512 * 1024 * 1024
# (byte-order mark, the codec that reads text starting with it), checked in this order
BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
    (codecs.BOM_UTF8, "utf-8-sig"),
)


def open_replay(path: str) -> SeriesSource:
    return SeriesSource(read_recording(path))


def read_recording(path: str) -> list[Sample]:
    name = "stdin" if path == "-" else path
    data = read_input(path, "replay file", MAX_BYTES, allow_empty=True)
    text = _decode(data, name)
    try:
        if text.lstrip().startswith("{"):
            return parse_json_lines(text)
        return parse_csv(text)
    except (CsvError, ValueError) as exc:
        raise UsageError(f"replay file {name}: {exc}") from None


def _decode(data: bytes, name: str) -> str:
    # PowerShell's ">" writes UTF-16 with a byte-order mark; other tools UTF-8, with or without one.
    encoding = next((codec for bom, codec in BYTE_ORDER_MARKS if data.startswith(bom)), "utf-8")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        raise UsageError(
            f"replay file {name} is not text (binary?): expected monitor JSON lines or nvidia-smi CSV"
        ) from None
    if "\x00" in text:
        raise UsageError(f"replay file {name} is not text (binary?): expected monitor JSON lines or nvidia-smi CSV")
    if not text.strip():
        raise UsageError(f"replay file {name} is empty")
    return text


def parse_json_lines(text: str) -> list[Sample]:
    samples = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            samples.append(Sample.from_dict(json.loads(line)))
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            raise ValueError(f"line {number}: not a monitor JSON line ({exc})") from None
        except RecursionError:
            raise ValueError(f"line {number}: not a monitor JSON line (nested too deeply)") from None
    return samples
