"""Image metadata as Docker and OCI write it: the output of ``docker image inspect`` (a list of
objects with ``Config.Env``, ``RepoTags``, ``Architecture``), one such object (what the engine API
returns), or an OCI / Docker image config (``config.Env``, ``architecture``: the blob a registry
serves). Only what a verdict needs is kept: the environment, labels, platform and names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.limits import MAX_IMAGE_CONFIG_BYTES
from gpu_preflight.core.readers import load_json, read_input


@dataclass(frozen=True)
class ImageConfig:
    env: Mapping[str, str]
    source: str  # "--image-config inspect.json", "docker engine", "registry localhost:5000"
    labels: Mapping[str, str] = field(default_factory=dict)
    platform: str | None = None  # "linux/amd64"
    names: tuple[str, ...] = ()  # RepoTags + RepoDigests, as written


def parse_env_list(items: object, origin: str) -> dict[str, str]:
    """``["KEY=VALUE", ...]`` -> dict; later entries win, as the runtime reads them."""
    if items is None:
        return {}
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise UsageError(f"{origin}: Env must be a list of KEY=VALUE strings")
    return dict(item.split("=", 1) for item in items if "=" in item)


def config_from_document(document: object, source: str) -> ImageConfig:
    """One image's metadata from an inspect object or an OCI image config."""
    if not isinstance(document, dict):
        raise UsageError(f"{source}: not an image config or 'docker image inspect' output (expected a JSON object)")
    inner = document.get("Config") if "Config" in document else document.get("config")
    if not isinstance(inner, dict) and not (
        "RepoTags" in document or "architecture" in document or "Architecture" in document
    ):
        raise UsageError(f"{source}: not an image config or 'docker image inspect' output (no Config/config object)")
    inner = inner if isinstance(inner, dict) else {}
    labels = {} if inner.get("Labels") is None else inner["Labels"]
    if not isinstance(labels, dict):
        raise UsageError(f"{source}: Labels must be an object")
    os_name = document.get("Os", document.get("os"))
    arch = document.get("Architecture", document.get("architecture"))
    variant = document.get("Variant", document.get("variant"))
    platform = "/".join(str(p) for p in (os_name, arch, variant) if isinstance(p, str) and p) or None
    names = tuple(n for key in ("RepoTags", "RepoDigests") for n in (document.get(key) or []) if isinstance(n, str))
    return ImageConfig(
        env=parse_env_list(inner.get("Env"), source),
        source=source,
        labels={str(k): str(v) for k, v in labels.items()},
        platform=platform,
        names=names,
    )


def configs_from_json(data: Any, source: str) -> list[ImageConfig]:
    """Every image in a document: ``docker image inspect A B`` writes a list."""
    items = data if isinstance(data, list) else [data]
    if not items:
        raise UsageError(f"{source}: an empty list: 'docker image inspect' found no image")
    return [config_from_document(item, source) for item in items]


def read_image_configs(path: str) -> list[ImageConfig]:
    """``--image-config FILE``: the images it describes, or ``UsageError`` (one line)."""
    origin = f"--image-config {path}"
    return configs_from_json(load_json(read_input(path, "--image-config", MAX_IMAGE_CONFIG_BYTES), origin), origin)
