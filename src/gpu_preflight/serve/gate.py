"""The preflight gate: judge this host for the model with ``doctor`` (its GPU stack and fit's
memory plan), choose the device and the engine, derive the settings, and say whether to start.

- ``--device cuda``: any failed check refuses; there is no fallback to the CPU.
- ``--device auto``: a GPU whose checks all pass; else the CPU, with a loud warning (a finding
  in the report, hence in /preflight, and a line in the log).
- ``--device cpu``: the GPU checks are reported but do not block; the CPU's memory does.
- ``--engine auto``: vLLM when it is installed and the GPU's checks pass; else the built-in one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gpu_preflight.checks.context import CheckContext
from gpu_preflight.checks.diagnose import Report, diagnose
from gpu_preflight.core.findings import Finding, Severity
from gpu_preflight.core.host import Gpu, Host
from gpu_preflight.fit import Model
from gpu_preflight.serve.machine import CpuFacts
from gpu_preflight.serve.settings import Hardware, derive_cpu, derive_gpu

# Engines that run as their own server on a GPU: a failed check refuses, never the CPU instead.
SERVER_ENGINES = ("vllm", "sglang", "llama.cpp")


@dataclass(frozen=True)
class Request:
    """What the user asked for (flags), before anything is derived."""

    device: str = "auto"  # auto | cuda | cpu
    engine: str = "transformers"  # auto | transformers | vllm
    dtype: str | None = None  # None: derive
    max_context: int | None = None
    memory_share: float | None = None
    preflight: bool = True


@dataclass
class Decision:
    engine: str  # transformers | vllm
    hardware: Hardware | None  # None when refused before anything could be derived
    report: Report  # what /preflight shows; serve's own findings included
    refused: bool
    warnings: list[str] = field(default_factory=list)  # for the log, loudest first


def decide(
    model: Model, host: Host, request: Request, cpu: CpuFacts, vllm_installed: bool, db: str | None = None
) -> Decision:
    visible = CheckContext(host=host).visible_gpus
    stack = diagnose(host, db=db) if request.preflight else _skipped(host)
    stack_ok = bool(visible) and stack.status != "fail"
    if request.device != "cpu" and visible and (stack_ok or request.device == "cuda"):
        engine = (
            request.engine if request.engine != "auto" else ("vllm" if vllm_installed and stack_ok else "transformers")
        )
        hardware = derive_gpu(
            model,
            visible[0],
            engine,
            dtype=request.dtype,
            max_context=request.max_context,
            memory_share=request.memory_share,
        )
        report = diagnose(host, db=db, model_plan=hardware.plan) if request.preflight else stack
        if hardware.max_context == 0 and report.status != "fail":
            report.findings.insert(0, _does_not_fit(model, hardware, visible[0]))
        if report.status != "fail":
            return Decision(engine, hardware, report, refused=False)
        if request.device == "cuda" or request.engine in SERVER_ENGINES:
            return Decision(engine, hardware, report, refused=True)
    else:
        report = stack
        if request.device == "cuda" or request.engine in SERVER_ENGINES:
            if report.status != "fail":  # nothing failed, so no GPU is visible at all
                needs = f"--engine {request.engine}" if request.engine in SERVER_ENGINES else "--device cuda"
                report.findings.insert(
                    0,
                    Finding(
                        code="serve-no-gpu",
                        severity=Severity.FAIL,
                        cause="no-driver",
                        title=f"no GPU is visible to this process: {needs} needs one",
                        detail="CUDA_VISIBLE_DEVICES may hide them",
                        fix=["--device cpu --engine transformers"],
                    ),
                )
            return Decision(request.engine, None, report, refused=True)
    return _on_cpu(model, report, request, cpu)


def _on_cpu(model: Model, report: Report, request: Request, cpu: CpuFacts) -> Decision:
    hardware = derive_cpu(model, cpu, dtype=request.dtype, max_context=request.max_context)
    warnings = []
    if request.device == "auto":
        reasons = [f.title for f in report.findings if f.severity == Severity.FAIL] or ["no GPU is visible"]
        warning = (
            "SERVING ON THE CPU: no working GPU ("
            + "; ".join(reasons)
            + "). Generation will be slow; --device cuda refuses instead of falling back."
        )
        warnings.append(warning)
        report.findings.insert(
            0,
            Finding(
                code="serve-cpu-fallback",
                severity=Severity.WARN,
                title="serving on the CPU: no working GPU",
                detail="; ".join(reasons),
                fix=["fix the failed checks above, or --device cpu to choose the CPU on purpose"],
            ),
        )
    if hardware.max_context == 0:
        report.findings.insert(0, _does_not_fit(model, hardware, None))
    refused = hardware.max_context == 0
    return Decision("transformers", hardware, report, refused, warnings)


def _does_not_fit(model: Model, hardware: Hardware, gpu: Gpu | None) -> Finding:
    where = f"GPU {gpu.index} ({gpu.name})" if gpu else "this machine's available memory (RAM)"
    needs = hardware.plan.breakdown(1, 1, gpu).total
    return Finding(
        code="serve-does-not-fit",
        severity=Severity.FAIL,
        cause="out-of-memory",
        device=gpu.index if gpu else None,
        title=f"{model.id} does not fit in {where}, even at a context of 1 token",
        detail=f"needs {needs / 2**30:.1f} GiB at {hardware.dtype}; {(hardware.budget_bytes or 0) / 2**30:.1f} GiB "
        f"usable ({hardware.why.get('memory_share', 'CPU')})",
        evidence={"needs_bytes": needs, "budget_bytes": hardware.budget_bytes},
        fix=["a smaller or quantised model", "free memory held by other processes"],
    )


def _skipped(host: Host) -> Report:
    return Report(
        host=host,
        findings=[
            Finding(
                code="serve-preflight-skipped",
                severity=Severity.WARN,
                title="preflight checks skipped (--no-preflight)",
                detail="the GPU software stack was not judged; settings were still derived from the probed host",
            )
        ],
    )
