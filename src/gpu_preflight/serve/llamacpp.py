"""``--engine llama.cpp``: llama.cpp's own OpenAI-compatible server (``llama-server``), started
with the derived settings.

llama.cpp loads one GGUF file, so MODEL must be one (or a directory holding exactly one);
anything else is a usage error that says how to get one. The command is data (argv), printed
exactly, then the process becomes llama-server (exec), as with vLLM (serve/vllm.py).

Flags, as documented in llama.cpp's tools/server/README.md (tests/serve/data/engine_flags.toml):
``-m`` the file, ``-c`` the derived context, ``-ngl`` every layer (the gate planned all of them
on the GPU), ``--parallel 1`` (llama-server divides ``-c`` between its slots; the plan is for
one sequence of the whole context), ``--cache-type-k/-v`` only when a quantised KV cache is
asked (the same type for both: CUDA's flash-attention kernels take q8_0 and q4_0 symmetric,
ggml-org/llama.cpp issue 28524).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from gpu_preflight.core.errors import UsageError
from gpu_preflight.fit import data
from gpu_preflight.fit.gguf import MAGIC
from gpu_preflight.serve.settings import Hardware

BINARY = "llama-server"
INSTALL_HINT = (
    "install llama.cpp's llama-server and put it on PATH (a release build for your CUDA from "
    "https://github.com/ggml-org/llama.cpp/releases, or from source: cmake -B build && "
    "cmake --build build --config Release -t llama-server)"
)
GET_A_GGUF = (
    "llama.cpp loads a .gguf file: download a GGUF build of the model, or convert this checkpoint "
    "with llama.cpp's convert_hf_to_gguf.py, then give the .gguf file as MODEL"
)
DEFAULT_KV_TYPE = "f16"  # llama-server's --cache-type-k/-v default (tools/server/README.md)


@dataclass(frozen=True)
class Launch:
    gguf: str  # the .gguf file llama-server loads
    served_name: str  # --alias: the model id in /v1/models
    host: str
    port: int
    layers: int  # the model's repeating layers: -ngl layers + 1 puts every one on the GPU
    api_key: str | None = None
    kv_cache_type: str | None = None  # None: llama.cpp's default (f16)


def model_file(text: str) -> str:
    """MODEL as typed -> the GGUF file llama.cpp loads, or one UsageError saying how to get one."""
    path = Path(text).expanduser()
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.suffix.lower() == ".gguf" and p.is_file())
        if not found:
            raise UsageError(f"{text}: no .gguf file in this directory; {GET_A_GGUF}")
        if len(found) > 1:
            names = ", ".join(p.name for p in found[:4]) + (", ..." if len(found) > 4 else "")
            raise UsageError(f"{text}: {len(found)} .gguf files here ({names}): give one of them as MODEL")
        path = found[0]
    elif not path.exists():
        raise UsageError(f"{text}: not a file or directory here; {GET_A_GGUF}")
    elif not path.is_file():  # a FIFO or a device: reading it could block
        raise UsageError(f"{text}: not a regular file; {GET_A_GGUF}")
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(MAGIC))
    except OSError as exc:
        raise UsageError(f"{text}: cannot read it ({exc.strerror or exc})") from None
    if head != MAGIC:
        raise UsageError(f"{path}: not a GGUF file (it does not start with 'GGUF'); {GET_A_GGUF}")
    return str(path)


def kv_cache_type(text: str | None) -> str | None:
    """--kv-cache-type as typed -> a type fit can size (fit/gguf.toml [kv_cache]), or a UsageError."""
    if text is None:
        return None
    types: list[str] = data.gguf()["kv_cache"]["types"]
    name = text.strip().lower()
    if name not in types:
        raise UsageError(f"--kv-cache-type {text!r}: choose from {', '.join(types)}")
    return name


def binary() -> str | None:
    """The llama-server on PATH, or None."""
    return shutil.which(BINARY)


def build_command(launch: Launch, hardware: Hardware, program: str | None = None) -> list[str]:
    argv = [
        program or binary() or BINARY,
        "--model",
        launch.gguf,
        "--alias",
        launch.served_name,
        "--host",
        launch.host,
        "--port",
        str(launch.port),
        "--ctx-size",
        str(hardware.max_context),
        "--n-gpu-layers",
        str(launch.layers + 1),  # the repeating layers and the output layer: all of the model
        "--parallel",
        "1",
    ]
    if launch.kv_cache_type and launch.kv_cache_type != DEFAULT_KV_TYPE:
        argv += ["--cache-type-k", launch.kv_cache_type, "--cache-type-v", launch.kv_cache_type]
    if launch.api_key:
        argv += ["--api-key", launch.api_key]
    return argv
