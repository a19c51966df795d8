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

    def endpoint_flags(self) -> list[str]:
        """--served-model-name, --host and --port: spelled alike by vLLM and SGLang."""
        return ["--served-model-name", self.served_name, "--host", self.host, "--port", str(self.port)]

    def access_flags(self) -> list[str]:
        """--api-key and --trust-remote-code: spelled alike by vLLM and SGLang."""
        return (["--api-key", self.api_key] if self.api_key else []) + (
            ["--trust-remote-code"] if self.trust_remote_code else []
        )
