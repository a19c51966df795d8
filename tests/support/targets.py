"""Helpers of the targets tests: input files written for a test, and the one-line UsageError a
bad input must give."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gpu_preflight.core.errors import UsageError
from gpu_preflight.targets.model import TorchTarget

CU118 = "https://download.pytorch.org/whl/cu118"
CU121 = "https://download.pytorch.org/whl/cu121"
WHEEL_CU118 = "https://download.pytorch.org/whl/cu118/torch-2.1.0%2Bcu118-cp310-cp310-linux_x86_64.whl"


def usage_error(call: Callable[..., object], *args: object) -> str:
    """The message of the UsageError ``call(*args)`` raises, checked to be one line."""
    with pytest.raises(UsageError) as info:
        call(*args)
    message = str(info.value)
    assert message and "\n" not in message and "\r" not in message
    return message


def write(path: Path, text: str | bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        text = text.encode()
    path.write_bytes(text)
    return str(path)


def summary(targets: list[TorchTarget]) -> list[tuple[str | None, str | None, str | None, str, bool]]:
    return [(t.torch_version, t.variant, t.index_url, t.source, t.pinned) for t in targets]
