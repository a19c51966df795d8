"""``preflight fit``: will this model fit on these GPUs, at what context, for how many sequences?"""

from __future__ import annotations

import argparse
import sys

from gpu_preflight.cliflags import add_db_flag, add_host_flags, emit_json, host_from_args

HELP = "per-GPU memory plan for a model: fits or not, largest context, largest batch"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="a directory with config.json, a built-in model (VibeThinker-1.5B...), or a Hugging Face id")
    parser.add_argument("--dtype", metavar="D", help="weights: float32, bfloat16, float16, fp8, int8, int4 (default: the checkpoint's)")
    parser.add_argument("--kv-cache-dtype", metavar="D", default="auto", help="auto (the compute dtype), fp8, bfloat16, float16, float32")
    parser.add_argument("--context", type=int, metavar="N", help="tokens per sequence, prompt plus output (default: the model's max_position_embeddings)")
    parser.add_argument("--batch", type=int, default=1, metavar="N", help="sequences at once (default 1)")
    parser.add_argument("--engine", choices=("vllm", "transformers"), default="vllm", help="whose memory rules to plan with (default vllm)")
    parser.add_argument("--tensor-parallel", type=int, default=1, metavar="N", help="vLLM: shard over the first N GPUs")
    parser.add_argument("--gpu-memory-utilization", type=float, metavar="F", help="vLLM: fraction of total memory it reserves (default 0.9)")
    parser.add_argument("--hub-timeout", type=float, default=10.0, metavar="S", help="seconds to wait for the Hugging Face Hub (default 10)")
    add_host_flags(parser)
    add_db_flag(parser)
    parser.add_argument("--json", action="store_true", help="the gpu-preflight/fit/v1 document")


def run(args: argparse.Namespace) -> int:
    from gpu_preflight.errors import UsageError
    from gpu_preflight.findings import overall_status
    from gpu_preflight.fit import fit_devices, fit_findings, plan_memory, resolve_model
    from gpu_preflight.fit.report import fit_document, render_fit_text

    if args.hub_timeout <= 0:
        raise UsageError("--hub-timeout must be a positive number of seconds")
    model = resolve_model(args.model, timeout=args.hub_timeout)
    plan = plan_memory(
        model, dtype=args.dtype, kv_cache_dtype=args.kv_cache_dtype, context=args.context, batch=args.batch,
        engine=args.engine, tensor_parallel=args.tensor_parallel, gpu_memory_utilization=args.gpu_memory_utilization,
    )  # settings are checked before the host is probed: a typo should not cost a probe
    host = host_from_args(args)
    devices = fit_devices(plan, host)
    findings = fit_findings(plan, host, devices)
    if args.json:
        emit_json(fit_document(plan, devices, findings))
    else:
        sys.stdout.write(render_fit_text(plan, devices, findings))
    return 1 if overall_status(findings) == "fail" else 0
