"""``--engine vllm``: vLLM's own OpenAI-compatible server, started with the derived settings.

The command is built here as data (argv), printed exactly, then the process becomes vLLM
(exec): vLLM handles its signals, its /health, /metrics and /v1 routes itself.
"""

from __future__ import annotations

import os
import shlex
import sys

from gpu_preflight.serve.server_launch import ServerLaunch
from gpu_preflight.serve.settings import Hardware

MODULE = "vllm.entrypoints.openai.api_server"
INSTALL_HINT = "pip install vllm (in this Python), or use the built-in engine: --engine transformers"


Launch = ServerLaunch  # vLLM needs nothing beyond what every engine server takes


def build_command(launch: Launch, hardware: Hardware, python: str = sys.executable) -> list[str]:
    argv = [
        python,
        "-m",
        MODULE,
        "--model",
        launch.model,
        *launch.endpoint_flags(),
        "--dtype",
        hardware.dtype,
        "--max-model-len",
        str(hardware.max_context),
        "--gpu-memory-utilization",
        f"{hardware.memory_share:g}",
    ]
    return argv + launch.access_flags()


def masked(argv: list[str]) -> list[str]:
    """The command with the API key hidden: logs and reports outlive secrets."""
    return ["***" if i > 0 and argv[i - 1] == "--api-key" else word for i, word in enumerate(argv)]


def printable(argv: list[str]) -> str:
    """The command as one shell line, the API key masked."""
    return shlex.join(masked(argv))


def become_vllm(argv: list[str]) -> None:
    """Replace this process with vLLM's server; returns only if exec fails (raises OSError)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)
