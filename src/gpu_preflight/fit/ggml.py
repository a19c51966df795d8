"""ggml tensor types and their sizes: a row of n elements of a type takes
n / block_elements * block_bytes bytes (gguf.toml [ggml.type], from the format's published
block sizes). The one place GGUF tensor bytes are computed."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from gpu_preflight.fit import data


@dataclass(frozen=True)
class GgmlType:
    name: str
    id: int
    block_elements: int
    block_bytes: int

    def row_bytes(self, elements: int) -> int:
        """Bytes of ``elements`` consecutive values; ValueError when they are not whole blocks."""
        if elements % self.block_elements:
            raise ValueError(f"{elements} elements are not whole {self.name} blocks of {self.block_elements}")
        return elements // self.block_elements * self.block_bytes

    def tensor_bytes(self, shape: Sequence[int]) -> int:
        """Bytes of a tensor of ``shape`` in ggml order (ne[0], the row length, first)."""
        shape = shape or (1,)  # a scalar is one element
        return self.row_bytes(shape[0]) * math.prod(shape[1:])


@functools.cache
def types() -> dict[str, GgmlType]:
    table = data.gguf()["ggml"]["type"]
    return {
        name: GgmlType(name, int(row["id"]), int(row["block_elements"]), int(row["block_bytes"]))
        for name, row in table.items()
    }


@functools.cache
def _by_id() -> dict[int, GgmlType]:
    return {t.id: t for t in types().values()}


def ggml_type(name: str) -> GgmlType:
    return types()[name]


def type_by_id(type_id: int) -> GgmlType | None:
    return _by_id().get(type_id)


def fits_blocks(name: str, row_length: int) -> bool:
    return row_length % types()[name].block_elements == 0
