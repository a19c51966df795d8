"""The memory plan: what a model needs on one GPU at a dtype, context and batch, under an
engine's rules, and what each GPU of a host can hold.

``plan_memory`` is host-independent; ``fit_devices`` judges it against a Host. Every constant
comes from rules.toml. Per GPU, never summed across GPUs unless the engine shards the model
(vLLM ``--tensor-parallel``): mixed GPUs are judged one by one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.host import Gpu, Host
from gpu_preflight.core.units import MIB, gib
from gpu_preflight.fit import data
from gpu_preflight.fit.gguf_layout import GgufLayout, context_cells, layout_from_file, layout_from_shape
from gpu_preflight.fit.gguf_mix import canonical_mix
from gpu_preflight.fit.sglang import mem_fraction_static
from gpu_preflight.fit.sources import Model

ENGINES = ("vllm", "sglang", "transformers", "llama.cpp", "ollama")
GGUF_ENGINES = ("llama.cpp", "ollama")  # GGUF files, llama.cpp's layout (rules.toml, gguf.toml)
TENSOR_PARALLEL_ENGINES = ("vllm", "sglang")  # the engines that shard a model over GPUs
KV_CACHE_DTYPES = ("fp8", "bfloat16", "float16", "float32")
# Without a max_position_embeddings the search for the largest context stops here.
UNBOUNDED_CONTEXT = 1 << 24


@dataclass(frozen=True)
class Settings:
    dtype: str  # weights, canonical rules.toml name
    dtype_requested: bool  # False: taken from the checkpoint (an engine's "auto" may differ)
    compute_dtype: str  # activations (and the KV cache unless kv_cache_dtype says otherwise)
    kv_cache_dtype: str
    context: int  # tokens per sequence: prompt plus generated
    batch: int  # sequences at once
    engine: str
    tensor_parallel: int = 1
    gpu_memory_utilization: float | None = None  # vLLM's share of total memory; None for other engines
    quant: str | None = None  # llama.cpp/Ollama: the GGUF mix asked for (--quant Q4_K_M); None: the file's
    gpu_layers: int | None = None  # llama.cpp's -ngl; None: everything on the GPU
    mem_fraction_static: float | None = None  # SGLang's --mem-fraction-static; None: its rule per GPU

    def __post_init__(self) -> None:
        # budget() multiplies this share for vLLM: a vLLM plan without one (or another engine's
        # with one) would fail there, far from whoever built it. plan_memory words the user's errors.
        vllm = self.engine == "vllm"
        if vllm != (self.gpu_memory_utilization is not None):
            raise ValueError(
                f"engine {self.engine!r} with gpu_memory_utilization {self.gpu_memory_utilization!r}: "
                "vLLM needs one, other engines take none"
            )
        if self.mem_fraction_static is not None and self.engine != "sglang":
            raise ValueError(f"engine {self.engine!r} with mem_fraction_static: SGLang's setting only")


@dataclass(frozen=True)
class Breakdown:
    """Bytes on one GPU; the keys of the JSON contract's "bytes"."""

    weights: int
    kv_cache: int
    activations: int
    overhead: int

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.activations + self.overhead

    def to_dict(self) -> dict[str, int]:
        return {**asdict(self), "total": self.total}


@dataclass
class MemoryPlan:
    model: Model
    settings: Settings
    weight_bytes: int  # the whole model; one GPU holds weight_bytes / tensor_parallel
    kv_bytes_per_token: int  # the whole model, per token of one sequence
    kv_bytes_per_token_per_gpu: int
    notes: list[str] = field(default_factory=list)
    gguf: GgufLayout | None = None  # llama.cpp/Ollama: the GGUF tensors and their placement

    def breakdown(self, context: int, batch: int, gpu: Gpu | None = None) -> Breakdown:
        """Bytes on one GPU (``gpu`` decides vLLM's batch defaults) for ``batch`` sequences of
        ``context`` tokens."""
        if self.gguf is not None:
            return self._gguf_breakdown(self.gguf, context, batch)
        rules, s = data.rules(), self.settings
        engine = rules["engine"][s.engine]
        tokens_per_sequence = context  # SGLang pages hold one token: no rounding
        if s.engine == "vllm":
            block = engine["block_size"]
            tokens_per_sequence = math.ceil(context / block) * block
        kv_cache = self.kv_bytes_per_token_per_gpu * tokens_per_sequence * batch
        if s.engine == "sglang":  # activations, workspaces and CUDA graphs live in the memory it keeps aside
            overhead = rules["overhead"]["cuda_context_mib"] * MIB
            overhead += rules["overhead"]["tensor_parallel_mib"] * MIB if s.tensor_parallel > 1 else 0
            return Breakdown(math.ceil(self.weight_bytes / s.tensor_parallel), kv_cache, 0, overhead)
        activations = self._activations(context, batch, gpu)
        overhead = (rules["overhead"]["cuda_context_mib"] + rules["overhead"]["workspace_mib"]) * MIB
        if s.tensor_parallel > 1:
            overhead += rules["overhead"]["tensor_parallel_mib"] * MIB
        if s.engine == "vllm":
            overhead += engine["cuda_graphs_mib"] * MIB
        else:
            overhead += math.ceil(engine["allocator_slack"] * (kv_cache + activations))
        return Breakdown(math.ceil(self.weight_bytes / s.tensor_parallel), kv_cache, activations, overhead)

    def _gguf_breakdown(self, layout: GgufLayout, context: int, batch: int) -> Breakdown:
        """llama.cpp on one GPU: the weights and KV cache of the layers it offloads, exactly; its
        compute buffer and the CUDA context, estimated (rules.toml [engine."llama.cpp"])."""
        placement = layout.placement(self.settings.gpu_layers)
        per_cell = layout.kv_bytes_per_cell(self.settings.kv_cache_dtype)
        kv_cache = per_cell * placement.kv_layers_on_gpu * context_cells(context, batch)
        overhead = data.rules()["overhead"]
        return Breakdown(
            placement.gpu_weight_bytes,
            kv_cache,
            self._gguf_compute(context, batch),
            (overhead["cuda_context_mib"] + overhead["workspace_mib"]) * MIB,
        )

    def _gguf_compute(self, context: int, batch: int) -> int:
        rules, shape = data.engine_rules("llama.cpp"), self.model.shape
        tokens = min(int(rules["n_ubatch"]), context * batch)
        width = data.rules()["activation"]["mlp_factor"] * shape.intermediate_size
        width += data.rules()["activation"]["hidden_factor"] * shape.hidden_size
        per_element = int(rules["compute_bytes_per_element"])
        return int(max(tokens * width, tokens * shape.vocab_size) * per_element)

    def host_bytes(self, context: int, batch: int) -> dict[str, int] | None:
        """llama.cpp/Ollama: what stays in RAM (the input layer, blocks not offloaded, their KV
        cache); None for engines that hold everything on the GPU."""
        if self.gguf is None:
            return None
        placement = self.gguf.placement(self.settings.gpu_layers)
        per_cell = self.gguf.kv_bytes_per_cell(self.settings.kv_cache_dtype)
        kv = per_cell * (self.gguf.layers - placement.kv_layers_on_gpu) * context_cells(context, batch)
        return {"weights": placement.host_weight_bytes, "kv_cache": kv, "total": placement.host_weight_bytes + kv}

    def _activations(self, context: int, batch: int, gpu: Gpu | None) -> int:
        s, shape = self.settings, self.model.shape
        factors: dict[str, float] = data.rules()["activation"]
        tokens: int
        logit_rows: int
        if s.engine == "vllm":
            defaults = vllm_batch_defaults(gpu)
            tokens, logit_rows = defaults["max_num_batched_tokens"], defaults["max_num_seqs"]
        else:
            tokens, logit_rows = context * batch, batch
        mlp_width = shape.intermediate_size if shape.layers > shape.sparse_layers else 0
        if shape.experts:
            mlp_width = max(mlp_width, shape.experts_per_token * shape.expert_size + shape.shared_expert_size)
        width = factors["mlp_factor"] * mlp_width / s.tensor_parallel + factors["hidden_factor"] * shape.hidden_size
        forward = tokens * width * data.dtype_bits(s.compute_dtype) / 8
        sampler = logit_rows * shape.vocab_size * factors["sampler_bytes_per_logit"]
        return math.ceil(max(forward, sampler))

    def budget(self, gpu: Gpu) -> tuple[int | None, str | None]:
        """Bytes this engine may use on ``gpu`` and, when it cannot start there, why."""
        if gpu.memory_total_mib is None:
            return None, "its memory size is unknown"
        if gpu.memory_total_mib <= 0:
            return None, f"its memory size ({gpu.memory_total_mib} MiB) is not a real one"
        total = gpu.memory_total_mib * MIB
        free = total - min(max(gpu.memory_used_mib or 0, 0), gpu.memory_total_mib) * MIB
        if self.settings.engine == "sglang":
            return self._sglang_budget(gpu.memory_total_mib, total, free)
        share = self.settings.gpu_memory_utilization
        if share is None:  # every engine but vLLM and SGLang (Settings holds vLLM to a share)
            return free, None
        reserved = math.floor(share * total)
        if free < reserved:
            return reserved, (
                f"vLLM reserves {share:g} of total memory ({gib(reserved)} GiB) "
                f"and refuses to start with {gib(free)} GiB free"
            )
        return reserved, None

    def sglang_fraction(self, total_mib: int | None) -> float:
        """--mem-fraction-static as given, else SGLang's rule for a GPU of ``total_mib``."""
        s = self.settings
        return (
            s.mem_fraction_static
            if s.mem_fraction_static is not None
            else mem_fraction_static(total_mib, s.tensor_parallel)
        )

    def _sglang_budget(self, total_mib: int, total: int, free: int) -> tuple[int | None, str | None]:
        """SGLang sizes its KV pool from the memory free after the weights load, minus the
        (1 - mem_fraction_static) of total memory it keeps aside for activations and CUDA graphs."""
        fraction = self.sglang_fraction(total_mib)
        aside = math.ceil((1 - fraction) * total)
        if free <= aside:
            return 0, (
                f"SGLang keeps {1 - fraction:.3g} of total memory ({gib(aside)} GiB) aside "
                f"(mem_fraction_static {fraction:g}) and only {gib(free)} GiB are free"
            )
        return free - aside, None


def vllm_batch_defaults(gpu: Gpu | None) -> dict[str, Any]:
    """EngineArgs.get_batch_defaults for `vllm serve` on this GPU (rules.toml)."""
    # A host document may say anything (negative memory, no name): the catch-all row takes it.
    total_gib = max(0, gpu.memory_total_mib or 0) / 1024 if gpu else 0
    name = str(gpu.name or "").lower() if gpu else ""
    rows: list[dict[str, Any]] = data.rules()["engine"]["vllm"]["batch_defaults"]
    for row in rows:
        if total_gib >= row["min_memory_gib"] and not (row.get("not_named") and row["not_named"] in name):
            return row
    raise AssertionError("rules.toml: engine.vllm.batch_defaults needs a catch-all row")


def plan_memory(
    model: Model,
    *,
    dtype: str | None = None,
    kv_cache_dtype: str | None = None,
    context: int | None = None,
    batch: int = 1,
    engine: str = "vllm",
    tensor_parallel: int = 1,
    gpu_memory_utilization: float | None = None,
    quant: str | None = None,
    gpu_layers: int | None = None,
    mem_fraction_static: float | None = None,
) -> MemoryPlan:
    """The plan for one model and one set of settings, before any host is looked at.

    ``dtype`` None: the checkpoint's own (its quantisation, or config.json's torch_dtype, else
    bfloat16). ``context`` None: the model's max_position_embeddings, as vLLM serves it.
    llama.cpp and Ollama plan GGUF weights instead: ``quant`` (a mix such as Q4_K_M) or the .gguf
    file's own tensors, ``gpu_layers`` (-ngl; None: all) and a GGUF ``kv_cache_dtype`` (f16...).
    """
    shape, rules = model.shape, data.rules()
    if engine not in ENGINES:
        raise UsageError(f"--engine {engine!r}: choose from {', '.join(ENGINES)}")
    if engine in GGUF_ENGINES:
        return _plan_gguf(
            model,
            dtype,
            quant,
            kv_cache_dtype,
            context,
            batch,
            engine,
            tensor_parallel,
            gpu_memory_utilization,
            gpu_layers,
        )
    if quant is not None or gpu_layers is not None:
        raise UsageError("--quant and --gpu-layers are llama.cpp's: use them with --engine llama.cpp or ollama")
    if model.gguf is not None:
        raise UsageError(f"{model.id}: a GGUF file runs on llama.cpp or Ollama: plan it with --engine llama.cpp")
    notes = list(shape.notes)
    context = _check_context(context, shape.max_position_embeddings, notes)
    if batch < 1:
        raise UsageError(f"--batch must be at least 1, got {batch}")
    _check_tensor_parallel(tensor_parallel, engine, shape.attention_heads, shape.kv_heads)
    if engine == "vllm":
        gpu_memory_utilization = (
            rules["engine"]["vllm"]["gpu_memory_utilization"]
            if gpu_memory_utilization is None
            else gpu_memory_utilization
        )
        if not 0 < gpu_memory_utilization <= 1:
            raise UsageError(f"--gpu-memory-utilization must be in (0, 1], got {gpu_memory_utilization:g}")
    elif gpu_memory_utilization is not None:
        raise UsageError("--gpu-memory-utilization is vLLM's rule: use it with --engine vllm")
    if mem_fraction_static is not None:
        if engine != "sglang":
            raise UsageError("--mem-fraction-static is SGLang's rule: use it with --engine sglang")
        if not 0 < mem_fraction_static < 1:
            raise UsageError(f"--mem-fraction-static must be in (0, 1), got {mem_fraction_static:g}")
    if engine == "sglang":
        notes.append(
            "SGLang: weights and the KV cache pool fill mem_fraction_static of total memory; activations and "
            "CUDA graphs use the rest (multimodal models, DP attention and speculative decoding need more: not planned)"
        )

    requested = dtype is not None
    dtype = _checkpoint_dtype(model, notes) if dtype is None else data.canonical_dtype(dtype)
    quantized = bool(data.dtype_row(dtype).get("quantized"))
    # Quantised weights compute in the checkpoint's 16-bit dtype.
    sixteen_bit = shape.config_dtype if shape.config_dtype in ("bfloat16", "float16") else "bfloat16"
    compute = sixteen_bit if quantized else dtype
    kv_dtype = (
        compute
        if kv_cache_dtype is None or kv_cache_dtype == "auto"
        else data.canonical_dtype(kv_cache_dtype, "--kv-cache-dtype")
    )
    if kv_dtype not in KV_CACHE_DTYPES:
        raise UsageError(f"--kv-cache-dtype {kv_cache_dtype!r}: choose from auto, {', '.join(KV_CACHE_DTYPES)}")

    settings = Settings(
        dtype,
        requested,
        compute,
        kv_dtype,
        context,
        batch,
        engine,
        tensor_parallel,
        gpu_memory_utilization,
        mem_fraction_static=mem_fraction_static,
    )
    kv_bytes = data.dtype_bits(kv_dtype) / 8
    per_token = 2 * shape.layers * shape.kv_heads * shape.head_dim * kv_bytes
    # vLLM splits KV heads across tensor-parallel ranks, replicating them when ranks outnumber heads.
    kv_heads_per_gpu = max(1, shape.kv_heads // tensor_parallel)
    per_token_per_gpu = 2 * shape.layers * kv_heads_per_gpu * shape.head_dim * kv_bytes
    if shape.sparse_layers:
        notes.append(
            f"mixture of experts: all {shape.experts} experts per layer are resident; "
            f"{shape.experts_per_token} run per token ({model.computed.active:,} active parameters)"
        )
    return MemoryPlan(
        model,
        settings,
        _weight_bytes(model, dtype, requested),
        math.ceil(per_token),
        math.ceil(per_token_per_gpu),
        notes,
    )


def _plan_gguf(
    model: Model,
    dtype: str | None,
    quant: str | None,
    kv_cache_dtype: str | None,
    context: int | None,
    batch: int,
    engine: str,
    tensor_parallel: int,
    gpu_memory_utilization: float | None,
    gpu_layers: int | None,
) -> MemoryPlan:
    shape = model.shape
    if dtype is not None:
        raise UsageError(
            f"--dtype is for safetensors checkpoints; with --engine {engine} give --quant TYPE (Q4_K_M...)"
        )
    if gpu_memory_utilization is not None:
        raise UsageError("--gpu-memory-utilization is vLLM's rule: use it with --engine vllm")
    notes = list(shape.notes)
    context = _check_context(context, shape.max_position_embeddings, notes, engine)
    if batch < 1:
        raise UsageError(f"--batch must be at least 1, got {batch}")
    _check_tensor_parallel(tensor_parallel, engine, shape.attention_heads, shape.kv_heads)
    if gpu_layers is not None and gpu_layers < 0:
        raise UsageError(f"--gpu-layers must be 0 or more, got {gpu_layers}")
    if model.gguf is not None:
        layout = layout_from_file(model.gguf, shape)
        if quant is not None and canonical_mix(quant) != layout.mix:
            raise UsageError(f"--quant {quant}: {model.id} is a {layout.mix} file; its own tensor types are planned")
    else:
        if quant is None:
            raise UsageError(
                f"--engine {engine} plans a GGUF file: give the .gguf file as MODEL, or --quant TYPE (Q4_K_M...)"
            )
        layout = layout_from_shape(shape, canonical_mix(quant))
    kv_type = _gguf_kv_type(kv_cache_dtype)
    per_cell = layout.kv_bytes_per_cell(kv_type)
    placement = layout.placement(gpu_layers)
    settings = Settings(
        layout.mix,
        quant is not None,
        "float32",
        kv_type,
        context,
        batch,
        engine,
        tensor_parallel,
        None,
        quant=layout.mix if quant is not None else None,
        gpu_layers=gpu_layers,
    )
    if layout.tied_output and placement.output_on_gpu:
        notes.append("tied embeddings: llama.cpp loads token_embd a second time on the GPU as the output head")
    if engine == "ollama":
        notes.append(str(data.rules()["engine"]["ollama"]["why"]))
    return MemoryPlan(
        model,
        settings,
        layout.weight_bytes,
        per_cell * layout.layers,
        per_cell * placement.kv_layers_on_gpu,
        notes,
        gguf=layout,
    )


def _gguf_kv_type(text: str | None) -> str:
    table = data.gguf()["kv_cache"]
    if text is None or text == "auto":
        return str(table["default"])
    wanted = text.strip().lower()
    if wanted not in table["types"]:
        raise UsageError(f"--kv-cache-type {text!r}: choose from {', '.join(table['types'])}")
    return wanted


def _check_context(context: int | None, model_max: int | None, notes: list[str], engine: str = "vllm") -> int:
    if context is None:
        if model_max is None:
            where = (
                "the GGUF metadata has no context_length"
                if engine in GGUF_ENGINES
                else "config.json has no max_position_embeddings"
            )
            raise UsageError(f"{where}: give --context N")
        if engine in GGUF_ENGINES:
            notes.append(f"context defaults to the model's context length ({model_max}): give --context the -c you run")
        else:
            notes.append(
                f"context defaults to the model's max_position_embeddings ({model_max}): vLLM's default max_model_len"
            )
        return model_max
    if context < 1:
        raise UsageError(f"--context must be at least 1 token, got {context}")
    return context


def _check_tensor_parallel(size: int, engine: str, heads: int, kv_heads: int) -> None:
    if size < 1:
        raise UsageError(f"--tensor-parallel must be at least 1, got {size}")
    if size > 1 and engine not in TENSOR_PARALLEL_ENGINES:
        raise UsageError("--tensor-parallel shards the model across GPUs only with --engine vllm or sglang")
    if heads % size or (kv_heads >= size and kv_heads % size) or (kv_heads < size and size % kv_heads):
        raise UsageError(
            f"--tensor-parallel {size}: the model's {heads} attention heads and {kv_heads} KV heads "
            f"cannot be split {size} ways"
        )


def _checkpoint_dtype(model: Model, notes: list[str]) -> str:
    shape = model.shape
    if shape.quantization is None:
        if shape.config_dtype is None:
            notes.append("config.json names no torch_dtype: planned as bfloat16")
        return shape.config_dtype or "bfloat16"
    quant = _quantization_dtype(shape.quantization)
    if quant is None:
        raise UsageError(
            f"{model.id}: quantization {shape.quantization.get('quant_method')!r} of unknown size: "
            "give --dtype int4|int8|fp8"
        )
    notes.append(f"weights quantised in the checkpoint ({shape.quantization.get('quant_method')}): planned as {quant}")
    return quant


def _quantization_dtype(quantization: dict[str, Any]) -> str | None:
    method = str(quantization.get("quant_method", "")).lower()
    if "fp8" in method:
        return "fp8"
    bits = quantization.get("bits") or (
        4 if quantization.get("load_in_4bit") else 8 if quantization.get("load_in_8bit") else None
    )
    return {4: "int4", 8: "int8"}.get(bits) if isinstance(bits, int) else None


def _weight_bytes(model: Model, dtype: str, requested: bool) -> int:
    shape, stored = model.shape, model.stored
    if shape.quantization is not None and stored is not None and not requested:
        return stored.bytes  # the checkpoint as stored is exactly what loads
    bits = data.dtype_bits(dtype)
    params = model.params
    if not data.dtype_row(dtype).get("quantized"):
        return math.ceil(params * bits / 8)
    kept = model.computed.embeddings + model.computed.lm_head  # rules.toml [quantized]
    return math.ceil(kept * 2 + (params - kept) * bits / 8)


# --- judging a plan against the GPUs of a host ----------------------------------------------


@dataclass
class DeviceFit:
    index: int
    name: str
    compute_capability: str | None
    total_bytes: int | None
    used_bytes: int | None
    free_bytes: int | None
    budget_bytes: int | None  # what the engine may use: free memory, or vLLM's reservation
    fits: bool
    reason: str | None  # why it cannot run at all (unknown memory, vLLM's start check)
    max_context: int
    context_capped_by_model: bool
    max_concurrency: int
    dtype_supported: bool | None  # None: compute capability unknown
    bytes: Breakdown
    kv_cache_tokens: int | None = None  # vLLM: tokens its KV cache would hold ("GPU KV cache size")

    def to_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["bytes"] = self.bytes.to_dict()
        return document


def fit_devices(plan: MemoryPlan, host: Host) -> list[DeviceFit]:
    """One row per GPU the plan would use: every GPU on its own, or the first N of a
    tensor-parallel group (each holding its shard; the group is as large as its smallest)."""
    gpus = host.gpus[: plan.settings.tensor_parallel] if plan.settings.tensor_parallel > 1 else host.gpus
    return [fit_device(plan, gpu) for gpu in gpus]


def fit_device(plan: MemoryPlan, gpu: Gpu) -> DeviceFit:
    s, model_max = plan.settings, plan.model.shape.max_position_embeddings
    budget, reason = plan.budget(gpu)
    total = used = free = None
    if gpu.memory_total_mib is not None:
        total, used = gpu.memory_total_mib * MIB, (gpu.memory_used_mib or 0) * MIB
        free = total - used

    def fits(context: int, batch: int) -> bool:
        return budget is not None and reason is None and plan.breakdown(context, batch, gpu).total <= budget

    max_context = largest_satisfying(model_max or UNBOUNDED_CONTEXT, lambda c: fits(c, s.batch))
    breakdown = plan.breakdown(s.context, s.batch, gpu)
    kv_cache_tokens = None
    if s.engine == "vllm" and budget is not None and reason is None:
        # What vLLM gives the KV cache: its reservation minus weights, profiled activations and the rest.
        spare = budget - (breakdown.total - breakdown.kv_cache)
        kv_cache_tokens = max(0, spare // plan.kv_bytes_per_token_per_gpu)
    per_sequence = max(1, plan.kv_bytes_per_token_per_gpu * s.context)
    ceiling = 1 + (budget or 0) // per_sequence
    return DeviceFit(
        index=gpu.index,
        name=gpu.name,
        compute_capability=gpu.compute_capability,
        total_bytes=total,
        used_bytes=used,
        free_bytes=free,
        budget_bytes=budget,
        fits=fits(s.context, s.batch),
        reason=reason,
        max_context=max_context,
        context_capped_by_model=model_max is not None and max_context == model_max,
        max_concurrency=largest_satisfying(ceiling, lambda b: fits(s.context, b)),
        dtype_supported=dtype_supported(s.dtype, gpu.compute_capability),
        bytes=breakdown,
        kv_cache_tokens=kv_cache_tokens,
    )


def largest_satisfying(upper: int, ok: Callable[[int], bool]) -> int:
    """The largest n in [0, upper] with ok(n), for ok monotone (true, then false)."""
    if upper < 1 or not ok(1):
        return 0
    low, high = 1, upper
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if ok(middle) else (low, middle - 1)
    return low


def dtype_supported(dtype: str, compute_capability: str | None) -> bool | None:
    # GGUF types (Q4_K_M...) are not rules.toml dtypes: llama.cpp runs them on every CUDA GPU.
    minimum = data.rules()["dtype"].get(dtype, {}).get("min_cc")
    if minimum is None:
        return True
    if compute_capability is None:
        return None
    from gpu_preflight.core.versions import Version

    return Version.parse(compute_capability) >= Version.parse(minimum)


def with_settings(plan: MemoryPlan, **changes: Any) -> MemoryPlan:
    """The same model re-planned with some settings changed (for fixes that are checked)."""
    s = plan.settings
    current: dict[str, Any] = {
        "dtype": s.dtype if s.dtype_requested else None,
        "kv_cache_dtype": s.kv_cache_dtype if s.kv_cache_dtype != s.compute_dtype else None,
        "context": s.context,
        "batch": s.batch,
        "engine": s.engine,
        "tensor_parallel": s.tensor_parallel,
        "gpu_memory_utilization": s.gpu_memory_utilization if s.engine == "vllm" else None,
    }
    if s.engine in GGUF_ENGINES:
        current |= {"dtype": None, "quant": s.quant, "gpu_layers": s.gpu_layers}
    current.update(changes)
    if current["engine"] not in GGUF_ENGINES:
        current.pop("quant", None), current.pop("gpu_layers", None)
    if current["engine"] != "vllm":
        current["gpu_memory_utilization"] = None
    return plan_memory(plan.model, **current)
