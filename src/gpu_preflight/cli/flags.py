"""Flag groups shared by several commands (docs/architecture.md, "Command-line flags"), and the
one place each group becomes a typed value: ``HostSpec``, ``Targets``, ``ImageRequests``, a
``MemoryPlan``. Features receive those values, never the ``argparse.Namespace``."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the real imports stay inside the functions: building the parser must stay cheap
    from gpu_preflight.core.host import Host
    from gpu_preflight.fit import MemoryPlan
    from gpu_preflight.images import ImageRequests
    from gpu_preflight.probe.hostspec import HostSpec
    from gpu_preflight.targets.model import Targets

HOST_TITLE = "HOST (default: this machine, probed live)"


def add_host_flags(parser: argparse.ArgumentParser, title: str = HOST_TITLE) -> None:
    """The HOST flags; ``title`` says what the command judges when none is given."""
    group = parser.add_argument_group(title)
    group.add_argument("--snapshot", metavar="FILE", help="a host document written by 'preflight probe --json'")
    group.add_argument("--nvidia-smi-xml", metavar="FILE", help="an 'nvidia-smi -q -x' dump")
    group.add_argument(
        "--assume-driver", metavar="VERSION", help="what-if: this driver version instead of the probed one"
    )
    group.add_argument(
        "--assume-gpu",
        metavar="NAME[:MEMORY]",
        action="append",
        default=[],
        help="what-if: this GPU instead of the probed ones (repeatable), e.g. 'Tesla T4:16GiB'",
    )
    group.add_argument(
        "--python", metavar="PATH", help="inspect the frameworks of another interpreter (a venv or conda env)"
    )
    group.add_argument("--deep", action="store_true", help="import torch in a subprocess and launch one kernel")
    group.add_argument(
        "--timeout", type=float, default=15.0, metavar="S", help="timeout for nvidia-smi/NVML/nvcc (default 15)"
    )


def add_target_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("TARGET (what you want to run; repeatable; default: the installed frameworks)")
    group.add_argument(
        "--torch",
        metavar="SPEC",
        action="append",
        default=[],
        help="a torch wheel: 2.1.0+cu118, 2.6.0 (its default PyPI wheel), torch==2.4.1",
    )
    group.add_argument("--cuda", metavar="X.Y", action="append", default=[], help="a CUDA runtime")
    group.add_argument(
        "--requirements",
        metavar="FILE",
        action="append",
        default=[],
        help="torch pins in a requirements.txt or pyproject.toml",
    )
    group.add_argument(
        "--engine-pkg",
        metavar="SPEC",
        action="append",
        default=[],
        help="an inference engine release: vllm==0.11.0, vllm==0.20.0+cu129, sglang==0.5.1, ollama==0.12.3",
    )
    group.add_argument(
        "--image",
        metavar="REF",
        action="append",
        default=[],
        help="a container image: nvidia/cuda:12.4.1-runtime-ubuntu22.04, nvcr.io/nvidia/pytorch:24.05-py3",
    )
    group.add_argument(
        "--dockerfile",
        metavar="PATH",
        action="append",
        default=[],
        help="the image a Dockerfile builds (its last stage)",
    )
    group.add_argument(
        "--require-cuda",
        metavar="EXPR",
        action="append",
        default=[],
        help="a raw NVIDIA_REQUIRE_CUDA value, e.g. 'cuda>=12.4 brand=tesla,driver>=470,driver<471'",
    )
    group.add_argument(
        "--image-config",
        metavar="FILE",
        action="append",
        default=[],
        help="'docker image inspect' output or an OCI image config for --image / the Dockerfile's base",
    )
    group.add_argument(
        "--registry-lookup",
        action="store_true",
        help="read image configs from their registry (network; anonymous pulls only)",
    )
    group.add_argument(
        "--cdi", action="store_true", help="containers get GPUs through CDI: no NVIDIA_REQUIRE_* gate runs"
    )


def add_model_flags(
    parser: argparse.ArgumentParser,
    positional: bool = False,
    engines: tuple[str, ...] = ("vllm", "transformers"),
    default_engine: str | None = "vllm",
) -> None:
    """MODEL and its memory-plan settings (``fit MODEL``, ``doctor --model MODEL``). ``engines``:
    whose memory rules may be asked for (fit also plans GGUF files); ``default_engine`` None
    leaves the choice to the command."""
    what = "a directory with config.json, a built-in model (VibeThinker-1.5B...), or a Hugging Face id"
    if positional:
        parser.add_argument("model", metavar="MODEL", help=what)
    group = parser.add_argument_group("MODEL (memory plan)")
    if not positional:
        group.add_argument("--model", metavar="MODEL", help=what)
    group.add_argument(
        "--dtype", metavar="D", help="weights: float32, bfloat16, float16, fp8, int8, int4 (default: the checkpoint's)"
    )
    group.add_argument(
        "--kv-cache-dtype",
        metavar="D",
        default="auto",
        help="auto (the compute dtype), fp8, bfloat16, float16, float32",
    )
    group.add_argument(
        "--context",
        type=int,
        metavar="N",
        help="tokens per sequence, prompt plus output (default: the model's max_position_embeddings)",
    )
    group.add_argument("--batch", type=int, default=1, metavar="N", help="sequences at once (default 1)")
    group.add_argument(
        "--engine",
        choices=engines,
        default=default_engine,
        help=f"whose memory rules to plan with: {', '.join(engines)} (default "
        + (default_engine or "vllm; llama.cpp for a .gguf MODEL")
        + ")",
    )
    group.add_argument(
        "--tensor-parallel", type=int, default=1, metavar="N", help="vLLM, SGLang: shard over the first N GPUs"
    )
    group.add_argument(
        "--gpu-memory-utilization",
        type=float,
        metavar="F",
        help="vLLM: fraction of total memory it reserves (default 0.9)",
    )
    if "sglang" in engines:
        group.add_argument(
            "--mem-fraction-static",
            type=float,
            metavar="F",
            help="SGLang: fraction of total memory for weights and KV cache (default: SGLang's rule for the GPU)",
        )
    group.add_argument(
        "--hub-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds to wait for the Hugging Face Hub (default 10)",
    )


def plan_from_args(args: argparse.Namespace) -> MemoryPlan | None:
    """The memory plan the MODEL flags ask for, or None without a model. Checked before any
    probe: a typo should not cost one. A MODEL given empty is an error, not "no model"."""
    if getattr(args, "model", None) is None:
        return None
    from gpu_preflight.core.errors import UsageError
    from gpu_preflight.fit import plan_memory, resolve_model

    if args.hub_timeout <= 0:
        raise UsageError("--hub-timeout must be a positive number of seconds")
    return plan_memory(
        resolve_model(args.model, timeout=args.hub_timeout),
        dtype=args.dtype,
        kv_cache_dtype=args.kv_cache_dtype,
        context=args.context,
        batch=args.batch,
        engine=args.engine,
        tensor_parallel=args.tensor_parallel,
        gpu_memory_utilization=args.gpu_memory_utilization,
        mem_fraction_static=getattr(args, "mem_fraction_static", None),
    )


def add_db_flag(parser: argparse.ArgumentParser, default: Any = argparse.SUPPRESS) -> None:
    # Accepted before or after the command; SUPPRESS keeps a subcommand from erasing the other.
    parser.add_argument(
        "--db",
        metavar="DIR",
        default=default,
        help="knowledge-base data files to use instead of the packaged ones ($GPU_PREFLIGHT_DB)",
    )


def host_spec_from_args(args: argparse.Namespace, probe_live: bool = True) -> HostSpec:
    """The HOST flags as the HostSpec the features take. ``probe_live`` False: without a
    snapshot or dump, ``--assume-*`` describe a what-if machine and this one is not probed."""
    from gpu_preflight.probe.hostspec import HostSpec

    return HostSpec(
        snapshot=args.snapshot,
        nvidia_smi_xml=args.nvidia_smi_xml,
        assume_driver=args.assume_driver,
        assume_gpus=tuple(args.assume_gpu),
        python=args.python,
        deep=args.deep,
        timeout=args.timeout,
        probe_live=probe_live,
    )


def host_from_args(args: argparse.Namespace) -> Host:
    """The host the HOST flags describe: probed live, read from a file, or what-if."""
    from gpu_preflight.probe.hostspec import resolve_host

    return resolve_host(host_spec_from_args(args), db=args.db)


def targets_from_args(args: argparse.Namespace) -> Targets:
    from gpu_preflight.targets.model import Targets

    engine_specs = getattr(args, "engine_pkg", [])
    if not (args.torch or args.cuda or args.requirements or engine_specs):
        return Targets()  # judge what is installed; skips importing the target parsers (and packaging)
    from dataclasses import replace

    from gpu_preflight.targets.engine_files import requirements_engines
    from gpu_preflight.targets.engines import collect_engine_targets
    from gpu_preflight.targets.specs import collect_targets

    targets = collect_targets(torch=args.torch, cuda=args.cuda, requirements=args.requirements)
    engines = collect_engine_targets(engine_specs) + requirements_engines(args.requirements)
    return replace(targets, engines=engines)


def image_requests_from_args(args: argparse.Namespace) -> ImageRequests | None:
    """--image / --dockerfile / --image-config / --require-cuda, parsed and read (no network yet)."""
    if not (args.image or args.dockerfile or args.image_config or args.require_cuda):
        return None
    from gpu_preflight.images import collect_image_requests

    return collect_image_requests(
        images=args.image, dockerfiles=args.dockerfile, image_configs=args.image_config, require_cuda=args.require_cuda
    )


def emit_json(document: dict[str, Any]) -> None:
    from gpu_preflight.report.document import document_text

    sys.stdout.write(document_text(document))
