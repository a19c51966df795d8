"""CUDA_VISIBLE_DEVICES as CUDA reads it."""

from __future__ import annotations

import pytest

from gpu_preflight.core.host import Gpu
from gpu_preflight.core.visible_devices import resolve_visible_devices

GPUS = [Gpu(0, "A", uuid="GPU-aaaa-1111"), Gpu(1, "B", uuid="GPU-bbbb-2222"), Gpu(2, "C", uuid="GPU-bbbc-3333")]


@pytest.mark.parametrize(
    ("value", "visible", "ignored"),
    [
        ("0,1,2", [0, 1, 2], []),
        ("2,0", [2, 0], []),
        ("", [], []),
        ("-1", [], ["-1"]),
        ("1,7,0", [1], ["7", "0"]),  # CUDA stops at the first entry it cannot resolve
        ("GPU-aaaa", [0], []),
        ("GPU-bbb", [], ["GPU-bbb"]),  # an ambiguous prefix resolves to nothing
        ("0,0", [0], ["0"]),
        ("1, 2", [1, 2], []),
    ],
)
def test_resolution(value, visible, ignored):
    result = resolve_visible_devices(value, GPUS)
    assert [g.index for g in result.visible] == visible
    assert result.ignored == ignored
