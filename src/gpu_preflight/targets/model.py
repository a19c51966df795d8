"""The targets as frozen value objects: a PyTorch build (``TorchTarget``), a CUDA runtime
(``CudaTarget``) and everything asked for (``Targets``). No parsing here, and no import of
``packaging``: checks and renderers may read targets without paying for the parsers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from gpu_preflight.core.versions import Version, variant_cuda


@dataclass(frozen=True)
class TorchTarget:
    """A PyTorch build to judge.

    ``torch_version`` is the public version without local part (``"2.1.0"``, ``"2.4"`` for a
    series, ``"2.6.0.dev20241112"``); None only when ``pinned`` is False (a range in a file).
    ``variant`` None means that release's default PyPI wheel, whose CUDA the knowledge base knows.
    """

    torch_version: str | None
    variant: str | None
    index_url: str | None
    source: str
    pinned: bool = True
    specifier: str = ""  # as written after the name: "==2.1.0+cu118", ">=2.1", "^2.1" (Poetry), ""
    marker: str | None = None  # environment marker, kept but not evaluated
    notes: tuple[str, ...] = ()

    @property
    def cuda(self) -> Version | None:
        """The CUDA runtime the variant names (``cu118`` -> 11.8); None for cpu/rocm/xpu and for
        the default wheel (``variant`` None), whose CUDA depends on the release."""
        return variant_cuda(self.variant) if self.variant else None

    def describe(self) -> str:
        """``torch 2.1.0+cu118 (CUDA 11.8 runtime) from requirements.txt:3``."""
        if self.torch_version is None:
            name = f"torch{self.specifier}" if self.specifier else "torch"
            details = ["not pinned to one release"] + ([f"{self.variant} wheel"] if self.variant else [])
        else:
            name = f"torch {self.torch_version}" + (f"+{self.variant}" if self.variant else "")
            details = [] if self.variant else ["default PyPI wheel"]
        if self.cuda is not None:
            details.append(f"CUDA {self.cuda} runtime")
        text = f"{name} ({', '.join(details)})" if details else name
        return f"{text} from {self.source}" + (f" where {self.marker}" if self.marker else "")

    def to_dict(self) -> dict[str, Any]:
        cuda = self.cuda
        return {
            "kind": "torch",
            "torch_version": self.torch_version,
            "variant": self.variant,
            "cuda": str(cuda) if cuda else None,
            "index_url": self.index_url,
            "source": self.source,
            "pinned": self.pinned,
            "specifier": self.specifier,
            "marker": self.marker,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class CudaTarget:
    """A CUDA runtime to judge (``--cuda 12.4``)."""

    cuda: Version
    source: str

    def describe(self) -> str:
        return f"CUDA runtime {self.cuda} from {self.source}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "cuda", "cuda": str(self.cuda), "source": self.source}


@dataclass(frozen=True)
class EngineTarget:
    """An inference engine release to judge (``--engine-pkg vllm==0.11.0``, a ``vllm`` pin in a
    requirements file, ``pip install vllm`` in a Dockerfile, a ``vllm/vllm-openai:v0.20.0`` image).

    ``version`` None means unpinned: whatever release (and default build) the install gets.
    ``variant`` names a build (``cu129``); None means the release's default build.
    """

    engine: str  # "vllm", "sglang", "ollama", "llama.cpp"
    version: str | None
    variant: str | None
    source: str
    specifier: str = ""  # as written after the name: "==0.11.0", ">=0.10", ""
    notes: tuple[str, ...] = ()
    bundled: bool = False  # an engine image: the image's own CUDA is the engine's (judged with the image)

    @property
    def pinned(self) -> bool:
        return self.version is not None

    def describe(self) -> str:
        """``vllm 0.11.0 (default build) from requirements.txt:3``."""
        name = f"{self.engine} {self.version}" if self.version else f"{self.engine}{self.specifier} (not pinned)"
        build = f"{self.variant} build" if self.variant else "default build"
        return f"{name} ({build}) from {self.source}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "engine",
            "engine": self.engine,
            "version": self.version,
            "variant": self.variant,
            "source": self.source,
            "pinned": self.pinned,
            "specifier": self.specifier,
            "notes": list(self.notes),
        }


Target = TorchTarget | CudaTarget


@dataclass(frozen=True)
class Targets:
    """Everything the user asked to run, in the order given."""

    items: tuple[Target, ...] = ()
    engines: tuple[EngineTarget, ...] = ()  # inference engines, judged by checks/engines.py

    @property
    def torch(self) -> tuple[TorchTarget, ...]:
        return tuple(t for t in self.items if isinstance(t, TorchTarget))

    @property
    def cuda(self) -> tuple[CudaTarget, ...]:
        return tuple(t for t in self.items if isinstance(t, CudaTarget))

    def __iter__(self) -> Iterator[Target]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def describe(self) -> list[str]:
        return [t.describe() for t in self.items] + [e.describe() for e in self.engines]

    def to_list(self) -> list[dict[str, Any]]:
        """The ``targets`` array of the doctor JSON document."""
        return [t.to_dict() for t in self.items] + [e.to_dict() for e in self.engines]
