"""Judging an image against a host: the container runtime's own gate, then what happens after it.

The gate is ``NVIDIA_REQUIRE_*`` as libnvidia-container evaluates it (images/nvidia_require.py), once per
GPU with the facts the runtime reads: the driver's highest CUDA (nvidia-smi "CUDA Version"), the
driver version, the GPU's compute capability and NVML brand. A refusal is reported in the
runtime's own words, then explained (which condition, which fact) with the smallest fix.

Passing the gate is not the end: a ``brand=X,driver>=N,driver<N+1`` term admits an image whose
CUDA is newer than the driver because the image ships cuda-compat libraries (CUDA forward
compatibility). That works on datacenter GPUs only; elsewhere CUDA fails with error 804
(``forward-compat-unsupported``). After the gate, the image's CUDA runtime or its torch is judged
as a Build, like any ``--cuda`` / ``--torch`` target (driver floor, per-GPU architectures).

Facts a host may not state: its driver's CUDA (old nvidia-smi XML) is taken from the knowledge
base's driver branches, with a note; the brand of an *assumed* GPU (``--assume-gpu``) is every
brand its product row lists (a Tesla T4 is "Tesla" on old drivers and "NVIDIA" on 512+), and the
gate passes when it passes with one of them, as it will with the one the driver reports.

CDI mode (``container_mode == "cdi"`` on the CheckContext, from ``doctor --cdi``; or a host
document whose ``container.runtime_mode`` is "cdi"): GPUs are injected from a CDI spec
(``docker run --device nvidia.com/gpu=all``, nvidia-container-runtime ``mode = "cdi"``,
Kubernetes with CDI), no ``nvidia-container-cli`` runs and no requirement is checked; the gate's
verdict is only reported as what legacy mode would have said.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from gpu_preflight.checks.build import Build, build_for_torch
from gpu_preflight.checks.builds import driver_upgrade, judge_build
from gpu_preflight.checks.context import CheckContext
from gpu_preflight.checks.runtime import judge_runtime
from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.findings import Finding, Severity
from gpu_preflight.core.host import Gpu
from gpu_preflight.core.text import show
from gpu_preflight.core.versions import Version
from gpu_preflight.images.nvidia_require import (
    DeviceFacts,
    Evaluation,
    RequireExpressionSet,
    RequirementOutcome,
    Term,
    brand_id,
    evaluate,
    requirements_from_env,
)
from gpu_preflight.images.resolve import (
    KNOWN_REPOSITORIES,
    ImageFacts,
    parse_require_cuda,
)
from gpu_preflight.knowledge.cuda_images import FIRST_TERM_ONLY

CDI = "cdi"
KNOWN_IMAGES = ", ".join(r.removeprefix("docker.io/") for r in KNOWN_REPOSITORIES)


# --- what the runtime compares against -------------------------------------------------------------


@dataclass(frozen=True)
class DeviceVerdict:
    """The gate for one GPU (``gpu`` None: a host without GPU details), chosen among the brands
    the GPU may report; ``ambiguous`` when the verdict depends on which one it is."""

    gpu: Gpu | None
    facts: DeviceFacts
    evaluation: Evaluation
    ambiguous: bool = False

    @property
    def index(self) -> int | None:
        return self.gpu.index if self.gpu else None

    @property
    def exception(self) -> RequirementOutcome | None:
        return next(iter(self.evaluation.exceptions), None)


def host_cuda(ctx: CheckContext) -> tuple[Version | None, str]:
    """The driver's highest CUDA, and a note when the knowledge base had to supply it."""
    driver = ctx.host.driver
    cuda, version = Version.parse_or_none(driver.cuda), Version.parse_or_none(driver.version)
    if cuda is not None or version is None:
        return cuda, ""
    found = ctx.kb.driver_branch(version, ctx.driver_platform)
    if found is None or found.max_cuda is None:
        return (
            None,
            f"the CUDA version of driver {driver.version} is unknown, "
            "so cuda conditions count as met (as the runtime does)",
        )
    return (
        found.max_cuda,
        f"driver {driver.version} did not report its CUDA version: "
        f"{found.max_cuda} from the knowledge base (R{found.branch})",
    )


def device_variants(ctx: CheckContext) -> list[tuple[Gpu | None, list[DeviceFacts]]]:
    """Per GPU, the facts the runtime may see: one per brand an assumed GPU can report."""
    cuda, _ = host_cuda(ctx)
    driver = Version.parse_or_none(ctx.host.driver.version)
    result: list[tuple[Gpu | None, list[DeviceFacts]]] = []
    for gpu in ctx.host.gpus:
        brands: list[str | None] = [brand_id(gpu.brand)] if gpu.brand else []
        if gpu.assumed:
            product = ctx.kb.gpu_product(name=gpu.name, pci_device_id=gpu.pci_device_id)
            brands += [brand_id(b) for b in (product.brands if product else ())]
        arch = Version.parse_or_none(gpu.compute_capability)
        result.append((gpu, [DeviceFacts(cuda, driver, arch, b) for b in dict.fromkeys(brands or [None])]))
    return result or [(None, [DeviceFacts(cuda, driver)])]


def evaluate_on_host(ctx: CheckContext, requirements: RequireExpressionSet) -> list[DeviceVerdict]:
    verdicts = []
    for gpu, variants in device_variants(ctx):
        tried = [(facts, evaluate(requirements, [facts])) for facts in variants]
        passing = [t for t in tried if t[1].satisfied]
        facts, evaluation = next((t for t in passing if not t[1].exceptions), passing[0] if passing else tried[0])
        ambiguous = len({(e.satisfied, bool(e.exceptions)) for _, e in tried}) > 1
        verdicts.append(DeviceVerdict(gpu, facts, evaluation, ambiguous))
    return verdicts


# --- the gate --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gate:
    """``state``: none | disabled | invalid | no-driver | cdi | refused | forward-compat | admitted."""

    state: str
    findings: list[Finding]


def gate_findings(
    ctx: CheckContext,
    env: dict[str, str],
    subject: str,
    *,
    origin: str | None = None,
    image_cuda: Version | None = None,
    known_partly: tuple[str, ...] = (),
) -> Gate:
    """The ``NVIDIA_REQUIRE_*`` gate of an environment on this host, and what passing it means.
    ``known_partly``: notes saying the environment is only partly known (said with a refusal)."""
    evidence: dict[str, Any] = {"target": subject, "requirements_from": origin}
    try:
        requirements = requirements_from_env(env)
    except UsageError as error:  # the image's own value: it can never start under the runtime
        if _container_mode(ctx) == CDI:
            return _cdi(subject, f"refuse it: '{_runtime_words(error)}'", evidence)
        return Gate(
            "invalid",
            [
                Finding(
                    code="container-requirement",
                    severity=Severity.FAIL,
                    cause="container-requirement",
                    title=f"{subject}: its NVIDIA_REQUIRE_* is invalid: the container runtime refuses it on every host",
                    detail=f"The runtime says '{_runtime_words(error)}'. In detail: {error}.",
                    evidence={**evidence, "env": _gate_env(env)},
                    fix=[
                        "Fix the image's NVIDIA_REQUIRE_* value, or start it with NVIDIA_DISABLE_REQUIRE=1 "
                        "(and judge it with --require-cuda)."
                    ],
                )
            ],
        )
    if requirements.disabled:
        return Gate(
            "disabled",
            [
                Finding(
                    code="container-requirement",
                    severity=Severity.INFO,
                    title=f"{subject}: NVIDIA_DISABLE_REQUIRE is set: the container runtime checks no requirement",
                    detail="Nothing stops it from starting on an older driver; the CUDA checks below still apply.",
                    evidence={**evidence, "env": _gate_env(env)},
                )
            ],
        )
    if not len(requirements):
        return Gate(
            "none",
            [
                Finding(
                    code="container-requirement",
                    severity=Severity.INFO,
                    title=(
                        f"{subject}: declares no NVIDIA_REQUIRE_* or CUDA_VERSION: the container runtime starts it on "
                        "any driver"
                    ),
                    evidence=evidence,
                )
            ],
        )
    texts = [f"{r.origin}={r.text}" for r in requirements]
    driver = ctx.host.driver.version
    if driver is None:
        return Gate(
            "no-driver",
            [
                Finding(
                    code="container-requirement",
                    severity=Severity.INFO,
                    title=f"{subject}: the runtime's requirement cannot be evaluated without a driver version",
                    detail=(
                        "Give the host's driver (--assume-driver VERSION, --snapshot, --nvidia-smi-xml) to have it "
                        "judged."
                    ),
                    evidence={**evidence, "requirements": texts},
                )
            ],
        )
    cuda, cuda_note = host_cuda(ctx)
    evidence.update(requirements=texts, driver=driver, driver_cuda=str(cuda) if cuda else None)
    verdicts = evaluate_on_host(ctx, requirements)
    refused = next((v for v in verdicts if not v.evaluation.satisfied), None)
    notes = [n for n in (cuda_note, _ambiguity(verdicts), *known_partly) if n]
    if _container_mode(ctx) == CDI:
        return _cdi(subject, f"refuse it: '{refused.evaluation.message}'" if refused else "admit it", evidence)
    if refused is not None:
        return Gate("refused", [_refusal(ctx, refused, subject, evidence, image_cuda, cuda, notes)])
    forward = [v for v in verdicts if v.exception is not None]
    if forward:
        return Gate(
            "forward-compat", [_forward_compat(ctx, v, subject, evidence, image_cuda, cuda, notes) for v in forward]
        )
    terms = sorted({str(o.passing_term) for v in verdicts for o in v.evaluation.outcomes if o.passing_term is not None})
    return Gate(
        "admitted",
        [
            Finding(
                code="container-requirement",
                severity=Severity.PASS,
                title=f"{subject}: the NVIDIA container runtime admits it ("
                + (", ".join(terms) or "no condition applies")
                + ")",
                detail=" ".join(notes),
                evidence=evidence,
            )
        ],
    )


def _cdi(subject: str, legacy: str, evidence: dict[str, Any]) -> Gate:
    return Gate(
        CDI,
        [
            Finding(
                code="container-requirement",
                severity=Severity.INFO,
                title=f"{subject}: CDI mode: no NVIDIA_REQUIRE_* gate runs, the container starts on any driver",
                detail=(
                    'With CDI (docker --device nvidia.com/gpu=..., nvidia-container-runtime mode "cdi", '
                    "Kubernetes CDI) nvidia-container-cli is not run; "
                    f"in legacy mode the runtime would {legacy}. Whether CUDA works is decided by the checks below."
                ),
                evidence=evidence,
            )
        ],
    )


def _runtime_words(error: UsageError) -> str:
    text = str(error)
    if text.startswith("requirement error: invalid expression"):
        return "nvidia-container-cli: requirement error: invalid expression"
    return f"nvidia-container-cli: {text}" if text.startswith(("requirement error", "input error")) else text


def _gate_env(env: Mapping[str, str]) -> dict[str, str]:
    return {
        k: v[:300]
        for k, v in env.items()
        if k.startswith("NVIDIA_REQUIRE_") or k in ("NVIDIA_DISABLE_REQUIRE", "CUDA_VERSION")
    }


def _container_mode(ctx: CheckContext) -> str | None:
    """--cdi, else the mode the host's nvidia-container-runtime config names."""
    return ctx.container_mode or ctx.host.container.runtime_mode


def _ambiguity(verdicts: list[DeviceVerdict]) -> str:
    names = [v.gpu.name for v in verdicts if v.ambiguous and v.gpu]
    if not names:
        return ""
    return (
        f"The verdict for {', '.join(dict.fromkeys(names))} depends on the NVML brand its driver reports "
        "(it changed across driver versions); judged with the brand that lets it start."
    )


def _gpu_words(verdict: DeviceVerdict) -> str:
    if verdict.gpu is None:
        return "this host"
    brand = f", brand {verdict.facts.brand}" if verdict.facts.brand else ""
    return f"GPU {verdict.gpu.index} ({verdict.gpu.name}{brand})"


def _is_exception(term: Term) -> bool:
    return not any(c.prop == "cuda" for c in term.constraints)


def _explain(outcome: RequirementOutcome, verdict: DeviceVerdict) -> str:
    """Why each kind of term failed, in terms of the host's facts."""
    facts, parts = verdict.facts, []
    cuda_failures = [c for t, c in outcome.failures if c.prop == "cuda"]
    if cuda_failures:
        c = cuda_failures[0]
        parts.append(
            f"it needs a driver supporting CUDA {c.op} {c.value} ('{c}'), and the driver supports CUDA {facts.cuda}"
        )
    exceptions = [t for t, _ in outcome.failures if _is_exception(t) and any(c.prop == "brand" for c in t.constraints)]
    if exceptions and cuda_failures:
        branches = sorted(
            {
                c.version.major
                for t in exceptions
                for c in t.constraints
                if c.prop == "driver" and c.op in (">=", ">") and c.version
            }
        )
        listed = ", ".join(f"R{b}" for b in branches) or "listed branches"
        parts.append(
            f"none of its {len(exceptions)} forward-compatibility exceptions (brand and driver branch {listed}) "
            f"matches {_gpu_words(verdict)} on driver {facts.driver}"
        )
    for term, constraint in outcome.failures:
        if constraint.prop != "cuda" and not (term in exceptions and cuda_failures):
            actual = getattr(facts, constraint.prop)
            parts.append(f"'{term}' fails at '{constraint}' ({constraint.prop} is {actual})")
    return "; ".join(dict.fromkeys(parts[:4]))


def _cuda_needed(outcome: RequirementOutcome) -> Version | None:
    wanted = [c.version for _, c in outcome.failures if c.prop == "cuda" and c.op in (">=", ">", "=") and c.version]
    return max(wanted, default=None)


def _upgrade(
    ctx: CheckContext, cuda: Version | None, image_cuda: Version | None, host_cuda_: Version | None
) -> list[str]:
    """The smallest fixes for a driver that is too old for ``cuda``: a driver, or an older image."""
    if cuda is None:
        return []
    # The image's full version finds its exact Table 3 row (12.4.1 -> 550.54.15).
    wanted = image_cuda if image_cuda is not None and image_cuda.truncate(2) >= cuda.truncate(2) else cuda
    driver = Version.parse_or_none(ctx.host.driver.version) or Version.of(0)
    runtime = judge_runtime(ctx.kb, wanted, driver, ctx.driver_platform)
    # minor_compat dropped: the gate compares the driver's own CUDA, so minor-version
    # compatibility (which would run the CUDA) does not let the container start.
    fix, blocker = driver_upgrade(ctx, replace(runtime, minor_compat=None))
    if blocker:
        fix = blocker[0].upper() + blocker[1:] + "."
    fixes = [fix or f"Install a driver whose 'CUDA Version' (nvidia-smi) is at least {cuda.truncate(2)}."]
    if host_cuda_ is not None and host_cuda_ < cuda:
        fixes.append(f"Or use an image built for CUDA {host_cuda_} or older: the newest this driver supports.")
    return fixes


def _refusal(
    ctx: CheckContext,
    verdict: DeviceVerdict,
    subject: str,
    evidence: dict[str, Any],
    image_cuda: Version | None,
    cuda: Version | None,
    notes: list[str],
) -> Finding:
    outcome = verdict.evaluation.first_failure
    assert outcome is not None
    fixes = _upgrade(ctx, _cuda_needed(outcome), image_cuda, cuda)
    arch = next((c for _, c in outcome.failures if c.prop == "arch"), None)
    if arch is not None:
        fixes.append(f"Run it on a GPU whose compute capability satisfies '{arch}'.")
    return Finding(
        code="container-requirement",
        severity=Severity.FAIL,
        cause="container-requirement",
        title=f"{subject}: the NVIDIA container runtime refuses to start it on {_gpu_words(verdict)}",
        detail=f"'{verdict.evaluation.message}'. Why: {_explain(outcome, verdict)}." + "".join(f" {n}" for n in notes),
        device=verdict.index,
        evidence={
            **evidence,
            "runtime_message": verdict.evaluation.message,
            "failed_requirement": outcome.requirement.origin,
            "brand": verdict.facts.brand,
            "compute_capability": str(verdict.facts.arch) if verdict.facts.arch else None,
        },
        fix=fixes,
    )


def _forward_compat(
    ctx: CheckContext,
    verdict: DeviceVerdict,
    subject: str,
    evidence: dict[str, Any],
    image_cuda: Version | None,
    cuda: Version | None,
    notes: list[str],
) -> Finding:
    outcome = verdict.exception
    assert outcome is not None
    term = str(outcome.passing_term)
    gpu = verdict.gpu
    product = ctx.kb.gpu_product(name=gpu.name, pci_device_id=gpu.pci_device_id) if gpu else None
    needed = max(
        (c.version for t in outcome.requirement.terms for c in t.constraints if c.prop == "cuda" and c.version),
        default=None,
    )
    newer = f"CUDA {image_cuda or needed}" if (image_cuda or needed) else "its CUDA"
    base = (
        f"The image needs a newer driver than {ctx.host.driver.version} (CUDA {cuda}) and starts only because "
        f"'{term}' admits it: it then runs {newer} through the cuda-compat libraries it ships "
        "(CUDA forward compatibility)."
    )
    fixes = _upgrade(ctx, needed, image_cuda, cuda)
    if product is not None and product.forward_compat_eligible:
        severity, cause = Severity.WARN, None
        detail = (
            f"{base} {product.name} is a datacenter GPU, so this works on the driver branches NVIDIA supports for it."
        )
        title = f"{_gpu_words(verdict)}: {subject} runs through CUDA forward compatibility ('{term}')"
    elif product is not None:
        severity, cause = Severity.FAIL, "forward-compat-unsupported"
        detail = (
            f"{base} {product.name} is a {product.product_class} GPU, not a datacenter one: CUDA fails with error 804 "
            "('forward compatibility was attempted on non supported HW') although the container started."
        )
        title = f"{_gpu_words(verdict)}: {subject} starts through '{term}' but CUDA will fail with error 804"
    else:
        severity, cause = Severity.WARN, None
        detail = (
            f"{base} Forward compatibility works only on datacenter GPUs; "
            f"{gpu.name if gpu else 'the GPU'} is not in the knowledge base, so whether it works cannot be told."
        )
        title = f"{_gpu_words(verdict)}: {subject} starts only through forward compatibility ('{term}')"
    return Finding(
        code="forward-compat",
        severity=severity,
        cause=cause,
        title=title,
        detail=detail + "".join(f" {n}" for n in notes),
        device=verdict.index,
        evidence={**evidence, "passing_term": term, "brand": verdict.facts.brand},
        fix=fixes,
    )


# --- targets ---------------------------------------------------------------------------------------


def require_findings(ctx: CheckContext, expression_text: str) -> list[Finding]:
    """``--require-cuda EXPR``: the expression judged as an image's ``NVIDIA_REQUIRE_CUDA``."""
    text = parse_require_cuda(expression_text)  # UsageError for an invalid one: a bad request, not a finding
    return gate_findings(
        ctx, {"NVIDIA_REQUIRE_CUDA": text}, f"--require-cuda {show(text, 80)}", origin="--require-cuda"
    ).findings


def image_findings(ctx: CheckContext, image: ImageFacts) -> list[Finding]:
    """Everything doctor says about one image: what is known of it, the gate, then its CUDA or torch."""
    evidence = {"target": image.label, "source": image.source}
    findings = [
        Finding(
            code="image-lookup",
            severity=Severity.WARN,
            title=f"{image.label}: metadata lookup failed",
            detail=f"{error}. Falling back to the next source.",
            evidence=evidence,
        )
        for error in image.lookup_errors
    ]
    if not image.known:
        ref = image.reference.familiar if image.reference else image.label
        findings.append(
            Finding(
                code="image-unknown",
                severity=Severity.WARN,
                title=f"{image.label}: unknown image: "
                + " and ".join(image.unknown or ("its contents",))
                + " could not be known",
                detail=(
                    f"The knowledge base knows tags of {KNOWN_IMAGES}, and no metadata was read for this image; "
                    "nothing is assumed about it. Still judged: the driver and each GPU of this host on their own."
                    + "".join(f" {n}" for n in image.notes)
                ),
                evidence=image.to_dict(),
                fix=[
                    f"docker image inspect {ref} > image.json, then add --image-config image.json",
                    "or add --registry-lookup to read its config from the registry",
                ],
            )
        )
        return findings
    findings.append(_summary(image))
    wanted = ctx.host.image_platform()
    if image.platform and not image.platform.startswith(wanted):
        findings.append(
            Finding(
                code="image-platform",
                severity=Severity.WARN,
                title=f"{image.label}: built for {image.platform}, this host runs {wanted} images",
                detail="It would run under emulation, if at all, and without the GPU.",
                evidence=evidence,
            )
        )
    gate = None
    if image.env is not None:
        partly = tuple(n for n in image.notes if n.startswith(FIRST_TERM_ONLY))  # a tag newer than the table
        gate = gate_findings(
            ctx, dict(image.env), image.label, origin=image.env_source, image_cuda=image.cuda, known_partly=partly
        )
        findings += gate.findings
    superseded = gate is not None and gate.state in ("refused", "forward-compat")
    for build in image_builds(ctx, image):
        for finding in judge_build(ctx, build):
            # The gate's finding already names the driver fix; and once admitted through forward
            # compatibility the image's compat libcuda, not the host driver, serves its CUDA.
            if (
                superseded
                and finding.code == "driver-runtime"
                and build.cuda is not None
                and image.cuda is not None
                and build.cuda.truncate(2) == image.cuda.truncate(2)
            ):
                continue
            findings.append(finding)
    return findings


def _summary(image: ImageFacts) -> Finding:
    parts = [
        f"CUDA {image.cuda}" if image.cuda else None,
        image.torch_text,
    ]
    what = ", ".join(p for p in parts if p) or "no CUDA declared"
    unknown = (
        f" Unknown: {'; '.join(image.unknown)} (add --image-config or --registry-lookup to read it)."
        if image.unknown
        else ""
    )
    return Finding(
        code="image",
        severity=Severity.INFO,
        title=f"{image.label}: {what}",
        detail=f"From {', '.join(image.known_from) or 'nothing'}.{unknown}"
        + "".join(f" {n.rstrip('.')}." for n in image.notes),
        evidence=image.to_dict(),
    )


def image_builds(ctx: CheckContext, image: ImageFacts) -> list[Build]:
    """What runs inside the image, as Builds judged like any --torch / --cuda target."""
    if image.torch is not None:
        build = build_for_torch(ctx.kb, image.torch, _image_wheel_platform(ctx, image))
        label = f"{build.label} in {image.label}"
        if build.unknown and image.torch.pinned and image.cuda is not None:
            return [
                Build(
                    label,
                    image.source,
                    image.cuda,
                    notes=(f"{build.unknown}; judged by the image's CUDA {image.cuda}",),
                )
            ]
        return [replace(build, label=label, source=image.source)]
    if image.custom_torch is not None:
        label = f"torch {image.custom_torch} in {image.label}"
        if image.cuda is None:
            return [
                Build(
                    label,
                    image.source,
                    None,
                    unknown="the CUDA it was built for is unknown, and so are its architectures; still judged: the "
                    "image's NVIDIA_REQUIRE_* gate where known, the driver and each GPU on their own.",
                )
            ]
        return [
            Build(
                label,
                image.source,
                image.cuda,
                image.archs,
                "image TORCH_CUDA_ARCH_LIST" if image.archs else None,
                notes=() if image.archs else ("compiled architectures unknown: judged by what its CUDA can target",),
            )
        ]
    if image.cuda is not None:
        return [Build(f"CUDA {image.cuda} in {image.label}", image.source, image.cuda)]
    return []


def _image_wheel_platform(ctx: CheckContext, image: ImageFacts) -> str:
    """The wheel platform inside an image: Linux always (a Windows host runs Linux containers), on
    the image's CPU when it says, else on the one this host pulls."""
    platform = image.platform or ctx.host.image_platform()
    return "linux-aarch64" if platform.startswith("linux/arm64") else "linux-x86_64"


def check_images(ctx: CheckContext) -> list[Finding]:
    """The doctor check: every ``--image`` / ``--dockerfile`` / ``--image-config`` and ``--require-cuda``."""
    findings: list[Finding] = []
    for image in ctx.images:
        findings += image_findings(ctx, image)
    for text in ctx.require_cuda:
        findings += require_findings(ctx, text)
    return findings
