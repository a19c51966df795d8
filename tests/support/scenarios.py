"""Building blocks for the doctor scenario tests: hosts made from the Host dataclasses (never a
live probe), what-if hosts resolved through HostSpec, and expectations on a Report.

An expectation names a finding by its ``code`` *or* its ``cause`` (so a row can say "a
no-kernel-image failure on GPU 0" without caring which check module produced it), optionally
with a severity and a device. Fix expectations look at the ``fix`` texts of matching findings.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpu_preflight.checks.diagnose import Report, diagnose
from gpu_preflight.core.findings import Finding
from gpu_preflight.core.host import Driver, Framework, Gpu, Host, ProbeError, Toolkit
from gpu_preflight.probe.hostspec import HostSpec, resolve_host
from gpu_preflight.targets.specs import collect_targets

ANY = object()  # "any device" in an expectation (None means "no device": a host-wide finding)

# --- hosts ----------------------------------------------------------------------------------------

# (name as NVML reports it, compute capability, NVML brand). CCs: cuda-facts.md section 4.
A100 = ("NVIDIA A100-SXM4-40GB", "8.0", "NVIDIA")
B200 = ("NVIDIA B200", "10.0", "NVIDIA")
B300 = ("NVIDIA B300", "10.3", "NVIDIA")
GB10 = ("NVIDIA GB10", "12.1", "NVIDIA")
GTX1080 = ("GeForce GTX 1080", "6.1", "GeForce")
H100 = ("NVIDIA H100 80GB HBM3", "9.0", "NVIDIA")
K80 = ("Tesla K80", "3.7", "Tesla")
P100 = ("Tesla P100-PCIE-16GB", "6.0", "Tesla")
RTX3080 = ("NVIDIA GeForce RTX 3080", "8.6", "GeForce")
RTX3090 = ("NVIDIA GeForce RTX 3090", "8.6", "GeForce")
RTX4090 = ("NVIDIA GeForce RTX 4090", "8.9", "GeForce")
RTX5090 = ("NVIDIA GeForce RTX 5090", "12.0", "GeForce")
T4 = ("Tesla T4", "7.5", "NVIDIA")
V100 = ("Tesla V100-SXM3-32GB", "7.0", "Tesla")


def host(
    driver: str | None,
    *gpus: tuple[str, str | None, str | None],
    platform: str | None = None,
    driver_cuda: str | None = None,
    kernel_module: str | None = None,
    env: dict[str, str] | None = None,
    toolkits: tuple[str, ...] = (),
    frameworks: tuple[Framework, ...] = (),
    errors: tuple[tuple[str, str], ...] = (),
    uuids: bool = False,
) -> Host:
    """A host as a snapshot would describe it (``source="snapshot"``: no live probe runs)."""
    return Host(
        hostname="scenario",
        driver=Driver(
            version=driver,
            cuda=driver_cuda,
            source="snapshot" if driver else "none",
            kernel_module=kernel_module,
            platform=platform,
        ),
        gpus=[
            Gpu(
                index=i,
                name=name,
                compute_capability=cc,
                compute_capability_source="nvml",
                brand=brand,
                uuid=f"GPU-{i:08d}-scenario" if uuids else None,
                memory_total_mib=24576,
                memory_used_mib=0,
            )
            for i, (name, cc, brand) in enumerate(gpus)
        ],
        toolkits=[
            Toolkit(
                version=v,
                path=f"/usr/local/cuda-{'.'.join(v.split('.')[:2])}",
                source="nvcc",
                nvcc="bin/nvcc",
                found_via=["PATH"],
            )
            for v in toolkits
        ],
        frameworks=list(frameworks),
        env=dict(env or {}),
        platform={"system": "Windows" if platform == "windows" else "Linux", "machine": "x86_64"},
        source="snapshot",
        errors=[ProbeError(probe, message) for probe, message in errors],
    )


def installed_torch(
    version: str,
    variant: str | None,
    cuda: str | None,
    arch_list: list[str] | None = None,
    installer: str | None = None,
) -> Framework:
    """An installed torch; with ``arch_list`` as a ``--deep`` probe would have read it."""
    details: dict[str, Any] = {}
    if arch_list is not None:
        details["deep"] = {"arch_list": arch_list, "cuda": cuda, "cuda_available": True}
    return Framework(
        name="torch",
        version=version,
        cuda=cuda,
        variant=variant,
        source="deep" if arch_list else "metadata",
        details=details,
        installer=installer,
    )


@dataclass(frozen=True)
class WhatIf:
    """A snapshot host with ``--assume-driver`` / ``--assume-gpu`` on top (resolved via HostSpec)."""

    base: Host
    assume_driver: str | None = None
    assume_gpus: tuple[str, ...] = ()


def materialise(spec: Host | WhatIf, tmp_path: Path) -> Host:
    if isinstance(spec, Host):
        return copy.deepcopy(spec)
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text(json.dumps(spec.base.to_dict()))
    return resolve_host(
        HostSpec(snapshot=str(snapshot), assume_driver=spec.assume_driver, assume_gpus=spec.assume_gpus)
    )


def run_doctor(
    spec: Host | WhatIf,
    tmp_path: Path,
    torch: tuple[str, ...] = (),
    cuda: tuple[str, ...] = (),
    requirements: tuple[str, ...] = (),
) -> Report:
    """doctor over ``spec`` for the targets; ``requirements`` are file contents (``--requirements``)."""
    files = []
    for n, text in enumerate(requirements):
        path = tmp_path / f"requirements-{n}.txt"
        path.write_text(text)
        files.append(str(path))
    targets = (
        collect_targets(torch=list(torch), cuda=list(cuda), requirements=files) if (torch or cuda or files) else None
    )
    return diagnose(materialise(spec, tmp_path), targets)


# --- expectations ---------------------------------------------------------------------------------


def _matches_key(finding: Finding, key: str) -> bool:
    return key == "*" or finding.code == key or finding.cause == key


@dataclass(frozen=True)
class F:
    """A finding: ``key`` is its code or cause ("*" = any), severity None = any, device ANY = any."""

    key: str
    severity: str | None = None
    device: Any = ANY

    def matches(self, finding: Finding) -> bool:
        return (
            _matches_key(finding, self.key)
            and (self.severity is None or finding.severity.label == self.severity)
            and (self.device is ANY or finding.device == self.device)
        )

    def __str__(self) -> str:
        device = "any device" if self.device is ANY else f"device {self.device}"
        return f"{self.key} [{self.severity or 'any severity'}, {device}]"


@dataclass(frozen=True)
class FixHas:
    """Some finding matching ``key`` has a fix matching the regular expression ``pattern``."""

    key: str
    pattern: str

    def verify(self, report: Report) -> str | None:
        fixes = [fix for f in report.findings if _matches_key(f, self.key) for fix in f.fix]
        if any(re.search(self.pattern, fix) for fix in fixes):
            return None
        return f"no fix of a {self.key!r} finding matches /{self.pattern}/; fixes: {fixes}"


@dataclass(frozen=True)
class FixNot:
    """No finding matching ``key`` has a fix matching ``pattern``."""

    pattern: str
    key: str = "*"

    def verify(self, report: Report) -> str | None:
        bad = [
            fix for f in report.findings if _matches_key(f, self.key) for fix in f.fix if re.search(self.pattern, fix)
        ]
        return f"fix(es) of {self.key!r} findings must not match /{self.pattern}/: {bad}" if bad else None


@dataclass(frozen=True)
class FixOrder:
    """In one finding matching ``key``, a fix matching ``first`` comes before one matching ``then``."""

    key: str
    first: str
    then: str

    def verify(self, report: Report) -> str | None:
        for f in report.findings:
            if not _matches_key(f, self.key):
                continue
            a = next((i for i, fix in enumerate(f.fix) if re.search(self.first, fix)), None)
            b = next((i for i, fix in enumerate(f.fix) if re.search(self.then, fix)), None)
            if a is not None and b is not None and a < b:
                return None
        fixes = [f.fix for f in report.findings if _matches_key(f, self.key)]
        return f"no {self.key!r} finding lists /{self.first}/ before /{self.then}/; fixes: {fixes}"


@dataclass(frozen=True)
class Says:
    """Some finding matching ``key`` says ``pattern`` in its title, detail or fixes."""

    key: str
    pattern: str

    def verify(self, report: Report) -> str | None:
        texts = [" ".join([f.title, f.detail, *f.fix]) for f in report.findings if _matches_key(f, self.key)]
        if any(re.search(self.pattern, t) for t in texts):
            return None
        return f"no {self.key!r} finding says /{self.pattern}/: {texts}"


@dataclass(frozen=True)
class NotSays:
    """No finding matching ``key`` says ``pattern`` in its title, detail or fixes."""

    key: str
    pattern: str

    def verify(self, report: Report) -> str | None:
        texts = [" ".join([f.title, f.detail, *f.fix]) for f in report.findings if _matches_key(f, self.key)]
        bad = [t for t in texts if re.search(self.pattern, t)]
        return f"{self.key!r} findings must not say /{self.pattern}/: {bad}" if bad else None


@dataclass(frozen=True)
class Scenario:
    id: str
    host: Host | WhatIf
    status: str | tuple[str, ...]
    torch: tuple[str, ...] = ()
    cuda: tuple[str, ...] = ()
    requirements: tuple[str, ...] = ()  # contents of requirements files (--requirements)
    must: tuple[F, ...] = ()
    must_not: tuple[F, ...] = ()
    checks: tuple[Any, ...] = ()  # FixHas / FixNot / FixOrder / Says
    bug: str | None = None  # the code is wrong here: an xfail(strict=True) with this reason


def describe(report: Report) -> str:
    lines = [f"status={report.status}"]
    for f in report.findings:
        lines.append(f"  {f.severity.label:4} {f.code} cause={f.cause} device={f.device}: {f.title}")
        lines.extend(f"        fix: {fix}" for fix in f.fix)
    return "\n".join(lines)


def verify(scenario: Scenario, report: Report) -> list[str]:
    problems: list[str] = []
    allowed = (scenario.status,) if isinstance(scenario.status, str) else scenario.status
    if report.status not in allowed:
        problems.append(f"status {report.status!r}, expected {' or '.join(allowed)}")
    for expected in scenario.must:
        if not any(expected.matches(f) for f in report.findings):
            problems.append(f"missing finding {expected}")
    for forbidden in scenario.must_not:
        hits = [f"{f.code}/{f.cause}@{f.device}" for f in report.findings if forbidden.matches(f)]
        if hits:
            problems.append(f"unexpected finding {forbidden}: {hits}")
    for check in scenario.checks:
        problem = check.verify(report)
        if problem:
            problems.append(problem)
    return problems
