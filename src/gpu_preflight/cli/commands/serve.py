"""``preflight serve``: check first, then run the model behind an OpenAI-compatible API."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from gpu_preflight.cli.flags import add_db_flag, add_host_flags, host_spec_from_args

if TYPE_CHECKING:  # serve/ is imported only when serving: building the parser stays cheap
    from gpu_preflight.serve.options import ServeOptions

HELP = "check this host for a model, then serve it with an OpenAI-compatible API (built-in engine or vLLM)"
DEFAULT_MODEL = "WeiboAI/VibeThinker-1.5B"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model",
        metavar="MODEL",
        nargs="?",
        default=DEFAULT_MODEL,
        help=f"a directory with the model, or a Hugging Face id (default {DEFAULT_MODEL})",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", metavar="H", help="address to listen on (default 127.0.0.1: this machine only)"
    )
    parser.add_argument("--port", type=int, default=8000, metavar="P", help="port to listen on (default 8000)")
    parser.add_argument(
        "--engine",
        choices=("auto", "transformers", "vllm", "sglang", "llama.cpp"),
        default="auto",
        help="auto (default): vLLM when it is installed and a GPU passes its checks, else the built-in engine; "
        "transformers: the built-in engine; vllm, sglang: that engine's server with the derived flags; "
        "llama.cpp: llama-server with a .gguf MODEL",
    )
    parser.add_argument(
        "--kv-cache-type",
        metavar="TYPE",
        help="--engine llama.cpp: the KV cache's type, f16 (llama.cpp's default), q8_0 or q4_0 (less memory per "
        "token; the context is still sized at f16, so it fits)",
    )
    parser.add_argument(
        "--device",
        choices=("auto", "cuda", "cpu"),
        default="auto",
        help="auto: a GPU that passes the checks, else the CPU with a warning (default); cuda: a GPU or refuse; cpu",
    )
    parser.add_argument("--dtype", metavar="D", help="auto (derived: the default), float32, bfloat16, float16")
    parser.add_argument(
        "--max-context",
        type=int,
        metavar="N",
        help="tokens per request, prompt plus output (default: the largest that fits, capped by the model's own limit)",
    )
    parser.add_argument(
        "--memory-share",
        type=float,
        metavar="F",
        help="fraction of the GPU's total memory to use (default: 0.9, or less when other processes hold memory)",
    )
    parser.add_argument(
        "--allowed-hosts",
        action="append",
        default=[],
        metavar="NAMES",
        help="Host header names to answer besides localhost, 127.0.0.1 and [::1] (and --host when it is not "
        "loopback), comma-separated, name or name:port, '*' for any: others get 400, against DNS rebinding",
    )
    parser.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="let web pages from ORIGIN (https://app.example, or '*') call the API from a browser; repeatable "
        "(default: none, no CORS headers)",
    )
    parser.add_argument(
        "--max-body-mib",
        type=float,
        default=4.0,
        metavar="N",
        help="largest request body in MiB; larger ones get 413 (default 4)",
    )
    parser.add_argument(
        "--api-key",
        metavar="K",
        default=os.environ.get("PREFLIGHT_API_KEY") or None,
        help="require 'Authorization: Bearer K' on /v1 and /preflight (default: $PREFLIGHT_API_KEY)",
    )
    parser.add_argument(
        "--system-prompt",
        metavar="S",
        help="system message for chat requests without one (default: the model profile's; '' disables)",
    )
    parser.add_argument(
        "--no-preflight", action="store_true", help="skip the checks (settings are still derived from the probed host)"
    )
    parser.add_argument(
        "--served-model-name",
        metavar="NAME",
        help="the model id clients use (default: the Hub id, or the directory's name)",
    )
    parser.add_argument(
        "--profile",
        default="auto",
        metavar="NAME",
        help="request defaults: auto (by model name; the default), none (the model's generation_config.json), or a "
        "profile id",
    )
    parser.add_argument(
        "--max-queue",
        type=int,
        metavar="N",
        help="requests waiting beyond those generating; more get 503 (default 32)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="CPU threads for the model (default: the cores this process may use, less one for the web thread when "
        "there are more than two)",
    )
    parser.add_argument(
        "--max-batch",
        type=int,
        metavar="N",
        help="requests the built-in engine generates at once (default: as many as fit in memory at the context, "
        "at most 64)",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="built-in engine: compile the model with torch.compile during warm-up (slower start; falls back to "
        "eager, with the reason logged, when compiling fails)",
    )
    parser.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow Python code shipped in the model repository to run (never without this flag)",
    )
    parser.add_argument(
        "--monitor",
        type=int,
        metavar="PORT",
        help="also export GPU metrics for Prometheus on PORT (needs: pip install 'gpu-preflight[monitor]')",
    )
    parser.add_argument(
        "--hub-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds to wait for the Hugging Face Hub when reading config.json (default 10)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="judge and derive, print the settings (and the engine's command: vLLM, SGLang, llama.cpp), start nothing",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="with --dry-run: the gpu-preflight/serve/v1 document, the doctor report included",
    )
    add_host_flags(parser)
    add_db_flag(parser)


def options_from_args(args: argparse.Namespace) -> ServeOptions:
    from gpu_preflight.serve.options import ServeOptions

    return ServeOptions(
        model=args.model,
        host=args.host,
        port=args.port,
        engine=args.engine,
        device=args.device,
        dtype=args.dtype,
        max_context=args.max_context,
        memory_share=args.memory_share,
        api_key=args.api_key,
        system_prompt=args.system_prompt,
        preflight=not args.no_preflight,
        served_model_name=args.served_model_name,
        profile=args.profile,
        max_queue=args.max_queue,
        trust_remote_code=args.trust_remote_code,
        monitor_port=args.monitor,
        hub_timeout=args.hub_timeout,
        allowed_hosts=tuple(name.strip() for value in args.allowed_hosts for name in value.split(",")),
        cors_origins=tuple(args.cors_origin),
        max_body_mib=args.max_body_mib,
        dry_run=args.dry_run,
        json=args.json,
        threads=args.threads,
        max_batch=args.max_batch,
        compile=args.compile,
        kv_cache_type=args.kv_cache_type,
    )


def run(args: argparse.Namespace) -> int:
    from gpu_preflight.serve.launch import launch

    return launch(options_from_args(args), host_spec_from_args(args), db=args.db)
