"""Judging a fleet: doctor's verdict for every host, computed once per host *shape*.

Hosts of a fleet repeat: the same driver, GPUs and software on hundreds of nodes. A verdict
depends only on what the checks read, so it is cached under a key made of the host document
less what identifies one machine or describes a passing moment (hostname, GPU UUIDs and bus ids,
memory in use, MIG device ids). A host whose shape was seen costs a dictionary lookup; a new
shape is validated in full (``Host.from_dict``) and judged by ``checks.diagnose``, as doctor
judges one host.

Only verdict-level facts are kept per shape (status, cause ids, the warn/fail findings' titles),
never evidence that would name one host, and per host only its name, source and a reference to
the shared verdict: memory grows with the number of hosts by a few hundred bytes each.
"""

from __future__ import annotations

import marshal
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gpu_preflight.checks.diagnose import diagnose
from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.findings import Severity
from gpu_preflight.core.host import Host
from gpu_preflight.fleet.placement import kubectl_label_commands, node_affinity
from gpu_preflight.fleet.sources import HostInput, Item, Skipped, Unreadable
from gpu_preflight.probe.hostspec import fill_compute_capability

if TYPE_CHECKING:
    from gpu_preflight.images.resolve import ImageFacts
    from gpu_preflight.targets.model import Targets

SCHEMA = "gpu-preflight/fleet/v1"
# GPU fields no check reads: identity and momentary use. A check that starts reading one (a
# --model fit will read free memory) must take it out of here; tests/fleet compare cached
# verdicts with uncached ones on hosts that differ only in these fields.
VOLATILE_GPU_FIELDS = frozenset({"uuid", "pci_bus_id", "memory_used_mib", "mig_devices"})
MAX_SHAPES = 4096  # beyond this, new shapes are judged without being remembered


def shape_key(doc: dict[str, Any]) -> bytes | None:
    """The cache key of a host document; None when the document is too odd to key (then it is
    validated and judged on its own)."""
    try:
        # CUDA_VISIBLE_DEVICES may select GPUs by UUID: then UUIDs decide what CUDA sees.
        volatile = (
            VOLATILE_GPU_FIELDS - {"uuid"}
            if (doc.get("env") or {}).get("CUDA_VISIBLE_DEVICES")
            else VOLATILE_GPU_FIELDS
        )
        gpus = [
            ({k: v for k, v in gpu.items() if k not in volatile}, len(gpu.get("mig_devices") or ()))
            for gpu in doc.get("gpus") or ()
        ]
        rest = {k: v for k, v in doc.items() if k != "hostname" and k != "gpus"}
        # marshal serialises JSON values at C speed (a third of repr's time) and never gives
        # two different documents the same bytes. Version 2 writes no back-references, which
        # depend on object identity; the worst an identity detail (string interning) can do
        # is cost a cache miss.
        return marshal.dumps((rest, gpus), 2)
    except (AttributeError, TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Verdict:
    """doctor's conclusion for one host shape."""

    status: str  # pass | warn | fail
    causes: tuple[str, ...]  # cause ids of the warn/fail findings, worst first
    problems: tuple[dict[str, Any], ...]  # the warn/fail findings: code, severity, cause, device, title, target
    failed: bool  # exit code 1 for this host (with --strict, warnings too)
    driver: str | None
    driver_cuda: str | None
    gpus: str  # "8x NVIDIA H100 80GB HBM3 (CC 9.0)"

    @classmethod
    def of(
        cls,
        host: Host,
        targets: Targets | None,
        db: str | None,
        strict: bool,
        images: tuple[ImageFacts, ...] = (),
        require_cuda: tuple[str, ...] = (),
    ) -> Verdict:
        report = diagnose(host, targets, db=db, images=images, require_cuda=require_cuda, with_plan=False)
        problems = [f for f in report.findings if f.severity >= Severity.WARN]
        return cls(
            status=report.status,
            causes=tuple(dict.fromkeys(f.cause for f in problems if f.cause)),
            problems=tuple(
                {
                    "code": f.code,
                    "severity": f.severity.label,
                    "cause": f.cause,
                    "device": f.device,
                    "title": f.title,
                    "target": f.evidence.get("target"),
                }
                for f in problems
            ),
            failed=report.exit_code(strict) == 1,
            driver=host.driver.version,
            driver_cuda=host.driver.cuda,
            gpus=describe_gpus(host),
        )


def describe_gpus(host: Host) -> str:
    groups = Counter((g.name, g.compute_capability) for g in host.gpus)
    return ", ".join(f"{n}x {name}" + (f" (CC {cc})" if cc else "") for (name, cc), n in groups.items()) or "no GPU"


@dataclass(frozen=True)
class HostResult:
    name: str
    source: str
    verdict: Verdict
    hostname: str | None = None  # kubernetes.io/hostname label, when it came from Kubernetes

    def to_dict(self) -> dict[str, Any]:
        v = self.verdict
        return {
            "name": self.name,
            "status": v.status,
            "causes": list(v.causes),
            "source": self.source,
            "driver": v.driver,
            "driver_cuda": v.driver_cuda,
            "gpus": v.gpus,
            "findings": list(v.problems),
        }


# Warnings that mean "could not be judged" rather than "runs, with a caveat".
UNJUDGED = frozenset({"driver", "gpu-unknown", "target-unknown"})


class FleetJudge:
    """Verdicts per host with the shape cache; the knowledge base is loaded once, here."""

    def __init__(
        self,
        targets: Targets | None = None,
        db: str | None = None,
        strict: bool = False,
        images: tuple[ImageFacts, ...] = (),
        require_cuda: tuple[str, ...] = (),
    ) -> None:
        from gpu_preflight.knowledge import load_knowledge

        self.targets, self.db, self.strict = targets, db, strict
        self.images, self.require_cuda = images, require_cuda
        self.kb = load_knowledge(db)
        self._verdicts: dict[bytes, Verdict] = {}
        self.judged = 0  # diagnose runs: the number of distinct shapes, unless the cache filled

    def verdict(self, item: HostInput) -> Verdict:
        """UsageError when the host document is malformed."""
        if item.doc is not None:
            key = shape_key(item.doc)
            cached = self._verdicts.get(key) if key is not None else None
            if cached is not None:
                return cached
            host = Host.from_dict(item.doc, item.source)
        else:
            assert item.host is not None, "a HostInput holds a document or a host"
            host = item.host
            key = shape_key(host.to_dict())
        fill_compute_capability(self.kb, host)
        verdict = Verdict.of(host, self.targets, self.db, self.strict, self.images, self.require_cuda)
        self.judged += 1
        if key is not None and len(self._verdicts) < MAX_SHAPES:
            self._verdicts[key] = verdict
        return verdict


@dataclass
class FleetReport:
    targets: list[dict[str, Any]] = field(default_factory=list)
    target_labels: list[str] = field(default_factory=list)
    hosts: list[HostResult] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    shapes: int = 0
    strict: bool = False

    def ready(self) -> list[HostResult]:
        """Hosts that can run every target: pass, or warn unless strict; never a host whose
        verdict is incomplete (driver version, GPU or target unknown): unknown is not ready."""
        return [
            h for h in self.hosts if not h.verdict.failed and not (UNJUDGED & {p["code"] for p in h.verdict.problems})
        ]

    def exit_code(self) -> int:
        """2 when an input was unreadable (the survey is incomplete), else 1 when a host fails
        (or warns, with strict), else 0."""
        if self.unreadable:
            return 2
        return 1 if any(h.verdict.failed for h in self.hosts) else 0

    def summary(self) -> dict[str, Any]:
        statuses = Counter(h.verdict.status for h in self.hosts)
        by_cause = Counter(c for h in self.hosts for c in h.verdict.causes)
        by_finding = Counter(code for h in self.hosts for code in dict.fromkeys(p["code"] for p in h.verdict.problems))
        return {
            "hosts": len(self.hosts),
            "pass": statuses["pass"],
            "warn": statuses["warn"],
            "fail": statuses["fail"],
            "ready": len(self.ready()),
            "unreadable": len(self.unreadable),
            "skipped": len(self.skipped),
            "by_cause": dict(by_cause.most_common()),
            "by_finding": dict(by_finding.most_common()),
            "shapes": self.shapes,
        }

    def to_dict(self, label: str) -> dict[str, Any]:
        ready = self.ready()
        return {
            "schema": SCHEMA,
            "targets": self.targets,
            "hosts": [h.to_dict() for h in self.hosts],
            "summary": self.summary(),
            "ready": {
                "nodes": [h.name for h in ready],
                "node_affinity": node_affinity(affinity_names(ready)),
                "kubectl": kubectl_label_commands([h.name for h in ready], label),
            },
            "unreadable": [{"source": u.source, "error": u.message} for u in self.unreadable],
            "skipped": [{"name": s.name, "source": s.source, "reason": s.reason} for s in self.skipped],
        }


def affinity_names(hosts: list[HostResult]) -> list[str]:
    """Values for ``kubernetes.io/hostname``: the label when known (it can differ from the node
    name, e.g. on some clouds), else the name."""
    return list(dict.fromkeys(h.hostname or h.name for h in hosts))


def survey(
    items: Iterable[Item],
    targets: Targets | None = None,
    db: str | None = None,
    strict: bool = False,
    images: tuple[ImageFacts, ...] = (),
    require_cuda: tuple[str, ...] = (),
) -> FleetReport:
    """Judge every host ``items`` yields against ``targets`` (what ``targets_from_args``
    returns; None or empty: each host's installed frameworks), resolved ``images`` and
    ``--require-cuda`` values."""
    judge = FleetJudge(targets, db, strict, images, require_cuda)
    listed = tuple(targets or ())
    report = FleetReport(
        targets=[t.to_dict() for t in listed]
        + [i.to_dict() for i in images]
        + [{"kind": "require-cuda", "value": r} for r in require_cuda],
        target_labels=[t.describe() for t in listed]
        + [i.label for i in images]
        + [f"NVIDIA_REQUIRE_CUDA={r}" for r in require_cuda],
        strict=strict,
    )
    for item in items:
        if isinstance(item, Unreadable):
            report.unreadable.append(item)
        elif isinstance(item, Skipped):
            report.skipped.append(item)
        else:
            try:
                verdict = judge.verdict(item)
            except UsageError as exc:
                report.unreadable.append(Unreadable(item.source, str(exc)))
                continue
            report.hosts.append(HostResult(item.name, item.source, verdict, item.hostname))
    report.shapes = judge.judged
    return report
