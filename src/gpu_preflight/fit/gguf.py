"""A bounded reader of a GGUF file's header: metadata and tensor infos, never tensor data.

The format (versions 2 and 3, little-endian; gguf-py's GGUFWriter and ggml's gguf.cpp):

    magic "GGUF" (u32 0x46554747) | version u32 | tensor count u64 | metadata count u64
    metadata: key (string) | value type u32 | value      string = u64 length + UTF-8 bytes
              array value = item type u32 | count u64 | items
    tensor infos: name (string) | n_dims u32 | ne[0..n_dims) u64 | ggml type u32 | offset u64
    padding to general.alignment (default 32), then the tensor data (offsets count from here)

Files are untrusted: every count, length and size is checked against the caps in
core/limits.py and against what the file can still hold before anything is read or kept, so a
hostile header ends in one UsageError line, never a hang or a huge allocation. Long metadata
arrays (tokenizer vocabularies) are skipped and kept as their length only.
"""

from __future__ import annotations

import math
import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.limits import (
    MAX_GGUF_ARRAY_ITEMS,
    MAX_GGUF_DIMENSIONS,
    MAX_GGUF_HEADER_BYTES,
    MAX_GGUF_KV,
    MAX_GGUF_NESTING,
    MAX_GGUF_STRING_BYTES,
    MAX_GGUF_TENSORS,
)
from gpu_preflight.fit.ggml import type_by_id
from gpu_preflight.fit.gguf_mix import TensorInfo

MAGIC = b"GGUF"
VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32
KEPT_ARRAY_ITEMS = 4096  # longer arrays (vocabularies, merges) are skipped: only their length is kept

# value type -> struct format of one item; 8 (string) and 9 (array) are read by hand.
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
# The fewest bytes one metadata entry or tensor info can take: counts above what the file can
# hold are refused before the first one is read.
_MIN_KV_BYTES = 8 + 4 + 1
_MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8


@dataclass(frozen=True)
class SkippedArray:
    """A metadata array too long to keep (a tokenizer's vocabulary): its item type and length."""

    item_type: int
    length: int


@dataclass
class GgufFile:
    path: str
    version: int
    file_size: int
    metadata: dict[str, Any]
    tensors: list[TensorInfo]
    alignment: int
    data_offset: int  # where the tensor data starts

    @property
    def weight_bytes(self) -> int:
        return sum(t.bytes for t in self.tensors)

    @property
    def architecture(self) -> str | None:
        value = self.metadata.get("general.architecture")
        return value if isinstance(value, str) else None


class _Stream:
    """Exact reads from the header's bytes: at most MAX_GGUF_HEADER_BYTES of the file are read
    into memory, once; a read past them is a truncated file or a header over the cap."""

    def __init__(self, data: bytes, path: str, size: int) -> None:
        self.data, self.path, self.size, self.pos = data, path, size, 0

    def fail(self, why: str) -> UsageError:
        return UsageError(f"{self.path}: not a usable GGUF file: {why}")

    def remaining(self) -> int:
        return self.size - self.pos

    def overrun(self, n: int, what: str) -> UsageError:
        if self.pos + n > self.size:
            return self.fail(
                f"truncated: {what} needs {n:,} bytes at offset {self.pos:,}, the file has {self.remaining():,} left"
            )
        return self.fail(f"header larger than {MAX_GGUF_HEADER_BYTES // (1024 * 1024)} MiB, more than any real model's")

    def skip(self, n: int, what: str) -> None:
        if self.pos + n > len(self.data):
            raise self.overrun(n, what)
        self.pos += n

    def read(self, n: int, what: str) -> bytes:
        start = self.pos
        self.skip(n, what)
        return self.data[start : self.pos]

    def unpack(self, fmt: str, what: str) -> Any:
        size = struct.calcsize(fmt)
        start = self.pos
        self.skip(size, what)
        return struct.unpack_from(fmt, self.data, start)[0]

    def string(self, what: str, keep: bool = True) -> str:
        length = self.unpack("<Q", what)
        if length > MAX_GGUF_STRING_BYTES:
            raise self.fail(f"{what} claims {length:,} bytes, more than {MAX_GGUF_STRING_BYTES // (1024 * 1024)} MiB")
        if not keep:
            self.skip(length, what)
            return ""
        raw = self.read(length, what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail(f"{what} is not UTF-8 text") from None

    def skip_strings(self, count: int, what: str) -> None:
        """``count`` strings passed over in one tight loop (a vocabulary of 260,000 tokens)."""
        data, pos, end = self.data, self.pos, len(self.data)
        for _ in range(count):
            if pos + 8 > end:
                self.pos = pos
                raise self.overrun(8, what)
            (length,) = _U64.unpack_from(data, pos)
            if length > MAX_GGUF_STRING_BYTES:
                raise self.fail(
                    f"{what} claims {length:,} bytes, more than {MAX_GGUF_STRING_BYTES // (1024 * 1024)} MiB"
                )
            if pos + 8 + length > end:
                self.pos = pos + 8
                raise self.overrun(length, what)
            pos += 8 + length
        self.pos = pos


_U64 = struct.Struct("<Q")


def read_gguf(path: str | Path) -> GgufFile:
    """The header of the GGUF file at ``path``; anything unusable is one UsageError line."""
    label = str(path)
    try:
        info = os.stat(path)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"{label}: cannot read: {reason}") from None
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"{label}: not a regular file (a directory, FIFO or device), not a GGUF file")
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_GGUF_HEADER_BYTES)
    except OSError as exc:
        raise UsageError(f"{label}: cannot read: {exc.strerror or exc}") from None
    # The size the header is judged against: the file's, or what was read if it shrank meanwhile.
    size = info.st_size if len(data) == min(info.st_size, MAX_GGUF_HEADER_BYTES) else len(data)
    return _read(_Stream(data, label, size))


def _read(stream: _Stream) -> GgufFile:
    magic = stream.read(4, "the magic") if stream.remaining() >= 4 else b""
    if magic != MAGIC:
        raise UsageError(f"{stream.path}: not a GGUF file (it does not start with 'GGUF')")
    version = stream.unpack("<I", "the version")
    if version not in VERSIONS:
        raise stream.fail(f"version {version}; this reader knows GGUF versions {', '.join(map(str, VERSIONS))}")
    tensor_count = stream.unpack("<Q", "the tensor count")
    kv_count = stream.unpack("<Q", "the metadata count")
    _check_count(stream, kv_count, MAX_GGUF_KV, _MIN_KV_BYTES, "metadata entries")
    _check_count(stream, tensor_count, MAX_GGUF_TENSORS, _MIN_TENSOR_INFO_BYTES, "tensors")
    metadata: dict[str, Any] = {}
    for index in range(kv_count):
        key = stream.string(f"metadata key {index}")
        value_type = stream.unpack("<I", f"the type of {key[:80]!r}")
        metadata[key] = _value(stream, value_type, key[:80], depth=0)
    infos = [_tensor_info(stream, index) for index in range(tensor_count)]
    tensors = [tensor for tensor, _ in infos]
    if len({t.name for t in tensors}) != len(tensors):
        raise stream.fail("two tensor infos share a name")
    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if isinstance(alignment, bool) or not isinstance(alignment, int) or alignment < 1 or alignment & (alignment - 1):
        raise stream.fail(f"general.alignment must be a power of two, got {str(alignment)[:40]!r}")
    data_offset = math.ceil(stream.pos / alignment) * alignment
    data_bytes = max(0, stream.size - data_offset)
    for tensor, offset in infos:
        # Python integers do not overflow: a hostile shape or offset simply lies past the end.
        if offset + tensor.bytes > data_bytes:
            raise stream.fail(
                f"tensor {tensor.name[:80]!r} ({tensor.bytes:,} bytes at data offset {offset:,}) lies past "
                f"the end of the file's {data_bytes:,} data bytes (truncated or not a whole file)"
            )
    return GgufFile(stream.path, version, stream.size, metadata, tensors, alignment, data_offset)


def _check_count(stream: _Stream, count: int, cap: int, smallest: int, what: str) -> None:
    if count > cap:
        raise stream.fail(f"{count:,} {what}, more than any real model has ({cap:,})")
    if count * smallest > stream.remaining():
        raise stream.fail(f"{count:,} {what} cannot fit in the {stream.remaining():,} bytes left")


def _value(stream: _Stream, value_type: int, key: str, depth: int) -> Any:
    if value_type in _SCALARS:
        return stream.unpack(_SCALARS[value_type], f"the value of {key!r}")
    if value_type == _STRING:
        return stream.string(f"the value of {key!r}")
    if value_type != _ARRAY:
        raise stream.fail(f"metadata {key!r} has unknown value type {value_type}")
    if depth >= MAX_GGUF_NESTING:
        raise stream.fail(f"metadata {key!r} nests arrays more than {MAX_GGUF_NESTING} deep")
    item_type = stream.unpack("<I", f"the item type of {key!r}")
    count = stream.unpack("<Q", f"the length of {key!r}")
    if count > MAX_GGUF_ARRAY_ITEMS:
        raise stream.fail(f"metadata {key!r} claims {count:,} items, more than {MAX_GGUF_ARRAY_ITEMS:,}")
    if item_type in _SCALARS:
        size = struct.calcsize(_SCALARS[item_type])
        if count > KEPT_ARRAY_ITEMS:
            stream.skip(count * size, f"the items of {key!r}")
            return SkippedArray(item_type, count)
        raw = stream.read(count * size, f"the items of {key!r}")
        return list(struct.unpack(f"<{count}{_SCALARS[item_type][1:]}", raw))
    if item_type not in (_STRING, _ARRAY):
        raise stream.fail(f"metadata {key!r} has unknown item type {item_type}")
    # Strings take at least their 8-byte length: a count the file cannot hold is refused now.
    if count * 8 > stream.remaining():
        raise stream.fail(f"metadata {key!r} claims {count:,} items, more than the file holds")
    keep = count <= KEPT_ARRAY_ITEMS
    if item_type == _STRING and not keep:
        stream.skip_strings(count, f"an item of {key!r}")
        return SkippedArray(item_type, count)
    items = []
    what = f"an item of {key!r}"  # once: formatting it per item would dominate a 1M-item array
    for _ in range(count):
        if item_type == _STRING:
            item: Any = stream.string(what, keep=keep)
        else:
            item = _nested(stream, key, depth + 1)
        if keep:
            items.append(item)
    return items if keep else SkippedArray(item_type, count)


def _nested(stream: _Stream, key: str, depth: int) -> Any:
    """One array inside an array: the item type and count of its own, then its items."""
    return _value(stream, _ARRAY, key, depth)


def _tensor_info(stream: _Stream, index: int) -> tuple[TensorInfo, int]:
    name = stream.string(f"the name of tensor {index}")
    where = f"tensor {name[:80]!r}"
    n_dims = stream.unpack("<I", f"the dimensions of {where}")
    if not 1 <= n_dims <= MAX_GGUF_DIMENSIONS:
        raise stream.fail(f"{where} has {n_dims} dimensions (1 to {MAX_GGUF_DIMENSIONS})")
    shape = tuple(stream.unpack("<Q", f"the shape of {where}") for _ in range(n_dims))
    type_id = stream.unpack("<I", f"the type of {where}")
    offset = stream.unpack("<Q", f"the offset of {where}")
    ggml = type_by_id(type_id)
    if ggml is None:
        raise stream.fail(f"{where} has ggml type {type_id}, not one this reader knows")
    if shape[0] % ggml.block_elements:
        raise stream.fail(f"{where}: rows of {shape[0]:,} are not whole {ggml.name} blocks of {ggml.block_elements}")
    return TensorInfo(name, shape, ggml.name), offset
