"""targets/model.py: the target value objects, frozen and described in one line."""

from __future__ import annotations

import dataclasses

import pytest

from gpu_preflight.core.versions import Version
from gpu_preflight.targets.model import CudaTarget, Target, TorchTarget


def test_targets_are_frozen() -> None:
    target = TorchTarget("2.1.0", "cu118", None, "--torch 2.1.0+cu118")
    with pytest.raises(dataclasses.FrozenInstanceError):
        target.variant = "cu121"  # type: ignore[misc]
    assert target == TorchTarget("2.1.0", "cu118", None, "--torch 2.1.0+cu118")
    assert hash(target) == hash(TorchTarget("2.1.0", "cu118", None, "--torch 2.1.0+cu118"))


@pytest.mark.parametrize(
    ("target", "text"),
    [
        (
            TorchTarget("2.1.0", "cu118", None, "--torch 2.1.0+cu118"),
            "torch 2.1.0+cu118 (CUDA 11.8 runtime) from --torch 2.1.0+cu118",
        ),
        (TorchTarget("2.6.0", None, None, "--torch 2.6.0"), "torch 2.6.0 (default PyPI wheel) from --torch 2.6.0"),
        (TorchTarget("2.3.0", "cpu", None, "--torch 2.3.0+cpu"), "torch 2.3.0+cpu from --torch 2.3.0+cpu"),
        (CudaTarget(Version.of(12, 4), "--cuda cu124"), "CUDA runtime 12.4 from --cuda cu124"),
        (TorchTarget(None, None, None, "r.txt:1", pinned=False), "torch (not pinned to one release) from r.txt:1"),
        (
            TorchTarget(None, "cu121", None, "r.txt:2", pinned=False, specifier=">=2.1"),
            "torch>=2.1 (not pinned to one release, cu121 wheel, CUDA 12.1 runtime) from r.txt:2",
        ),
    ],
)
def test_describe(target: Target, text: str) -> None:
    assert target.describe() == text
