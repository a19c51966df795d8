"""What an engine's own OpenAI server (vLLM, SGLang) is started with, beside the derived settings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServerLaunch:
    model: str  # what the engine loads: a directory or a Hub id
    served_name: str
    host: str
    port: int
    api_key: str | None = None
    trust_remote_code: bool = False
