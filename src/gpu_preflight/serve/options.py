"""What ``preflight serve`` was asked to do, as one typed value (cli/commands/serve.py builds it
from the flags). Which machine to judge is a separate ``HostSpec``; nothing here is checked yet:
launch.py words the errors, in the order the flags are used."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServeOptions:
    model: str  # a directory, a built-in model or a Hugging Face id
    host: str = "127.0.0.1"  # the address to listen on
    port: int = 8000
    engine: str = "auto"  # auto | transformers | vllm | sglang | llama.cpp
    device: str = "auto"  # auto | cuda | cpu
    dtype: str | None = None  # as typed; None or "auto": derive
    max_context: int | None = None  # None: the largest that fits
    memory_share: float | None = None  # None: derived from the GPU's free memory
    api_key: str | None = None
    system_prompt: str | None = None  # None: the profile's; "": no system prompt
    preflight: bool = True  # False: --no-preflight, the checks are skipped
    served_model_name: str | None = None
    profile: str = "auto"  # auto | none | a profile id
    max_queue: int | None = None  # None: rules.toml's queue.max_waiting
    trust_remote_code: bool = False
    monitor_port: int | None = None  # also export GPU metrics for Prometheus here
    hub_timeout: float = 10.0  # seconds for the Hugging Face Hub
    allowed_hosts: tuple[str, ...] = ()  # Host header names accepted beyond the loopback ones and --host
    cors_origins: tuple[str, ...] = ()  # empty: no CORS (browsers keep other sites out)
    max_body_mib: float = 4.0  # request bodies beyond this get 413
    dry_run: bool = False  # judge and derive, print, start nothing
    json: bool = False  # with dry_run: the serve/v1 document
    threads: int | None = None  # None: derived from the usable cores
    max_batch: int | None = None  # None: derived from the memory plan
    compile: bool = False  # the built-in engine's decode step through torch.compile
    kv_cache_type: str | None = None  # llama.cpp's --cache-type-k/-v (f16, q8_0, q4_0); None: its default
