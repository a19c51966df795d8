"""Settings derived from what was measured: dtype, the largest context that fits, the memory
share. Pure functions of the model, one GPU (or the CPU's facts) and the user's overrides;
every value comes with the reason it is what it is. Constants live in rules.toml.

Rules
- dtype on a GPU: the user's --dtype; else bfloat16 where the GPU computes it (compute
  capability >= 8.0) and the checkpoint is bfloat16 or float32; float16 on older GPUs (and for
  float16 checkpoints). A float32 checkpoint is served in 16 bits, as vLLM's dtype auto does.
- dtype on the CPU: bfloat16 when the checkpoint is bfloat16 and the CPU computes bfloat16
  natively (avx512_bf16 / amx_bf16 in /proc/cpuinfo); else float32, which is exact for 16-bit
  checkpoints and the fast path where PyTorch would emulate bfloat16 (float16 is emulated on
  every CPU). float32 that does not fit the available memory falls back to bfloat16.
- memory share (GPU): the user's --memory-share; else 0.90 of total memory, lowered to what is
  free (minus a 2% margin) when other processes hold memory. vLLM gets it as
  --gpu-memory-utilization; the built-in engine caps PyTorch's allocator at it.
- batch (the built-in engine): the most sequences that fit in the share at the served
  context, each with its whole KV cache (fit's plan for N sequences), capped by rules.toml;
  --max-batch N asks for exactly N.
- threads: the cores this process may use (its affinity), less one for the web thread where
  there are more than two; --threads N overrides.
- context: the largest whose weights + KV cache + activations + overhead (fit's memory plan,
  under the engine's rules, one sequence) fit in the share; capped by the model's own
  max_position_embeddings; --max-context N asks for exactly N (the gate then says whether it fits).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.host import Gpu
from gpu_preflight.core.units import MIB, gib
from gpu_preflight.fit import MemoryPlan, Model, plan_memory
from gpu_preflight.fit.data import canonical_dtype
from gpu_preflight.fit.plan import dtype_supported
from gpu_preflight.fit.sglang import fraction_within
from gpu_preflight.serve import data
from gpu_preflight.serve.machine import CpuFacts

SERVABLE_DTYPES = ("float32", "bfloat16", "float16")


@dataclass
class Hardware:
    """Where and how the model runs, with the reason for each value."""

    device: str  # cuda | cpu
    dtype: str  # float32 | bfloat16 | float16
    max_context: int  # tokens per sequence, prompt plus output
    memory_share: float | None  # of the GPU's total memory; None on the CPU
    plan: MemoryPlan  # fit's plan at max_context: what the gate judges
    gpu: Gpu | None = None
    budget_bytes: int | None = None  # what the plan may use: the share, or the CPU's
    why: dict[str, str] = field(default_factory=dict)
    max_batch: int = 1  # sequences decoded together by the built-in engine
    threads: int | None = None  # torch's CPU threads; None: torch's default

    def to_dict(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "dtype": self.dtype,
            "max_context": self.max_context,
            "memory_share": self.memory_share,
            "gpu": None
            if self.gpu is None
            else {"index": self.gpu.index, "name": self.gpu.name, "compute_capability": self.gpu.compute_capability},
            "budget_bytes": self.budget_bytes,
            "max_batch": self.max_batch,
            "threads": self.threads,
            "planned_bytes": self.plan.breakdown(self.max_context, 1, self.gpu).total,
            "why": self.why,
        }


def parse_dtype(text: str | None) -> str | None:
    """--dtype: None or 'auto' derive it; the built-in engine and vLLM both take these three."""
    if text is None or text.strip().lower() == "auto":
        return None
    name = canonical_dtype(text)
    if name not in SERVABLE_DTYPES:
        raise UsageError(
            f"--dtype {text!r}: serve takes auto, {', '.join(SERVABLE_DTYPES)} (a quantised checkpoint loads as stored "
            "with --dtype auto)"
        )
    return name


def derive_gpu(
    model: Model,
    gpu: Gpu,
    engine: str,
    *,
    dtype: str | None = None,
    max_context: int | None = None,
    memory_share: float | None = None,
) -> Hardware:
    why = {}
    if dtype is None:
        dtype, why["dtype"] = gpu_dtype(model.shape.config_dtype, gpu.compute_capability)
    else:
        why["dtype"] = "--dtype"
    share, why["memory_share"] = gpu_memory_share(gpu, memory_share)
    total = gpu.memory_total_mib * MIB if gpu.memory_total_mib is not None else None
    budget = math.floor(share * total) if total is not None else None
    planning = engine if engine in ("vllm", "sglang", "llama.cpp") else "transformers"
    options: dict[str, Any] = {"gpu_memory_utilization": share} if planning == "vllm" else {}
    planned_share = share
    if planning == "sglang":  # weights and KV pool fill its static fraction; activations use the rest
        if memory_share is None:
            planned_share = fraction_within(gpu.memory_total_mib, share)
        options = {"mem_fraction_static": planned_share}
        budget = math.floor(planned_share * total) if total is not None else None
    if planning == "llama.cpp":  # a GGUF file: weights in its own tensor types, planned from its header
        why["dtype"] = "not used: llama.cpp computes with the GGUF file's own tensor types"
    where = f"{planned_share:g} of GPU {gpu.index}'s {gib(total)} GiB"
    context, why["max_context"], plan = _context(model, dtype, planning, options, max_context, budget, gpu, where)
    return Hardware("cuda", dtype, context, share, plan, gpu, budget, why)


def derive_cpu(model: Model, cpu: CpuFacts, *, dtype: str | None = None, max_context: int | None = None) -> Hardware:
    rules = data.rules()["cpu"]
    budget = math.floor(cpu.available_bytes * rules["memory_share"]) if cpu.available_bytes is not None else None
    where = f"{rules['memory_share']:g} of the {gib(cpu.available_bytes)} GiB of RAM available"
    why = {}
    if dtype is None:
        dtype, why["dtype"] = cpu_dtype(model.shape.config_dtype, cpu.flags)
        context, reason, plan = _context(model, dtype, "transformers", {}, max_context, budget, None, where)
        if context == 0 and dtype == "float32":
            narrower, narrower_reason, narrower_plan = _context(
                model, "bfloat16", "transformers", {}, max_context, budget, None, where
            )
            if narrower:
                dtype, why["dtype"] = (
                    "bfloat16",
                    "float32 weights do not fit the available memory; bfloat16 halves them",
                )
                context, reason, plan = narrower, narrower_reason, narrower_plan
    else:
        why["dtype"] = "--dtype"
        context, reason, plan = _context(model, dtype, "transformers", {}, max_context, budget, None, where)
    why["max_context"] = reason
    return Hardware("cpu", dtype, context, None, plan, None, budget, why)


def gpu_dtype(checkpoint: str | None, compute_capability: str | None) -> tuple[str, str]:
    if checkpoint == "float16":
        return "float16", "the checkpoint's dtype"
    if dtype_supported("bfloat16", compute_capability):
        why = (
            "the checkpoint's dtype"
            if checkpoint == "bfloat16"
            else f"the checkpoint is {checkpoint or 'of unknown dtype'}: 16 bits halve weights and KV cache, and "
            "bfloat16 keeps float32's range"
        )
        return "bfloat16", why
    if compute_capability is None:
        return "float16", "compute capability unknown: float16 runs on every GPU, bfloat16 needs 8.0"
    return (
        "float16",
        f"compute capability {compute_capability} < 8.0 has no bfloat16 arithmetic: float16 has the same size",
    )


def cpu_dtype(checkpoint: str | None, flags: frozenset[str]) -> tuple[str, str]:
    native = sorted(flags & set(data.rules()["cpu"]["native_bf16_flags"]))
    if checkpoint == "bfloat16" and native:
        return "bfloat16", f"the checkpoint's dtype, computed natively by this CPU ({', '.join(native)})"
    if checkpoint in ("bfloat16", "float16"):
        lacking = (
            "PyTorch emulates float16 on CPUs"
            if checkpoint == "float16"
            else "this CPU has no native bfloat16 (no avx512_bf16/amx_bf16)"
        )
        return "float32", f"{lacking}: float32 is exact for the {checkpoint} checkpoint and faster there"
    return "float32", "the checkpoint's dtype" if checkpoint == "float32" else "float32: exact, and native on every CPU"


def gpu_memory_share(gpu: Gpu, requested: float | None) -> tuple[float, str]:
    if requested is not None:
        if not 0 < requested <= 1:
            raise UsageError(f"--memory-share must be in (0, 1], got {requested:g}")
        return requested, "--memory-share"
    rules = data.rules()["gpu"]
    if not gpu.memory_total_mib:
        return rules["memory_share"], "the default: this GPU's memory size is unknown"
    free_share = (gpu.memory_total_mib - (gpu.memory_used_mib or 0)) / gpu.memory_total_mib
    if free_share - rules["free_margin"] >= rules["memory_share"]:
        return rules["memory_share"], f"the default share; {free_share:.0%} of the GPU is free"
    share = max(rules["min_share"], math.floor((free_share - rules["free_margin"]) * 100) / 100)
    return (
        share,
        f"other processes hold {gpu.memory_used_mib} MiB: {free_share:.0%} is free, minus a {rules['free_margin']:.0%} "
        "margin",
    )


def batch_size(hardware: Hardware, requested: int | None) -> tuple[int, str]:
    """Sequences at once for the built-in engine: as many as fit at the served context."""
    if requested is not None:
        if requested < 1:
            raise UsageError(f"--max-batch must be at least 1, got {requested}")
        return requested, "--max-batch"
    cap = int(data.rules()["batch"]["max_sequences"])
    budget, context, gpu = hardware.budget_bytes, hardware.max_context, hardware.gpu
    if budget is None or context < 1:
        return 1, "memory size unknown: one sequence at a time (--max-batch N to choose)"
    from gpu_preflight.fit.plan import largest_satisfying

    fits = largest_satisfying(cap, lambda n: hardware.plan.breakdown(context, n, gpu).total <= budget)
    if fits >= cap:
        return cap, f"the rules' cap; more sequences of {context} tokens would fit in the memory budget"
    if fits <= 1:
        return 1, (
            f"one sequence of {context} tokens fills the memory budget: a smaller --max-context leaves room for more"
        )
    return fits, f"the most sequences of {context} tokens (each with its whole KV cache) that fit in the memory budget"


def threads(cores: int | None, requested: int | None) -> tuple[int | None, str]:
    """torch's CPU threads: the usable cores, less one for the web thread where there are enough."""
    if requested is not None:
        if requested < 1:
            raise UsageError(f"--threads must be at least 1, got {requested}")
        return requested, "--threads"
    if cores is None:
        return None, "torch's default: the cores this process may use are unknown"
    keep_above = int(data.rules()["threads"]["keep_for_web_above"])
    if cores > keep_above:
        return cores - 1, f"{cores} cores usable by this process, one left for the web thread"
    return (
        cores,
        f"all {cores} cores usable by this process (with {keep_above} or fewer, none is set apart for the web thread)",
    )


def largest_context(plan: MemoryPlan, budget: int, upper: int, gpu: Gpu | None) -> int:
    """The largest context in [0, upper] whose one-sequence plan fits in ``budget`` bytes."""
    from gpu_preflight.fit.plan import largest_satisfying

    return largest_satisfying(upper, lambda context: plan.breakdown(context, 1, gpu).total <= budget)


def _context(
    model: Model,
    dtype: str,
    engine: str,
    options: dict[str, Any],
    requested: int | None,
    budget: int | None,
    gpu: Gpu | None,
    where: str,
) -> tuple[int, str, MemoryPlan]:
    """(context, why, the plan at that context). A context of 0: not even the weights fit; the
    plan is then made at the model's limit so that the gate can say by how much."""
    model_max = model.shape.max_position_embeddings
    plan_dtype = None if engine == "llama.cpp" else dtype  # a GGUF file is planned in its own tensor types
    if requested is not None:
        if requested < 1:
            raise UsageError(f"--max-context must be at least 1 token, got {requested}")
        if model_max is not None and requested > model_max:
            raise UsageError(f"--max-context {requested} is beyond the model's max_position_embeddings ({model_max})")
        plan = plan_memory(model, dtype=plan_dtype, context=requested, engine=engine, **options)
        return requested, "--max-context", plan
    if model_max is None:
        raise UsageError("config.json has no max_position_embeddings: give --max-context N")
    plan = plan_memory(model, dtype=plan_dtype, context=model_max, engine=engine, **options)
    if budget is None:
        return model_max, "the model's max_position_embeddings; memory size unknown, so not capped by memory", plan
    context = largest_context(plan, budget, model_max, gpu)
    if context == model_max:
        return context, f"the model's max_position_embeddings; it fits in {where}", plan
    if context == 0:
        return 0, f"not even the weights fit in {where}", plan
    reason = f"the largest that fits in {where} ({engine} memory rules); the model allows {model_max}"
    return context, reason, plan_memory(model, dtype=plan_dtype, context=context, engine=engine, **options)
