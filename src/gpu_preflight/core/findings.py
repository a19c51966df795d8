"""Findings: what a check concluded, in the shape of the report contract (docs/architecture.md, "Contracts")."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import IntEnum
from typing import Any


class Severity(IntEnum):
    PASS = 0
    INFO = 1
    WARN = 2
    FAIL = 3

    @property
    def label(self) -> str:
        return self.name.lower()


# Cause ids shared by doctor findings and explain causes (docs/architecture.md, "Cause taxonomy"). Add; never rename.
CAUSES = frozenset(
    {
        "driver-too-old",
        "no-kernel-image",
        "gpu-too-old",
        "cpu-only-build",
        "no-driver",
        "driver-library-mismatch",
        "container-requirement",
        "container-no-gpu",
        "missing-cuda-library",
        "cudnn-mismatch",
        "forward-compat-unsupported",
        "driver-compat-mismatch",
        "ptx-too-new",
        "out-of-memory",
        "cuda-version-confusion",
        "fabric-manager",
        "runtime-library-too-old",
        "unsupported-dtype",
        "host-compiler-unsupported",
        "toolchain-mismatch",
    }
)


@dataclass
class Finding:
    code: str
    severity: Severity
    title: str
    detail: str = ""
    cause: str | None = None
    device: int | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    fix: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.cause is not None and self.cause not in CAUSES:
            raise ValueError(f"unknown cause id {self.cause!r}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = self.severity.label
        return data


def overall_status(findings: list[Finding]) -> str:
    """The worst severity; ``info`` counts as pass (docs/architecture.md, "Contracts")."""
    worst = max((f.severity for f in findings), default=Severity.PASS)
    return "pass" if worst <= Severity.INFO else worst.label
