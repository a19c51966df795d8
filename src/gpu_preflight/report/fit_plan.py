"""The `gpu-preflight/fit/v1` document and its terminal rendering. Rendering decides nothing:
both read a plan, its device rows and its findings."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from gpu_preflight.core.findings import Finding, Severity, overall_status
from gpu_preflight.fit.plan import GIB, DeviceFit, MemoryPlan

SCHEMA = "gpu-preflight/fit/v1"


def fit_document(plan: MemoryPlan, devices: list[DeviceFit], findings: list[Finding]) -> dict[str, Any]:
    s = plan.settings
    # The contract's top-level "bytes" is one breakdown: the first planned GPU's (vLLM's batch
    # defaults depend on the GPU), or the GPU-independent plan when there is none.
    first = devices[0].bytes if devices else plan.breakdown(s.context, s.batch)
    document = {
        "schema": SCHEMA,
        "status": overall_status(findings),
        "model": model_section(plan),
        "settings": asdict(s),
        "params": plan.model.params,
        "bytes": first.to_dict(),
        "bytes_device": devices[0].index if devices else None,
        "kv_bytes_per_token": plan.kv_bytes_per_token,
        "kv_bytes_per_token_per_gpu": plan.kv_bytes_per_token_per_gpu,
        "devices": [d.to_dict() for d in devices],
        "findings": [f.to_dict() for f in findings],
        "notes": plan.notes,
    }
    if s.tensor_parallel > 1:
        complete = len(devices) == s.tensor_parallel
        document["tensor_parallel"] = {
            "size": s.tensor_parallel,
            "devices": [d.index for d in devices],
            "fits": complete and all(d.fits for d in devices),
            "max_context": min((d.max_context for d in devices), default=0) if complete else 0,
            "max_concurrency": min((d.max_concurrency for d in devices), default=0) if complete else 0,
        }
    return document


def model_section(plan: MemoryPlan) -> dict[str, Any]:
    model, arch = plan.model, plan.model.architecture
    section = {
        "id": model.id,
        "source": model.source,
        "location": model.location,
        "model_type": arch.model_type,
        "family": arch.family,
        "approximate": arch.approximate,
        "layers": arch.layers,
        "hidden_size": arch.hidden_size,
        "attention_heads": arch.attention_heads,
        "kv_heads": arch.kv_heads,
        "head_dim": arch.head_dim,
        "intermediate_size": arch.intermediate_size,
        "vocab_size": arch.vocab_size,
        "tied_embeddings": arch.tied_embeddings,
        "max_position_embeddings": arch.max_position_embeddings,
        "checkpoint_dtype": arch.config_dtype,
        "params_source": model.params_source,
        "params_computed": model.computed.total,
        "params_active": model.computed.active,
        "experts": arch.experts or None,
        "experts_per_token": arch.experts_per_token or None,
        "quantization": arch.quantization.get("quant_method") if arch.quantization else None,
        "stored": None,
        "unverified": (model.profile or {}).get("unverified", []),
    }
    if model.stored is not None:
        section["stored"] = {
            "files": model.stored.files,
            "tensors": model.stored.tensors,
            "elements": model.stored.elements,
            "bytes": model.stored.bytes,
            "dtypes": model.stored.dtypes,
        }
    return section


def render_fit_text(plan: MemoryPlan, devices: list[DeviceFit], findings: list[Finding], style=None) -> str:
    from gpu_preflight.report.terminal import COLOURS, Style

    style = style or Style()
    s, model, arch = plan.settings, plan.model, plan.model.architecture
    heads = f"{arch.attention_heads} heads / {arch.kv_heads} KV heads x {arch.head_dim}"
    experts = f" · {arch.experts} experts, {arch.experts_per_token} per token" if arch.experts else ""
    lines = [
        style.bold(f"{model.id}") + f"  ({_describe_source(model)})",
        f"  {model.params:,} parameters ({model.params_source}){experts} · {arch.model_type} · {arch.layers} layers · {heads}",
        f"  vocabulary {arch.vocab_size:,} ({'tied' if arch.tied_embeddings else 'separate'} output head) · max context {arch.max_position_embeddings or 'not stated'}",
        f"  plan: {s.dtype} weights · {s.kv_cache_dtype} KV cache ({plan.kv_bytes_per_token:,} bytes per token) · {s.context} tokens x {s.batch} · {_engine(s)}",
    ]
    for device in devices:
        lines += [
            "",
            style.bold(f"GPU {device.index}: {device.name}")
            + f"  ({_gib(device.free_bytes)} of {_gib(device.total_bytes)} GiB free)",
        ]
        b = device.bytes
        rows = [
            ("weights", b.weights),
            ("KV cache", b.kv_cache),
            ("activations", b.activations),
            ("overhead", b.overhead),
            ("total", b.total),
        ]
        lines += [f"  {label:<12}{_gib(value):>8} GiB" for label, value in rows]
        budget = "vLLM's reservation" if s.engine == "vllm" else "free"
        verdict = "fits" if device.fits else f"does not fit{': ' + device.reason if device.reason else ''}"
        lines.append(f"  usable      {_gib(device.budget_bytes):>8} GiB ({budget}): {verdict}")
        lines.append(
            f"  largest context at batch {s.batch}: {device.max_context}{' (model limit)' if device.context_capped_by_model else ''}"
            f" · largest batch at {s.context} tokens: {device.max_concurrency}"
        )
        if device.kv_cache_tokens is not None:
            lines.append(f"  vLLM's KV cache would hold {device.kv_cache_tokens:,} tokens")
    lines += ["", style.bold("Checks")]
    for finding in findings:
        lines.append(f"{style.mark(finding.severity)} {finding.title}")
        if finding.detail:
            lines.append(f"    {finding.detail}")
        lines += [f"    {style.paint('fix:', '1')} {fix}" for fix in finding.fix]
    if plan.notes:
        lines += ["", style.bold("Notes")] + [f"  {note}" for note in plan.notes]
    status = overall_status(findings)
    colour = COLOURS[{"pass": Severity.PASS, "warn": Severity.WARN, "fail": Severity.FAIL}[status]]
    lines += ["", style.paint(f"Status: {status.upper()}", colour)]
    return "\n".join(lines) + "\n"


def _describe_source(model) -> str:
    return {
        "profile": "built-in profile",
        "directory": f"config.json in {model.location}",
        "hub-cache": f"Hugging Face cache {model.location}",
        "hub": model.location,
    }[model.source]


def _engine(settings) -> str:
    if settings.engine == "vllm":
        tp = f", tensor parallel {settings.tensor_parallel}" if settings.tensor_parallel > 1 else ""
        return f"vllm (gpu_memory_utilization {settings.gpu_memory_utilization:g}{tp})"
    return "transformers"


def _gib(value: int | None) -> str:
    return "?" if value is None else f"{value / GIB:.2f}"
