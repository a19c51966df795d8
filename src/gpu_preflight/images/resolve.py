"""From what the user named (``--image``, ``--dockerfile``, ``--image-config``) to ImageFacts.

Two steps, so that a typo costs nothing and checks never touch the machine:

* ``collect_image_requests`` parses references and reads the files (``UsageError``, one line,
  exit 2) before the host is probed;
* ``resolve_images`` gathers each image's metadata, most trustworthy source first: the
  ``--image-config`` file that names it, a local Docker engine that has it, the registry (only
  with ``--registry-lookup``), then the knowledge base for what metadata does not say (an
  official torch wheel's compiled architectures) or for everything when nothing was read.
  A source that fails is noted and skipped; what stays unknown is listed, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.host import Host
from gpu_preflight.core.versions import Version, variant_for_cuda
from gpu_preflight.images.config import ImageConfig, read_image_configs
from gpu_preflight.images.docker_engine import engine_socket, inspect_local_image
from gpu_preflight.images.dockerfile import DockerfileFacts, parse_dockerfile
from gpu_preflight.images.nvidia_require import parse_require_expression
from gpu_preflight.images.reference import ImageReference, parse_reference
from gpu_preflight.images.registry import TIMEOUT_S, RegistryError, fetch_image_config
from gpu_preflight.knowledge import ArchList, ArchListError, CudaImage, ImageInfo, KnowledgeBase
from gpu_preflight.knowledge.engines import release_version
from gpu_preflight.targets.model import EngineTarget, TorchTarget

# Repositories the knowledge base describes, and the lookup that reads their tags.
KNOWN_REPOSITORIES: dict[str, Callable[[KnowledgeBase, str], CudaImage | ImageInfo | None]] = {
    "docker.io/nvidia/cuda": KnowledgeBase.cuda_image,
    "docker.io/pytorch/pytorch": KnowledgeBase.pytorch_image,
    "docker.io/vllm/vllm-openai": KnowledgeBase.vllm_image,
    "nvcr.io/nvidia/pytorch": KnowledgeBase.ngc_pytorch_image,
}
_RELEASE = re.compile(r"\d+\.\d+(?:\.\d+)?")  # a torch release an official wheel can have
# Image variables that say what is inside: the CUDA toolkit, the torch build, its architectures.
FACT_VARIABLES = ("CUDA_VERSION", "PYTORCH_VERSION", "TORCH_CUDA_ARCH_LIST")


@dataclass(frozen=True)
class ImageFacts:
    """What is known about one image target; ``None`` fields are unknown."""

    label: str  # "nvidia/cuda:12.4.1-runtime-ubuntu22.04", "Dockerfile (FROM nvidia/cuda:...)"
    source: str  # the flag that asked: "--image nvidia/cuda:...", "--dockerfile ./Dockerfile"
    reference: ImageReference | None = None
    env: Mapping[str, str] | None = None  # the image's environment (NVIDIA_REQUIRE_*, CUDA_VERSION ...)
    env_source: str | None = None  # "--image-config x.json", "registry docker.io", "knowledge base"
    cuda: Version | None = None  # the CUDA toolkit in the image
    torch: TorchTarget | None = None  # an official torch wheel: judged with the knowledge base's archs
    custom_torch: str | None = None  # a torch that is no official wheel (NGC "2.10.0a0+b4e4ee81d3")
    archs: ArchList | None = None  # custom torch's architectures, when the image says (TORCH_CUDA_ARCH_LIST)
    platform: str | None = None  # "linux/amd64" as the image config says
    known_from: tuple[str, ...] = ()  # every source that contributed
    unknown: tuple[str, ...] = ()  # what could not be known, in words
    notes: tuple[str, ...] = ()
    lookup_errors: tuple[str, ...] = ()  # sources that failed (one line each)
    engine: EngineTarget | None = None  # the inference engine inside (vllm/vllm-openai tag, pip install vllm)

    @property
    def torch_text(self) -> str | None:
        """``torch 2.4.1+cu121``, ``torch>=2.1 (unpinned)``, ``torch (unpinned)``, NGC's custom build, or None."""
        if self.torch is None:
            return f"torch {self.custom_torch}" if self.custom_torch else None
        if self.torch.torch_version is None:
            return f"torch{self.torch.specifier} (unpinned)"
        return f"torch {self.torch.torch_version}" + (f"+{self.torch.variant}" if self.torch.variant else "")

    @property
    def known(self) -> bool:
        return self.env is not None or self.cuda is not None or self.torch is not None or self.custom_torch is not None

    def to_dict(self) -> dict[str, Any]:
        """The ``targets`` entry of the doctor JSON document."""
        env = self.env or {}
        return {
            "kind": "image",
            "image": self.label,
            "source": self.source,
            "reference": self.reference.repository if self.reference else None,
            "tag": self.reference.tag if self.reference else None,
            "digest": self.reference.digest if self.reference else None,
            "cuda": str(self.cuda) if self.cuda else None,
            "torch": (f"{self.torch.torch_version}" + (f"+{self.torch.variant}" if self.torch.variant else ""))
            if self.torch and self.torch.torch_version
            else self.custom_torch,
            **({"torch_unpinned": self.torch.specifier or "any"} if self.torch and not self.torch.pinned else {}),
            "requirements": {
                k: v
                for k, v in sorted(env.items())
                if k.startswith("NVIDIA_REQUIRE_") or k in ("NVIDIA_DISABLE_REQUIRE", "CUDA_VERSION")
            }
            if self.env is not None
            else None,
            "metadata_source": self.env_source,
            "known_from": list(self.known_from),
            "unknown": list(self.unknown),
            "lookup_errors": list(self.lookup_errors),
            **({"engine": self.engine.to_dict()} if self.engine else {}),
        }


@dataclass(frozen=True)
class ImageRequest:
    source: str  # "--image REF" / "--dockerfile PATH" / "--image-config FILE"
    reference: ImageReference | None  # for a Dockerfile: its last stage's base image
    config: ImageConfig | None = None
    dockerfile: DockerfileFacts | None = None


@dataclass(frozen=True)
class ImageRequests:
    images: tuple[ImageRequest, ...] = ()
    require_cuda: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.images or self.require_cuda)


def parse_require_cuda(text: object) -> str:
    """``--require-cuda EXPR``, checked now so that a bad expression is exit 2, not a finding."""
    if not isinstance(text, str) or not text.strip():
        raise UsageError("--require-cuda: empty expression (example: 'cuda>=12.4 brand=tesla,driver>=535,driver<536')")
    if len(text) > 4096:  # real values are at most ~2,100 characters (12 brands x 5 branches)
        raise UsageError(
            f"--require-cuda: {len(text)} characters, longer than any real NVIDIA_REQUIRE_CUDA (at most 4096 here)"
        )
    parse_require_expression(text, origin="--require-cuda")
    return text


def collect_image_requests(
    images: Iterable[str] = (),
    dockerfiles: Iterable[str] = (),
    image_configs: Iterable[str] = (),
    require_cuda: Iterable[str] = (),
) -> ImageRequests:
    """Parse the TARGET flags for images; each config file is paired with the image it names."""
    requests = [ImageRequest(f"--image {ref.familiar}", ref) for ref in (parse_reference(text) for text in images)]
    for path in dockerfiles:
        facts = parse_dockerfile(path)
        requests.append(ImageRequest(f"--dockerfile {path}", facts.base, dockerfile=facts))
    configs = [config for path in image_configs for config in read_image_configs(path)]
    requests = _pair_configs(requests, configs)
    return ImageRequests(tuple(requests), tuple(parse_require_cuda(text) for text in require_cuda))


def _names(config: ImageConfig) -> list[ImageReference]:
    found = []
    for name in config.names:
        try:
            found.append(parse_reference(name, "RepoTags"))
        except UsageError:
            continue  # "<none>:<none>" and the like name nothing
    return found


def _pair_configs(requests: list[ImageRequest], configs: list[ImageConfig]) -> list[ImageRequest]:
    """A config goes to the request whose reference it names in RepoTags/RepoDigests; a config
    naming none goes to the only request there is, or becomes a target of its own."""
    result = list(requests)
    for config in configs:
        names = _names(config)
        match = next(
            (
                k
                for k, r in enumerate(result)
                if r.reference and r.config is None and any(r.reference.same_image(n) for n in names)
            ),
            None,
        )
        if match is None and len(requests) == 1 and result[0].config is None:
            match = 0
        if match is not None:
            result[match] = ImageRequest(
                result[match].source, result[match].reference, config, result[match].dockerfile
            )
        elif not requests:
            result.append(ImageRequest(config.source, names[0] if names else None, config))
        else:
            listed = ", ".join(config.names[:3]) or "no RepoTags"
            raise UsageError(
                f"{config.source}: names none of the images asked for ({listed}); "
                "give the config of one --image or --dockerfile base"
            )
    return result


# --- resolution --------------------------------------------------------------------------------


def resolve_images(
    requests: ImageRequests,
    kb: KnowledgeBase,
    host: Host | None,
    *,
    registry_lookup: bool = False,
    socket_path: str | None = None,
    timeout: float = TIMEOUT_S,
) -> tuple[ImageFacts, ...]:
    """Facts for every image request (I/O happens here: the engine socket, the registry).
    ``host`` picks the platform of a manifest list; None (a fleet of hosts) means linux/amd64."""
    platform = host.image_platform() if host is not None else "linux/amd64"
    socket_path = engine_socket() if socket_path is None else socket_path
    facts: list[ImageFacts] = []
    for request in requests.images:
        base = None
        if request.reference is not None or request.config is not None:
            base = resolve_image(
                request.reference,
                kb,
                config=request.config,
                source=request.source,
                platform=(request.dockerfile.platform if request.dockerfile else None) or platform,
                registry_lookup=registry_lookup,
                socket_path=socket_path,
                timeout=timeout,
            )
        if request.dockerfile is not None:
            facts.append(apply_dockerfile(request.dockerfile, base, request.source))
        elif base is not None:  # an --image or --image-config request always names or describes its image
            facts.append(base)
    return tuple(facts)


def resolve_image(
    reference: ImageReference | None,
    kb: KnowledgeBase,
    *,
    config: ImageConfig | None = None,
    source: str | None = None,
    platform: str = "linux/amd64",
    registry_lookup: bool = False,
    socket_path: str | None = "",
    timeout: float = TIMEOUT_S,
) -> ImageFacts:
    """One image: metadata from the best source that answers, completed from the knowledge base."""
    label = (
        reference.familiar
        if reference
        else (config.names[0] if config and config.names else (config.source if config else "?"))
    )
    source = source or f"--image {label}"
    errors: list[str] = []
    if config is None and reference is not None:
        config = inspect_local_image(reference.familiar, socket_path, min(timeout, 1.0)) if socket_path else None
        if config is None and registry_lookup:
            try:
                config = fetch_image_config(reference, platform, timeout)
            except RegistryError as error:
                errors.append(" ".join(str(error).split()))
    known = _from_knowledge(reference, kb) if reference else None
    env = dict(config.env) if config else (known.env if known else None)
    env_source = config.source if config else (known.source if known and known.env is not None else None)
    cuda = Version.parse_or_none(_cuda_text(env)) or (known.cuda if known else None)
    torch, custom, notes = _torch_of(env, known, label)
    archs = _arch_list(env) if custom else None
    if archs is not None:
        notes = ["torch's architectures read from the image's TORCH_CUDA_ARCH_LIST (the list its builder targets)"]
    unknown = []
    if env is None:
        unknown.append("its NVIDIA_REQUIRE_* environment (the container runtime's gate)")
    if cuda is None and torch is None and custom is None:
        unknown.append("its CUDA version and framework")
    if known and known.note:
        notes.append(known.note)
    return ImageFacts(
        label=label,
        source=source,
        reference=reference,
        env=env,
        env_source=env_source,
        cuda=cuda,
        torch=torch,
        custom_torch=custom,
        archs=archs,
        platform=config.platform if config else None,
        known_from=tuple(filter(None, (config.source if config else None, known.source if known else None))),
        unknown=tuple(unknown),
        notes=tuple(notes),
        lookup_errors=tuple(errors),
        engine=image_engine(reference, kb, source) if reference else None,
    )


def image_engine(reference: ImageReference, kb: KnowledgeBase | None, source: str) -> EngineTarget | None:
    """The engine release an engine's image tag names (``vllm/vllm-openai:v0.20.0`` -> vllm
    0.20.0); unpinned for ``latest`` and other tags that name no release. None without a
    knowledge base (callers that resolve images only for their metadata pass none)."""
    engine = kb.engine_for_image(reference.repository) if kb is not None else None
    if engine is None:
        return None
    tag = reference.tag or "latest"
    version = release_version(tag.split("-", 1)[0])
    if version is None:
        note = f"tag {tag} names no release: judged as the newest release known"
        return EngineTarget(engine.key, None, None, source, f":{tag}", (note,), bundled=True)
    return EngineTarget(engine.key, tag.split("-", 1)[0].removeprefix("v"), None, source, f":{tag}", bundled=True)


def _cuda_text(env: Mapping[str, str] | None) -> str | None:
    """``CUDA_VERSION`` as a version: NGC writes 12.4.1.003, old images 9.0.176; a v prefix is Go's."""
    value = (env or {}).get("CUDA_VERSION", "").strip().removeprefix("v")
    return value or None


def _arch_list(env: Mapping[str, str] | None) -> ArchList | None:
    try:
        return ArchList.parse(env["TORCH_CUDA_ARCH_LIST"]) if env and env.get("TORCH_CUDA_ARCH_LIST") else None
    except ArchListError:
        return None


@dataclass(frozen=True)
class _Known:
    source: str
    cuda: Version | None = None
    env: dict[str, str] | None = None
    torch: str | None = None
    note: str = ""


def _from_knowledge(reference: ImageReference, kb: KnowledgeBase) -> _Known | None:
    lookup = KNOWN_REPOSITORIES.get(reference.repository)
    if lookup is None or not reference.tag:
        return None
    found = lookup(kb, reference.tag)
    if found is None:
        return None
    provenance = found.provenance
    what = f"knowledge base ({provenance.status}: {', '.join(provenance.sources)})"
    if isinstance(found, CudaImage):
        env = (
            {"NVIDIA_REQUIRE_CUDA": found.require_cuda, "CUDA_VERSION": str(found.cuda)} if found.require_cuda else None
        )
        note = provenance.note or (
            "NVIDIA_REQUIRE_CUDA as set by the newest ubuntu x86_64 image of this CUDA version; "
            "rebuilds and other distributions may differ slightly"
        )
        return _Known(what, found.cuda, env, None, note)
    return _Known(what, found.cuda, None, found.torch, provenance.note)


def _torch_of(
    env: Mapping[str, str] | None, known: _Known | None, label: str
) -> tuple[TorchTarget | None, str | None, list[str]]:
    """(official wheel, or another build's version, notes), the image's own PYTORCH_VERSION first.

    A torch is taken for an official wheel only when its version says so (``2.4.1+cu121``) or the
    knowledge base does (pytorch/pytorch tags, vLLM releases: release + CUDA); a plain version in
    an image's environment may be a conda or source build, so it is not given a wheel's archs.
    """
    own = (env or {}).get("PYTORCH_VERSION")
    version = own or (known.torch if known else None)
    if not version:
        return None, None, []
    release, _, local = version.partition("+")
    if _RELEASE.fullmatch(release) and local.startswith("cu"):
        return TorchTarget(release, local, None, f"--image {label}"), None, []
    if _RELEASE.fullmatch(release) and not local and known and known.cuda and known.torch == release:
        return TorchTarget(release, variant_for_cuda(known.cuda), None, f"--image {label}"), None, []
    note = (
        f"torch {version} is not an official wheel: its compiled architectures are unknown unless the image names them"
    )
    return None, version, [note]


def apply_dockerfile(dockerfile: DockerfileFacts, base: ImageFacts | None, source: str) -> ImageFacts:
    """The image a Dockerfile builds: its base's facts with the Dockerfile's ENV and torch on top."""
    base_label = (
        base.label if base else ("scratch" if dockerfile.base_text.lower() == "scratch" else dockerfile.base_text)
    )
    label = f"{dockerfile.path} (FROM {base_label})"
    declared = dict(dockerfile.env)
    notes = list(dockerfile.notes) + (list(base.notes) if base else [])
    unknown = list(dockerfile.unknown) + (list(base.unknown) if base else [])
    env = dict(base.env) if base and base.env is not None else None
    env_source = base.env_source if base else None
    overrides = [k for k in declared if k.startswith("NVIDIA_") or k in FACT_VARIABLES]
    if overrides:
        sources = ", ".join(f"{k} at {dockerfile.env_sources[k]}" for k in overrides)
        if env is None:
            notes.append("the base image's own environment is unknown: only the Dockerfile's ENV is judged")
            unknown = [u for u in unknown if not u.startswith("its NVIDIA_REQUIRE_*")]
        env = {**(env or {}), **declared}
        env_source = f"{sources}" + (f" over {env_source}" if env_source else "")
    elif env is not None:
        env = {**env, **declared}
    cuda = Version.parse_or_none(_cuda_text(declared)) or (base.cuda if base else None)
    torch, custom, archs = (base.torch, base.custom_torch, base.archs) if base else (None, None, None)
    if dockerfile.torch is not None:
        torch, custom, archs = dockerfile.torch, None, None
    if "PYTORCH_VERSION" in declared and dockerfile.torch is None:
        torch, custom, more = _torch_of(declared, None, label)
        notes += more
    if (cuda, torch, custom) == (None, None, None) and env is None and not unknown:
        unknown.append("its CUDA version and framework")
    return ImageFacts(
        label=label,
        source=source,
        reference=base.reference if base else None,
        env=env,
        env_source=env_source,
        cuda=cuda,
        torch=torch,
        custom_torch=custom,
        archs=archs,
        platform=dockerfile.platform or (base.platform if base else None),  # FROM --platform decides
        known_from=(dockerfile.path,) + (base.known_from if base else ()),
        unknown=tuple(dict.fromkeys(unknown)),
        notes=tuple(dict.fromkeys(notes)),
        lookup_errors=base.lookup_errors if base else (),
        engine=dockerfile.engine or (base.engine if base else None),
    )
