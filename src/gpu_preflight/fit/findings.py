"""Findings from a memory plan judged against a host: `out-of-memory` with the settings that
make it fit (each one re-planned and checked, never guessed), `unsupported-dtype`, and a pass
line per GPU that holds the model. Shared by `preflight fit` and `doctor --model`."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.findings import Finding, Severity
from gpu_preflight.core.host import Gpu, Host
from gpu_preflight.core.units import gib
from gpu_preflight.fit import data
from gpu_preflight.fit.gguf_mix import mixes
from gpu_preflight.fit.plan import (
    GGUF_ENGINES,
    TENSOR_PARALLEL_ENGINES,
    DeviceFit,
    MemoryPlan,
    dtype_supported,
    fit_device,
    fit_devices,
    largest_satisfying,
    with_settings,
)

# Weight dtypes to suggest, smallest step first, when the plan's do not fit.
SMALLER_WEIGHTS = {
    "float32": ("bfloat16", "float16", "int8", "int4"),
    "bfloat16": ("int8", "int4"),
    "float16": ("int8", "int4"),
    "fp8": ("int4",),
    "int8": ("int4",),
}
TENSOR_PARALLEL_SIZES = (2, 4, 8)


def fit_findings(plan: MemoryPlan, host: Host, devices: list[DeviceFit] | None = None) -> list[Finding]:
    devices = fit_devices(plan, host) if devices is None else devices
    s, name = plan.settings, plan.model.id
    findings: list[Finding] = []
    model_max = plan.model.shape.max_position_embeddings
    if model_max is not None and s.context > model_max:
        findings.append(
            Finding(
                code="fit-context-too-long",
                severity=Severity.FAIL,
                title=f"{name}: --context {s.context} is beyond the model's max_position_embeddings ({model_max})",
                detail="vLLM refuses a max_model_len above it; transformers runs but the model was not trained for it",
                evidence={"context": s.context, "max_position_embeddings": model_max},
                fix=[f"--context {model_max}"],
            )
        )
    if not host.gpus:
        return findings + [
            Finding(
                code="fit-no-gpu",
                severity=Severity.FAIL,
                cause="no-driver",
                title=f"{name}: no GPU visible to plan for",
                detail="run on the GPU host, or ask what-if questions with --assume-gpu NAME[:MEMORY] "
                "or --snapshot FILE",
                fix=["--assume-gpu 'NVIDIA H100 80GB HBM3'", "--assume-gpu 'Tesla T4:16GiB'"],
            )
        ]
    if s.tensor_parallel > len(host.gpus):
        findings.append(
            Finding(
                code="fit-tensor-parallel",
                severity=Severity.FAIL,
                title=f"{name}: --tensor-parallel {s.tensor_parallel} needs {s.tensor_parallel} GPUs; "
                f"this host has {len(host.gpus)}",
                fix=[f"--tensor-parallel {len(host.gpus)}"] if len(host.gpus) > 1 else ["--tensor-parallel 1"],
            )
        )
    group = s.tensor_parallel > 1
    usable = [d for d in devices if d.fits and runs_here(plan, d)]
    # A GPU that cannot run the model only fails the request when no other GPU can (or when it
    # is part of the tensor-parallel group that must all hold their shard).
    blocking = group or not usable
    for device in devices:
        findings += _device_findings(plan, host, device, usable, blocking)
    return findings


def _device_findings(
    plan: MemoryPlan, host: Host, device: DeviceFit, usable: list[DeviceFit], blocking: bool
) -> list[Finding]:
    s, where = plan.settings, _where(device)
    found = []
    if device.dtype_supported is False:
        found.append(_dtype_finding(plan, device, blocking))
    if device.total_bytes is None:
        found.append(
            Finding(
                code="fit-memory-unknown",
                severity=Severity.WARN,
                device=device.index,
                title=f"cannot plan memory on {where}: its memory size is unknown",
                fix=[f"--assume-gpu '{device.name}:MEMORY' (for example 24GiB)"],
            )
        )
    elif not device.fits:
        found.append(_oom_finding(plan, host, device, usable, blocking))
    elif runs_here(plan, device):
        b = device.bytes
        capped = " (the model's max_position_embeddings)" if device.context_capped_by_model else ""
        found.append(
            Finding(
                code="fit",
                severity=Severity.PASS,
                device=device.index,
                title=f"{plan.model.id} fits on {where}: {gib(b.total)} of {gib(device.budget_bytes)} GiB usable "
                f"at {s.context} tokens x {s.batch}",
                detail=f"largest context at batch {s.batch}: {device.max_context}{capped}; "
                f"largest batch at {s.context} tokens: {device.max_concurrency}",
                evidence=_evidence(device),
            )
        )
    return found


def _oom_finding(plan: MemoryPlan, host: Host, device: DeviceFit, usable: list[DeviceFit], blocking: bool) -> Finding:
    s, b = plan.settings, device.bytes
    needs = (
        f"needs {gib(b.total)} GiB (weights {gib(b.weights)}, KV cache {gib(b.kv_cache)}, "
        f"activations {gib(b.activations)}, overhead {gib(b.overhead)})"
    )
    detail = f"{needs}; {gib(device.budget_bytes)} GiB usable ({gib(device.free_bytes)} GiB free)"
    if device.reason:
        detail = f"{device.reason}; {needs}"
    fixes = _fixes(plan, host, device) + [
        f"run on GPU {d.index} ({d.name}), which holds it: CUDA_VISIBLE_DEVICES={d.index}"
        for d in usable
        if d.index != device.index
    ]
    return Finding(
        code="fit-out-of-memory",
        severity=Severity.FAIL if blocking else Severity.WARN,
        cause="out-of-memory",
        device=device.index,
        title=f"{plan.model.id} does not fit on {_where(device)} at {s.context} tokens x {s.batch} "
        f"({s.dtype} weights, {s.engine})",
        detail=detail,
        evidence=_evidence(device),
        fix=fixes or ["a GPU with more memory"],
    )


def _fixes(plan: MemoryPlan, host: Host, device: DeviceFit) -> list[str]:
    """Settings that make the plan fit on this GPU, each checked by planning again."""
    s, gpu = plan.settings, _gpu(host, device.index)
    fixes = []

    def holds(**changes: Any) -> bool:
        try:
            candidate = with_settings(plan, **changes)
        except UsageError:
            return False
        fit = fit_device(candidate, gpu)
        # Memory fixes are judged on memory; a dtype problem has its own finding and fix.
        return fit.fits and ("dtype" not in changes or runs_here(candidate, fit))

    if device.reason and s.engine == "vllm" and device.free_bytes and device.total_bytes:
        utilization = int(device.free_bytes / device.total_bytes * 100) / 100
        if utilization > 0 and holds(gpu_memory_utilization=utilization):
            fixes.append(f"--gpu-memory-utilization {utilization:g} (what the {gib(device.free_bytes)} GiB free allow)")
    if 0 < device.max_context < s.context:
        fixes.append(f"--context {device.max_context} (the largest that fits at --batch {s.batch})")
    if s.batch > 1 and 0 < device.max_concurrency < s.batch:
        fixes.append(f"--batch {device.max_concurrency} (the most sequences of {s.context} tokens that fit)")
    if s.engine in GGUF_ENGINES:
        fixes += _gguf_fixes(plan, gpu, holds)
    elif s.kv_cache_dtype != "fp8" and holds(kv_cache_dtype="fp8"):
        fixes.append("--kv-cache-dtype fp8 (halves the KV cache of a 16-bit model)")
    for smaller in SMALLER_WEIGHTS.get(s.dtype, ()):
        if holds(dtype=smaller):
            fixes.append(f"--dtype {smaller} (weights {s.dtype} -> {smaller}: a quantised checkpoint of this model)")
            break
    if s.engine in TENSOR_PARALLEL_ENGINES and s.tensor_parallel == 1:
        for size in (n for n in TENSOR_PARALLEL_SIZES if n <= len(host.gpus)):
            try:
                group = fit_devices(with_settings(plan, tensor_parallel=size), host)
            except UsageError:
                continue
            if all(d.fits for d in group):
                fixes.append(f"--tensor-parallel {size} (shards weights and KV cache over GPUs 0-{size - 1})")
                break
    if not fixes:
        fixes += _combined_fixes(plan, gpu)
    if device.used_bytes and fit_device(plan, replace(gpu, memory_used_mib=0)).fits:
        fixes.append(
            f"free the {gib(device.used_bytes)} GiB other processes hold on GPU {device.index} (nvidia-smi lists them)"
        )
    return fixes


def _gguf_fixes(plan: MemoryPlan, gpu: Gpu, holds: Any) -> list[str]:
    """llama.cpp/Ollama: fewer layers on the GPU, a smaller KV cache type, a smaller GGUF mix."""
    s, layout = plan.settings, plan.gguf
    assert layout is not None
    fixes = []
    current = layout.layers + 1 if s.gpu_layers is None else min(s.gpu_layers, layout.layers + 1)
    best = largest_satisfying(current - 1, lambda n: holds(gpu_layers=n))
    if best:
        in_ram = layout.layers - (best - 1)
        fixes.append(
            f"--gpu-layers {best} (llama.cpp -ngl {best}: the output layer and the last {best - 1} blocks on the GPU, "
            f"the other {in_ram} and their KV cache in RAM: slower)"
        )
    for kv in data.gguf()["kv_cache"]["types"][data.gguf()["kv_cache"]["types"].index(s.kv_cache_dtype) + 1 :]:
        if holds(kv_cache_dtype=kv):
            fixes.append(f"--kv-cache-type {kv} (llama.cpp --cache-type-k {kv} --cache-type-v {kv})")
            break
    if not layout.from_file:
        smaller = sorted(
            ((with_settings(plan, quant=name).weight_bytes, name) for name in mixes()),
            reverse=True,
        )
        for size, name in smaller:
            if size < plan.weight_bytes and holds(quant=name):
                fixes.append(f"--quant {name} (a {name} GGUF of this model: {gib(size)} GiB of weights)")
                break
    return fixes


def _combined_fixes(plan: MemoryPlan, gpu: Gpu) -> list[str]:
    """When no single setting is enough: smaller weights (and an fp8 KV cache) together with
    the largest batch, or context, that then fits."""
    s = plan.settings
    for dtype in SMALLER_WEIGHTS.get(s.dtype, ()):
        for kv in (None, "fp8"):
            try:
                candidate = with_settings(plan, dtype=dtype, **({"kv_cache_dtype": kv} if kv else {}))
            except UsageError:
                continue
            fit = fit_device(candidate, gpu)
            if not runs_here(candidate, fit):
                continue
            flags = f"--dtype {dtype}" + (" --kv-cache-dtype fp8" if kv else "")
            if s.batch > 1 and fit.max_concurrency:
                return [
                    f"{flags} --batch {fit.max_concurrency} "
                    f"(together: the most sequences of {s.context} tokens that then fit)"
                ]
            if fit.max_context:
                return [
                    f"{flags} --context {fit.max_context} "
                    f"(together: the largest context that then fits at --batch {s.batch})"
                ]
    return []


def runs_here(plan: MemoryPlan, device: DeviceFit) -> bool:
    """The GPU can compute in the plan's dtype, or the engine falls back to one of the same size
    on its own (a bfloat16 checkpoint left on dtype auto)."""
    s = plan.settings
    return device.dtype_supported is not False or (not s.dtype_requested and "auto_fallback" in data.dtype_row(s.dtype))


def _dtype_finding(plan: MemoryPlan, device: DeviceFit, blocking: bool) -> Finding:
    s = plan.settings
    minimum = data.dtype_row(s.dtype)["min_cc"]
    fallback = next(d for d in ("float16", "int8") if dtype_supported(d, device.compute_capability))
    if runs_here(plan, device):
        severity = Severity.WARN
        detail = (
            f"the checkpoint is {s.dtype}: vLLM's --dtype auto runs it as float16 here; "
            "with transformers pass torch_dtype=torch.float16"
        )
    else:
        severity, detail = (Severity.FAIL if blocking else Severity.WARN), f"{s.dtype} weights cannot run on this GPU"
    return Finding(
        code="fit-unsupported-dtype",
        severity=severity,
        cause="unsupported-dtype",
        device=device.index,
        title=f"{s.dtype} needs compute capability {minimum}; {_where(device)} has {device.compute_capability}",
        detail=detail,
        evidence={"dtype": s.dtype, "min_compute_capability": minimum, "compute_capability": device.compute_capability},
        fix=[f"--dtype {fallback}"],
    )


def _evidence(device: DeviceFit) -> dict[str, Any]:
    return {
        "bytes": device.bytes.to_dict(),
        "free_bytes": device.free_bytes,
        "budget_bytes": device.budget_bytes,
        "max_context": device.max_context,
        "max_concurrency": device.max_concurrency,
    }


def _gpu(host: Host, index: int) -> Gpu:
    return next(g for g in host.gpus if g.index == index)


def _where(device: DeviceFit) -> str:
    return f"GPU {device.index} ({device.name})"
