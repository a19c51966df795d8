"""The `gpu-preflight/fit/v1` document and the plan's terminal rendering (its findings through
terminal.py, like every checklist). Rendering decides nothing: both read a plan, its device
rows and its findings."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from gpu_preflight.core.findings import Finding, overall_status
from gpu_preflight.core.text import printable
from gpu_preflight.core.units import MIB, gib
from gpu_preflight.fit import DeviceFit, MemoryPlan, Model, Settings
from gpu_preflight.report.terminal import Style, checklist_lines, status_line

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
    if plan.gguf is not None:
        document["gguf"] = gguf_section(plan)
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


def gguf_section(plan: MemoryPlan) -> dict[str, Any]:
    """llama.cpp/Ollama: the GGUF weights and what sits on the GPU and in RAM (additive to fit/v1)."""
    layout, s = plan.gguf, plan.settings
    assert layout is not None
    placement = layout.placement(s.gpu_layers)
    return {
        "mix": layout.mix,
        "from_file": layout.from_file,
        "tensors": len(layout.tensors),
        "weight_bytes": layout.weight_bytes,
        "elements_by_type": layout.type_counts(),
        "kv_cache_type": s.kv_cache_dtype,
        "layers": layout.layers,
        "gpu_layers": placement.gpu_layers,
        "repeating_layers_on_gpu": placement.repeating_on_gpu,
        "output_layer_on_gpu": placement.output_on_gpu,
        "gpu_weight_bytes": placement.gpu_weight_bytes,
        "host_bytes": plan.host_bytes(s.context, s.batch),
    }


def model_section(plan: MemoryPlan) -> dict[str, Any]:
    model, shape = plan.model, plan.model.shape
    section = {
        "id": model.id,
        "source": model.source,
        "location": model.location,
        "model_type": shape.model_type,
        "family": shape.family,
        "approximate": shape.approximate,
        "layers": shape.layers,
        "hidden_size": shape.hidden_size,
        "attention_heads": shape.attention_heads,
        "kv_heads": shape.kv_heads,
        "head_dim": shape.head_dim,
        "intermediate_size": shape.intermediate_size,
        "vocab_size": shape.vocab_size,
        "tied_embeddings": shape.tied_embeddings,
        "max_position_embeddings": shape.max_position_embeddings,
        "checkpoint_dtype": shape.config_dtype,
        "params_source": model.params_source,
        "params_computed": model.computed.total,
        "params_active": model.computed.active,
        "experts": shape.experts or None,
        "experts_per_token": shape.experts_per_token or None,
        "quantization": shape.quantization.get("quant_method") if shape.quantization else None,
        "stored": None,
        "unverified": (model.profile or {}).get("unverified", []),
    }
    if model.gguf is not None:
        section["gguf_file"] = {
            "version": model.gguf.version,
            "file_bytes": model.gguf.file_size,
            "tensors": len(model.gguf.tensors),
            "weight_bytes": model.gguf.weight_bytes,
            "architecture": model.gguf.architecture,
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


def render_fit_text(
    plan: MemoryPlan, devices: list[DeviceFit], findings: list[Finding], style: Style | None = None
) -> str:
    """The plan (model, settings, a byte table per GPU), then the findings and the status line
    as terminal.py prints every checklist."""
    style = style or Style()
    lines = _model_lines(plan, style) + _offload_lines(plan)
    for device in devices:
        lines += ["", *_device_lines(plan, device, style)]
    lines += ["", *checklist_lines(findings, style)]
    if plan.notes:
        lines += ["", style.bold("Notes")] + [f"  {printable(note)}" for note in plan.notes]
    lines += ["", status_line(findings, style)]
    return "\n".join(lines) + "\n"


def _model_lines(plan: MemoryPlan, style: Style) -> list[str]:
    s, model, shape = plan.settings, plan.model, plan.model.shape
    heads = f"{shape.attention_heads} heads / {shape.kv_heads} KV heads x {shape.head_dim}"
    experts = f" · {shape.experts} experts, {shape.experts_per_token} per token" if shape.experts else ""
    head = "tied" if shape.tied_embeddings else "separate"
    return [
        style.bold(printable(model.id, one_line=True)) + f"  ({_describe_source(model)})",
        f"  {model.params:,} parameters ({model.params_source}){experts} · "
        f"{printable(shape.model_type, one_line=True)} · {shape.layers} layers · {heads}",
        f"  vocabulary {shape.vocab_size:,} ({head} output head) · "
        f"max context {shape.max_position_embeddings or 'not stated'}",
        f"  plan: {s.dtype} weights · {s.kv_cache_dtype} KV cache ({plan.kv_bytes_per_token:,} bytes per token) · "
        f"{s.context} tokens x {s.batch} · {_engine(s)}",
    ]


def _offload_lines(plan: MemoryPlan) -> list[str]:
    """llama.cpp/Ollama: the GGUF weights, and what the GPU holds against what stays in RAM."""
    if plan.gguf is None:
        return []
    section, s = gguf_section(plan), plan.settings
    host = section["host_bytes"]
    where = "the file's tensor infos" if section["from_file"] else "llama.cpp's quantiser's rules"
    types = ", ".join(f"{name} {count:,}" for name, count in section["elements_by_type"].items())
    layers = "all" if s.gpu_layers is None else str(s.gpu_layers)
    output = "the output layer and " if section["output_layer_on_gpu"] else ""
    return [
        f"  GGUF {printable(section['mix'], one_line=True)}: {gib(section['weight_bytes'], 2)} GiB in "
        f"{section['tensors']} tensors ({where}; elements per type: {types})",
        f"  --gpu-layers {layers}: {output}{section['repeating_layers_on_gpu']} of {section['layers']} blocks "
        "on the GPU "
        f"({gib(section['gpu_weight_bytes'], 2)} GiB of weights); in RAM: {gib(host['weights'], 2)} GiB of weights "
        f"(token_embd always) and {gib(host['kv_cache'], 2)} GiB of KV cache",
    ]


def _device_lines(plan: MemoryPlan, device: DeviceFit, style: Style) -> list[str]:
    s, b = plan.settings, device.bytes
    lines = [
        style.bold(f"GPU {device.index}: {printable(device.name, one_line=True)}")
        + f"  ({gib(device.free_bytes, 2)} of {gib(device.total_bytes, 2)} GiB free)"
    ]
    rows = [
        ("weights", b.weights),
        ("KV cache", b.kv_cache),
        ("activations", b.activations),
        ("overhead", b.overhead),
        ("total", b.total),
    ]
    lines += [f"  {label:<12}{gib(value, 2):>8} GiB" for label, value in rows]
    budget = "free"
    if s.engine == "vllm":
        budget = "vLLM's reservation"
    elif s.engine == "sglang":  # activations and CUDA graphs live in the part it keeps aside
        total_mib = device.total_bytes // MIB if device.total_bytes else None
        budget = f"free less what SGLang keeps aside: mem_fraction_static {plan.sglang_fraction(total_mib):g}"
    verdict = (
        "fits"
        if device.fits
        else f"does not fit{': ' + printable(device.reason, one_line=True) if device.reason else ''}"
    )
    lines.append(f"  usable      {gib(device.budget_bytes, 2):>8} GiB ({budget}): {verdict}")
    capped = " (model limit)" if device.context_capped_by_model else ""
    lines.append(
        f"  largest context at batch {s.batch}: {device.max_context}{capped}"
        f" · largest batch at {s.context} tokens: {device.max_concurrency}"
    )
    if device.kv_cache_tokens is not None:
        lines.append(f"  vLLM's KV cache would hold {device.kv_cache_tokens:,} tokens")
    return lines


def _describe_source(model: Model) -> str:
    return {
        "profile": "built-in profile",
        "directory": f"config.json in {printable(model.location, one_line=True)}",
        "hub-cache": f"Hugging Face cache {printable(model.location, one_line=True)}",
        "hub": printable(model.location, one_line=True),
        "gguf": f"GGUF header of {printable(model.location, one_line=True)}",
    }[model.source]


def _engine(settings: Settings) -> str:
    if settings.gpu_layers is not None or settings.engine in ("llama.cpp", "ollama"):
        layers = "all" if settings.gpu_layers is None else settings.gpu_layers
        return f"{settings.engine} (gpu layers {layers})"
    tp = f", tensor parallel {settings.tensor_parallel}" if settings.tensor_parallel > 1 else ""
    if settings.engine == "vllm":
        return f"vllm (gpu_memory_utilization {settings.gpu_memory_utilization:g}{tp})"
    if settings.engine == "sglang":
        fraction = settings.mem_fraction_static
        share = f"mem_fraction_static {fraction:g}" if fraction is not None else "its mem_fraction_static rule per GPU"
        return f"sglang ({share}{tp})"
    return "transformers"
