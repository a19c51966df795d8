"""``--engine sglang``: SGLang's own OpenAI-compatible server, started with the derived settings.

The command is data (argv), printed exactly, then the process becomes SGLang (exec), as with
vLLM (serve/vllm.py). Flags, as documented in SGLang's docs/advanced_features/server_arguments.md
(tests/serve/data/engine_flags.toml): the model directory or Hub id, the derived context and
dtype, ``--mem-fraction-static`` and, with several identical GPUs, ``--tp-size``.

``--mem-fraction-static`` is not vLLM's share: it is the fraction of each GPU's memory SGLang
reserves for the weights plus its KV cache pool, the rest staying free for activations and CUDA
graphs. Without ``--memory-share`` it is SGLang's own rule for the GPU's size (fit/sglang.py),
lowered to the share the gate derived when other processes hold memory.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from gpu_preflight.core.host import Gpu
from gpu_preflight.fit.sglang import fraction_within, mem_fraction_static
from gpu_preflight.serve.server_launch import ServerLaunch
from gpu_preflight.serve.settings import Hardware

MODULE = "sglang.launch_server"
PACKAGE = "sglang"
INSTALL_HINT = "pip install sglang (in this Python; https://docs.sglang.io), or use --engine vllm or transformers"


@dataclass(frozen=True)
class Launch(ServerLaunch):
    tensor_parallel: int = 1  # --tp-size


def tensor_parallel(gpus: list[Gpu], attention_heads: int) -> tuple[int, str]:
    """GPUs to split the model over: the visible GPUs of the first one's model (the gate judged
    that one), as many as divide the attention heads evenly."""
    if not gpus:
        return 1, "no GPU visible"
    same = [gpu for gpu in gpus if gpu.name == gpus[0].name and gpu.memory_total_mib == gpus[0].memory_total_mib]
    size = next(n for n in range(len(same), 0, -1) if attention_heads % n == 0)
    if size == 1:
        return 1, "one GPU" if len(same) == 1 else f"{attention_heads} attention heads do not split over {len(same)}"
    why = f"{size} visible {gpus[0].name} GPUs share the model (tensor parallel)"
    if size < len(same):
        why += f"; {attention_heads} attention heads do not split over {len(same)}"
    return size, why


def memory_fraction(hardware: Hardware, requested: float | None, tensor_parallel: int = 1) -> tuple[float, str]:
    """--mem-fraction-static: the user's --memory-share, else SGLang's rule for this GPU capped
    by the share the gate derived (lower when other processes hold memory)."""
    if requested is not None:
        return requested, "--memory-share, passed as SGLang's static fraction (weights + KV cache pool)"
    gpu = hardware.gpu
    total = gpu.memory_total_mib if gpu is not None else None
    rule = mem_fraction_static(total, tensor_parallel)
    fraction = fraction_within(total, hardware.memory_share, tensor_parallel)
    if fraction < rule:
        return fraction, f"SGLang's rule gives {rule:g}, lowered to the share free on this GPU ({fraction:g})"
    size = f"a {total} MiB GPU" if total else "a GPU of unknown size"
    return rule, f"SGLang's own rule for {size}: weights + KV cache pool, the rest for activations and CUDA graphs"


def build_command(launch: Launch, hardware: Hardware, fraction: float, python: str = sys.executable) -> list[str]:
    argv = [
        python,
        "-m",
        MODULE,
        "--model-path",
        launch.model,
        *launch.endpoint_flags(),
        "--dtype",
        hardware.dtype,
        "--context-length",
        str(hardware.max_context),
        "--mem-fraction-static",
        f"{fraction:g}",
    ]
    if launch.tensor_parallel > 1:
        argv += ["--tp-size", str(launch.tensor_parallel)]
    return argv + launch.access_flags()
