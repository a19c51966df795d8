"""Where a model's config.json comes from: a local directory, a built-in profile, the Hugging
Face cache on this machine, or the Hub over the network (short timeout, one clear line when
the network is not there). A local ``.gguf`` file is read for its header instead (fit/gguf.py)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.limits import MAX_MODEL_CONFIG_BYTES
from gpu_preflight.core.readers import load_json, read_input
from gpu_preflight.fit import data
from gpu_preflight.fit.gguf import MAGIC, GgufFile, read_gguf
from gpu_preflight.fit.gguf_layout import shape_from_gguf
from gpu_preflight.fit.model_shape import (
    ModelShape,
    ParameterCount,
    count_parameters,
    shape_from_config,
)
from gpu_preflight.fit.safetensors import StoredWeights, read_weights

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")
DEFAULT_ENDPOINT = "https://huggingface.co"
FETCH_TIMEOUT_S = 10.0


@dataclass
class Model:
    id: str
    source: str  # directory | profile | hub-cache | hub | gguf
    location: str  # the directory, the profile's source, or the URL config.json came from
    shape: ModelShape
    computed: ParameterCount
    stored: StoredWeights | None = None
    profile: dict[str, Any] | None = None
    gguf: GgufFile | None = None  # a .gguf MODEL: its header (the tensors llama.cpp loads)

    @property
    def params(self) -> int:
        """Exact from safetensors headers when they hold plain (unpacked) weights, else computed."""
        if self.stored is not None and self.shape.quantization is None:
            return self.stored.elements - self.stored.tied_duplicate
        return self.computed.total

    @property
    def params_source(self) -> str:
        if self.gguf is not None:
            return "gguf"
        return "safetensors" if self.stored is not None and self.shape.quantization is None else "architecture"


def resolve_model(text: str, timeout: float = FETCH_TIMEOUT_S) -> Model:
    """MODEL as the user typed it -> a Model, or a UsageError saying what was tried."""
    if not text.strip():
        raise UsageError("MODEL is empty: give a directory with config.json, a built-in model or a Hugging Face id")
    path = Path(text).expanduser()
    if path.exists() and _is_gguf(path):
        return _from_gguf(path)
    if path.exists():
        return _from_directory(path.parent if path.is_file() else path, text, "directory")
    profile = find_profile(text)
    if profile is not None:
        shape = shape_from_config(profile["config"], f"built-in profile {profile['id']}")
        return Model(profile["id"], "profile", profile["source"], shape, count_parameters(shape), profile=profile)
    if not HUB_ID.match(text):
        raise UsageError(
            f"unknown model {text!r}: not a directory, "
            f"not a built-in model ({', '.join(p['id'] for p in data.profiles())}), "
            "not a Hugging Face id (owner/name)"
        )
    cached = _hub_cache_snapshot(text)
    if cached is not None:
        return _from_directory(cached, text, "hub-cache", model_id=text)
    url, config = _fetch_config(text, timeout)
    shape = shape_from_config(config, url)
    return Model(text, "hub", url, shape, count_parameters(shape))


def _is_gguf(path: Path) -> bool:
    if path.suffix.lower() == ".gguf":
        return True
    if not path.is_file():  # a directory, or a FIFO that would block the read
        return False
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == MAGIC
    except OSError:
        return False


def _from_gguf(path: Path) -> Model:
    header = read_gguf(path)
    shape, count = shape_from_gguf(header)
    name = header.metadata.get("general.name")
    model_id = name if isinstance(name, str) and name.strip() else path.name
    return Model(model_id[:200], "gguf", str(path), shape, count, gguf=header)


def find_profile(text: str) -> dict[str, Any] | None:
    wanted = text.strip().lower()
    for profile in data.profiles():
        if wanted == profile["id"].lower() or wanted in (alias.lower() for alias in profile.get("aliases", [])):
            return profile
    return None


def _from_directory(directory: Path, text: str, source: str, model_id: str | None = None) -> Model:
    config_path = directory / "config.json"
    if not config_path.is_file():
        raise UsageError(f"{text}: no config.json in {directory}")
    origin = str(config_path)
    config = load_json(read_input(str(config_path), "config.json", limit=MAX_MODEL_CONFIG_BYTES), origin)
    shape = shape_from_config(config, origin)
    stored = read_weights(directory, shape.tied_embeddings)
    return Model(model_id or directory.name or text, source, str(directory), shape, count_parameters(shape), stored)


def _hub_cache_snapshot(model_id: str) -> Path | None:
    """The snapshot huggingface_hub downloaded (refs/main first), without importing it."""
    cache = os.environ.get("HF_HUB_CACHE") or os.path.join(
        os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface"), "hub"
    )
    repo = Path(cache) / f"models--{model_id.replace('/', '--')}"
    try:
        revision = (repo / "refs" / "main").read_text().strip()
    except OSError:
        revision = ""
    candidates = [repo / "snapshots" / revision] if revision else []
    if (repo / "snapshots").is_dir():
        candidates += sorted((repo / "snapshots").iterdir())
    return next((c for c in candidates if (c / "config.json").is_file()), None)


def _fetch_config(model_id: str, timeout: float) -> tuple[str, Any]:
    """config.json from the Hub through huggingface_hub (imported only here, so ``doctor`` never
    pays for it): the token is the user's (HF_TOKEN, else the one ``hf auth login`` saved), and
    its HTTP client drops it on a redirect to another origin (the CDN, or anywhere a redirect
    names)."""
    endpoint = (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
    url = f"{endpoint}/{model_id}/resolve/main/config.json"
    offline = "use a local directory with config.json, or a built-in model"
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        raise UsageError(f"{model_id}: not in the Hugging Face cache and HF_HUB_OFFLINE is set ({offline})")
    try:
        from huggingface_hub import get_session, get_token
    except ImportError:
        raise UsageError(
            f"{model_id}: reading a model from the Hugging Face Hub needs huggingface_hub (pip install "
            f"huggingface_hub, or pip install 'gpu-preflight[serve]'); or {offline}"
        ) from None
    session: Any = get_session()
    if not hasattr(session, "stream"):  # huggingface_hub < 1.0: a requests session
        raise UsageError(f"{model_id}: reading a model from the Hub needs huggingface_hub>=1.0; or {offline}")
    try:
        token = get_token()  # HF_TOKEN, else the token `hf auth login` saved
        headers = {"User-Agent": "gpu-preflight"} | ({"Authorization": f"Bearer {token}"} if token else {})
        with session.stream("GET", url, headers=headers, timeout=timeout, follow_redirects=True) as response:
            status = response.status_code
            body = b""
            if status == 200:
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_MODEL_CONFIG_BYTES:
                        break
    except Exception as exc:  # noqa: BLE001 - the client's transport errors (timeout, DNS, refused, TLS): one line
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise UsageError(
            f"{model_id}: cannot fetch {url} within {timeout:g}s: {reason} (no network? {offline})"
        ) from None
    if status != 200:
        why = {
            401: "gated or private: set HF_TOKEN or run 'hf auth login'",
            403: "gated or private: set HF_TOKEN or run 'hf auth login'",
            404: "no such model on the Hub",
        }
        raise UsageError(f"{model_id}: cannot fetch {url}: HTTP {status} ({why.get(status, 'unexpected answer')})")
    if len(body) > MAX_MODEL_CONFIG_BYTES:
        raise UsageError(f"{url}: larger than {MAX_MODEL_CONFIG_BYTES // (1024 * 1024)} MiB: not a config.json")
    return url, load_json(body, url)
