"""``preflight fit``: will this model fit on these GPUs, at what context, for how many sequences?"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from gpu_preflight.cli.flags import (
    add_db_flag,
    add_host_flags,
    add_model_flags,
    emit_json,
    host_from_args,
    plan_from_args,
)

if TYPE_CHECKING:
    from gpu_preflight.fit import MemoryPlan

HELP = "per-GPU memory plan for a model: fits or not, largest context, largest batch"
# fit/plan.py ENGINES (kept here so that --help does not import the planner; a test holds them equal).
ENGINES = ("vllm", "sglang", "transformers", "llama.cpp", "ollama")
GGUF_ENGINES = ("llama.cpp", "ollama")


def configure(parser: argparse.ArgumentParser) -> None:
    # fit also plans GGUF files; its default engine is decided in run(): llama.cpp for a .gguf MODEL, else vLLM.
    add_model_flags(parser, positional=True, engines=ENGINES, default_engine=None)
    group = parser.add_argument_group("GGUF (--engine llama.cpp or ollama)")
    group.add_argument(
        "--quant",
        metavar="TYPE",
        help="the GGUF quantisation to plan from config.json: Q4_K_M, Q5_K_M, Q8_0, F16... (a .gguf MODEL has its own)",
    )
    group.add_argument(
        "--gpu-layers",
        type=int,
        metavar="N",
        help="llama.cpp's -ngl / Ollama's num_gpu: layers on the GPU, the output layer first (default: all)",
    )
    group.add_argument(
        "--kv-cache-type",
        metavar="T",
        help="llama.cpp's --cache-type-k/-v: f16 (default), q8_0, q4_0",
    )
    add_host_flags(parser)
    add_db_flag(parser)
    parser.add_argument("--json", action="store_true", help="the gpu-preflight/fit/v1 document")


def run(args: argparse.Namespace) -> int:
    from gpu_preflight.core.errors import UsageError
    from gpu_preflight.core.findings import overall_status
    from gpu_preflight.fit import fit_devices, fit_findings
    from gpu_preflight.report.fit_plan import fit_document, render_fit_text

    if args.engine is None:
        gguf_flags = (args.quant, args.gpu_layers, args.kv_cache_type) != (None, None, None)
        args.engine = "llama.cpp" if gguf_flags or _names_gguf(args.model) else "vllm"
    plan = _gguf_plan(args) if args.engine in GGUF_ENGINES else _plan(args)
    if plan is None:  # MODEL is positional here, so argparse has refused its absence already
        raise UsageError("fit needs a MODEL")
    host = host_from_args(args)
    devices = fit_devices(plan, host)
    findings = fit_findings(plan, host, devices)
    if args.json:
        emit_json(fit_document(plan, devices, findings))
    else:
        sys.stdout.write(render_fit_text(plan, devices, findings))
    return 1 if overall_status(findings) == "fail" else 0


def _plan(args: argparse.Namespace) -> MemoryPlan | None:
    from gpu_preflight.core.errors import UsageError

    if args.quant is not None or args.gpu_layers is not None or args.kv_cache_type is not None:
        raise UsageError("--quant, --gpu-layers and --kv-cache-type plan GGUF files: add --engine llama.cpp or ollama")
    return plan_from_args(args)


def _gguf_plan(args: argparse.Namespace) -> MemoryPlan:
    from gpu_preflight.core.errors import UsageError
    from gpu_preflight.fit import plan_memory, resolve_model

    if args.hub_timeout <= 0:
        raise UsageError("--hub-timeout must be a positive number of seconds")
    kv = args.kv_cache_type if args.kv_cache_type is not None else args.kv_cache_dtype
    return plan_memory(
        resolve_model(args.model, timeout=args.hub_timeout),
        dtype=args.dtype,
        kv_cache_dtype=kv,
        context=args.context,
        batch=args.batch,
        engine=args.engine,
        tensor_parallel=args.tensor_parallel,
        gpu_memory_utilization=args.gpu_memory_utilization,
        mem_fraction_static=args.mem_fraction_static,
        quant=args.quant,
        gpu_layers=args.gpu_layers,
    )


def _names_gguf(model: str) -> bool:
    return model.strip().lower().endswith(".gguf")
