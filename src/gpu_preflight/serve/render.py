"""What ``serve`` shows: the settings it derived (log lines, and the JSON "serve" section of
/preflight and ``--dry-run --json``). Rendering only; nothing is decided here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gpu_preflight.report.document import document_text
from gpu_preflight.serve.data import Profile, profiles
from gpu_preflight.serve.gate import Decision
from gpu_preflight.serve.vllm import masked

SCHEMA = "gpu-preflight/serve/v1"


@dataclass(frozen=True)
class Plan:
    """The decision plus what the server will be: its name, address and request defaults."""

    decision: Decision
    model_id: str
    served_name: str
    url: str
    profile: Profile
    system_prompt: str | None
    command: list[str] | None = None  # vLLM's, as it will run (key masked when shown)

    def to_dict(self) -> dict[str, Any]:
        d, hardware = self.decision, self.decision.hardware
        return {
            "schema": SCHEMA,
            "model": self.model_id,
            "served_model_name": self.served_name,
            "url": self.url,
            "engine": d.engine,
            "refused": d.refused,
            "settings": hardware.to_dict() if hardware else None,
            "profile": self.profile.to_dict(),
            "system_prompt": self.system_prompt,
            "warnings": d.warnings,
            "command": masked(self.command) if self.command else None,
        }


def dry_run_json(plan: Plan) -> str:
    """``serve --dry-run --json``: the serve/v1 document with the doctor report as "preflight",
    written as every command writes its document (indented, unknown values as text)."""
    document = {**plan.to_dict(), "preflight": plan.decision.report.to_dict()}
    return document_text(document)


def settings_lines(plan: Plan) -> list[str]:
    d, hw = plan.decision, plan.decision.hardware
    lines = [f"model {plan.model_id} as {plan.served_name!r}, engine {d.engine}"]
    if hw is not None:
        where = f"GPU {hw.gpu.index} ({hw.gpu.name})" if hw.gpu else "CPU"
        lines += [
            f"device {where}",
            f"dtype {hw.dtype}: {hw.why.get('dtype', '')}",
            f"max context {hw.max_context} tokens: {hw.why.get('max_context', '')}",
        ]
        if hw.memory_share is not None:
            lines.append(f"memory share {hw.memory_share:g}: {hw.why.get('memory_share', '')}")
    sampling = ", ".join(f"{k} {v:g}" for k, v in plan.profile.sampling.items())
    most = (
        f"up to {plan.profile.max_new_tokens} new tokens (capped by the context)"
        if plan.profile.max_new_tokens
        else "new tokens up to the rest of the context"
    )
    origin = f"profile {plan.profile.id}" if plan.profile.id in {p.id for p in profiles()} else plan.profile.source
    lines.append(f"request defaults: {sampling}; {most} ({origin})")
    lines.append(f"system prompt: {plan.system_prompt!r}" if plan.system_prompt else "system prompt: none")
    return lines
