"""Exact parameter counts and stored dtypes from ``*.safetensors`` headers, without loading a
tensor.

The format: 8 bytes little-endian header length N, N bytes of JSON mapping tensor names to
``{"dtype", "shape", "data_offsets": [begin, end]}`` (plus an optional ``__metadata__``), then
the data. Headers are untrusted: a huge N, bad JSON, shapes whose size disagrees with their
offsets or overruns the file all end in one UsageError line.
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.limits import MAX_SAFETENSORS_HEADER_BYTES

# safetensors itself refuses headers above 100 MB (MAX_HEADER_SIZE in the Rust crate); real ones
# are well under a few MB, and parsing 100 MB of JSON takes GiBs: refused far lower (limits.py).
MAX_HEADER_BYTES = MAX_SAFETENSORS_HEADER_BYTES
MAX_DIMENSIONS = 16

# Bytes per element of each safetensors dtype; sub-byte types are listed as fractions.
ELEMENT_BYTES = {
    "F64": 8,
    "I64": 8,
    "U64": 8,
    "F32": 4,
    "I32": 4,
    "U32": 4,
    "F16": 2,
    "BF16": 2,
    "I16": 2,
    "U16": 2,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "F8_E8M0": 1,
    "I8": 1,
    "U8": 1,
    "BOOL": 1,
    "F4": 0.5,
    "F6_E2M3": 0.75,
    "F6_E3M2": 0.75,
}


@dataclass
class StoredWeights:
    files: int = 0
    tensors: int = 0
    elements: int = 0  # parameters as stored (packed int4 counts as its int32 words)
    bytes: int = 0
    dtypes: dict[str, int] = field(default_factory=dict)  # dtype -> element count
    tied_duplicate: int = 0  # elements of an lm_head stored although tied to the embedding


def read_header(path: Path) -> dict[str, Any]:
    """The JSON header of one file, validated against the file's size."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            prefix = fh.read(8)
            if len(prefix) < 8:
                raise UsageError(f"{path}: not a safetensors file (shorter than its 8-byte header length)")
            (length,) = struct.unpack("<Q", prefix)
            if length > size - 8:
                raise UsageError(f"{path}: safetensors header claims {length} bytes, more than the file's {size}")
            if length > MAX_HEADER_BYTES:
                raise UsageError(
                    f"{path}: safetensors header of {length} bytes, larger than "
                    f"{MAX_HEADER_BYTES // (1024 * 1024)} MiB: not a real checkpoint header"
                )
            raw = fh.read(length)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # ValueError: also a 5,000-digit number
        raise UsageError(f"{path}: safetensors header is not valid JSON") from None
    if not isinstance(header, dict):
        raise UsageError(f"{path}: safetensors header is not a JSON object")
    data_bytes = size - 8 - length
    for name, entry in header.items():
        if name != "__metadata__":
            _check_entry(path, name, entry, data_bytes)
    return header


def _check_entry(path: Path, name: str, entry: object, data_bytes: int) -> None:
    where = f"{path}: tensor {name[:80]!r}"
    if not isinstance(entry, dict):
        raise UsageError(f"{where}: not an object")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_DIMENSIONS
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise UsageError(f"{where}: shape must be a list of at most {MAX_DIMENSIONS} non-negative integers")
    if not (
        isinstance(offsets, list)
        and len(offsets) == 2
        and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
    ):
        raise UsageError(f"{where}: data_offsets must be [begin, end]")
    begin, end = offsets
    if not 0 <= begin <= end <= data_bytes:
        raise UsageError(f"{where}: data_offsets {offsets} lie outside the file's {data_bytes} data bytes")
    if not isinstance(dtype, str) or dtype not in ELEMENT_BYTES:
        raise UsageError(f"{where}: unknown dtype {str(dtype)[:20]!r}")
    # Python integers do not overflow, but a hostile shape can still claim more elements than
    # any file holds: the size must equal the bytes the offsets give it.
    if math.prod(shape) * ELEMENT_BYTES[dtype] != end - begin:
        raise UsageError(f"{where}: shape {shape[:8]} of {dtype} does not match its {end - begin} data bytes")


def read_weights(directory: Path, tied_embeddings: bool = False) -> StoredWeights | None:
    """Totals over every ``*.safetensors`` file in ``directory``; None when there are none."""
    # Regular files only: a FIFO or device found by the scan would block the read forever.
    files = sorted(path for path in directory.glob("*.safetensors") if path.is_file())
    if not files:
        return None
    stored = StoredWeights(files=len(files))
    names: dict[str, int] = {}
    for path in files:
        for name, entry in read_header(path).items():
            if name == "__metadata__":
                continue
            elements = math.prod(entry["shape"])
            names[name] = elements
            stored.tensors += 1
            stored.elements += elements
            stored.bytes += entry["data_offsets"][1] - entry["data_offsets"][0]
            stored.dtypes[entry["dtype"]] = stored.dtypes.get(entry["dtype"], 0) + elements
    if tied_embeddings and "lm_head.weight" in names and any(n.endswith("embed_tokens.weight") for n in names):
        # Some checkpoints save the tied head anyway: it is one tensor in memory, not two.
        stored.tied_duplicate = names["lm_head.weight"]
    return stored
