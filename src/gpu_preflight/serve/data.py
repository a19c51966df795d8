"""The data files of ``preflight serve``: profiles.toml (per-model request defaults) and
rules.toml (settings-derivation constants). Read once per process."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gpu_preflight.core.readers import load_toml

HERE = Path(__file__).resolve().parent
OPENAI_SAMPLING = {"temperature": 1.0, "top_p": 1.0, "top_k": 0}


def load(name: str) -> dict[str, Any]:
    return load_toml(HERE / name)


def rules() -> dict[str, Any]:
    return load("rules.toml")


@dataclass(frozen=True)
class Profile:
    id: str
    source: str
    sampling: dict[str, float] = field(default_factory=lambda: dict(OPENAI_SAMPLING))
    system_prompt: str | None = None
    max_new_tokens: int | None = None  # None: up to the rest of the context
    aliases: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "sampling": self.sampling,
            "system_prompt": self.system_prompt,
            "max_new_tokens": self.max_new_tokens,
        }


def profiles() -> list[Profile]:
    return [
        Profile(
            id=row["id"],
            source=row["source"],
            sampling={**OPENAI_SAMPLING, **row.get("sampling", {})},
            system_prompt=row.get("system_prompt"),
            max_new_tokens=row.get("max_new_tokens"),
            aliases=tuple(row.get("aliases", ())),
        )
        for row in load("profiles.toml")["profile"]
    ]


def find_profile(*names: str) -> Profile | None:
    """The first profile whose id or alias equals one of ``names`` (a Hub id, a directory's
    name), case-insensitively."""
    for name in names:
        wanted = name.strip().lower()
        for profile in profiles():
            if wanted == profile.id.lower() or wanted in (alias.lower() for alias in profile.aliases):
                return profile
    return None


def model_default_profile(model_id: str, directory: Path | None) -> Profile:
    """For a model without a profile: the sampling values of its generation_config.json (as
    vLLM's --generation-config auto does), else OpenAI's defaults."""
    sampling, source = dict(OPENAI_SAMPLING), "OpenAI API defaults (temperature 1, top_p 1, no top-k)"
    path = directory / "generation_config.json" if directory else None
    try:
        config = json.loads(path.read_text(encoding="utf-8")) if path and path.is_file() else {}
    except (OSError, ValueError):
        config = {}
    own = {
        key: config[key]
        for key in OPENAI_SAMPLING
        if isinstance(config.get(key), (int, float)) and not isinstance(config.get(key), bool)
    }
    if own and config.get("do_sample", True):
        sampling.update(own)
        source = f"{path} ({', '.join(f'{k} {v:g}' for k, v in own.items())}), OpenAI's defaults for the rest"
    return Profile(id=model_id, source=source, sampling=sampling)
