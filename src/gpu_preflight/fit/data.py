"""The data files of ``preflight fit``: rules.toml (dtypes, families, engines, overheads),
models.toml (built-in profiles) and gguf.toml (ggml types, quantisation mixes, KV cache types).
Read once per process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.readers import load_toml

HERE = Path(__file__).resolve().parent


def load(name: str) -> dict[str, Any]:
    return load_toml(HERE / name)


def rules() -> dict[str, Any]:
    return load("rules.toml")


def gguf() -> dict[str, Any]:
    return load("gguf.toml")


def engine_rules(engine: str) -> dict[str, Any]:
    """rules.toml's [engine.NAME], following ``same_as`` (Ollama plans with llama.cpp's rules)."""
    engines: dict[str, Any] = rules()["engine"]
    row: dict[str, Any] = engines[engine]
    return engines[row["same_as"]] if "same_as" in row else row


def profiles() -> list[dict[str, Any]]:
    models: list[dict[str, Any]] = load("models.toml")["model"]
    return models


def dtype_names() -> list[str]:
    return list(rules()["dtype"])


def canonical_dtype(text: str, flag: str = "--dtype") -> str:
    """``bf16`` -> ``bfloat16``; anything unknown is a UsageError naming the choices."""
    wanted = text.strip().lower().removeprefix("torch.")
    for name, row in rules()["dtype"].items():
        if wanted == name or wanted in row["aliases"]:
            return str(name)
    raise UsageError(f"{flag} {text!r}: unknown dtype (choose from {', '.join(dtype_names())})")


def dtype_bits(name: str) -> float:
    return float(rules()["dtype"][name]["bits"])


def dtype_row(name: str) -> dict[str, Any]:
    row: dict[str, Any] = rules()["dtype"][name]
    return row
