"""``--replay FILE``: samples from a recording, through the same loop as live NVML samples.

A recording is either the JSON lines ``preflight monitor --json`` wrote, or nvidia-smi
``--query-gpu ... --format=csv`` output (see ``smi_csv``); the first meaningful character tells
which. The whole file is read and checked before the first sample is shown, so bad input ends
with one line and exit 2 rather than half a replay.
"""

from __future__ import annotations

import codecs
import re

from gpu_preflight.core.decode import DecodeError
from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.limits import MAX_REPLAY_BYTES, MAX_REPLAY_SAMPLES
from gpu_preflight.core.readers import iter_lines, loads_json, read_input
from gpu_preflight.monitor.sample import Sample
from gpu_preflight.monitor.smi_csv import CsvError, parse_csv
from gpu_preflight.monitor.source import SeriesSource

_JSON_START = re.compile(r"\s*\{")
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
    text = _decode(read_input(path, "replay file", MAX_REPLAY_BYTES, allow_empty=True), name)
    try:
        if _JSON_START.match(text):
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
    if not text or text.isspace():  # not text.strip(): no copy of a big file
        raise UsageError(f"replay file {name} is empty")
    return text


def parse_json_lines(text: str) -> list[Sample]:
    if text.count("\n") > MAX_REPLAY_SAMPLES + 1000:  # counted first: refused before any is read
        raise ValueError(f"more than {MAX_REPLAY_SAMPLES:,} lines; replay a part of it")
    samples: list[Sample] = []
    for number, line in enumerate(iter_lines(text), start=1):
        if not line.strip():
            continue
        if len(samples) >= MAX_REPLAY_SAMPLES:
            raise ValueError(f"line {number}: more than {MAX_REPLAY_SAMPLES:,} samples; replay a part of it")
        try:
            samples.append(Sample.from_dict(loads_json(line)))
        except DecodeError as exc:
            raise ValueError(f"line {number}: {exc}") from None
        except ValueError as exc:  # JsonError is a ValueError
            raise ValueError(f"line {number}: not a monitor JSON line ({exc})") from None
    return samples
