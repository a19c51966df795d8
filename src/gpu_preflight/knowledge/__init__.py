"""The knowledge base: every fact a verdict rests on, as data files with sources, and typed
lookups over them.

Facts live in ``knowledge/data/*.toml`` (one file per table, each row naming its sources in
``sources.toml``); a new CUDA release or GPU is a row plus a test, never a code change. Each
data file has its module that reads its rows and looks them up (sources, toolkit, minor_compat,
driver_branches, architectures, gpus, torch_wheels, cuda_images, framework_images; requirements
joins toolkit and minor_compat). ``KnowledgeBase`` (base.py) reads each table on first use and
answers every lookup. Every fact carries one ``Provenance`` (status, sources, note, conflict).

``load_knowledge(path)`` reads them: ``path`` (a directory) or, when None, the directory in
the environment variable ``GPU_PREFLIGHT_DB``, else the data shipped in the package. In a
directory, each file present replaces the packaged file of the same name (so a user can point
at updated data before a release ships it); a directory's data is validated up front and
malformed data is refused with a ``KnowledgeError`` (a ``UsageError``: one line, exit 2).
Knowledge bases are cached per directory; packaged tables load lazily, on first use.

Updating the facts (a maintainer's checklist):

* a new CUDA release: a ``[[release]]`` row in toolkit.toml (and, for a new branch, a
  ``[[branch]]`` row in driver_branches.toml); a new GPU: a ``[[product]]`` row in gpus.toml;
  a new PyTorch: a ``[[release]]`` and its ``[[wheel]]`` rows in torch.toml;
* every row names its sources (keys of sources.toml; add the source first) and a status;
  a disagreement between sources is written as ``conflict`` + ``chosen`` (the conservative
  side); an unverified value is ``status = "unconfirmed"``, never presented as fact;
* bump the file's ``[meta]`` version and date, and add the expected value to the matching
  parametrised test in tests/knowledge/.
"""

from __future__ import annotations

import os
from pathlib import Path

from gpu_preflight.knowledge.arch_list import ArchList, ArchListError, ArchTarget, Coverage
from gpu_preflight.knowledge.base import DATA_FILES, KnowledgeBase
from gpu_preflight.knowledge.loader import packaged_data_dir
from gpu_preflight.knowledge.model import (
    Architecture,
    CudaCCRange,
    CudaImage,
    DriverBranch,
    DriverRequirement,
    FileMeta,
    GpuProduct,
    ImageInfo,
    KnowledgeMeta,
    MinorCompatFloor,
    RequireCuda,
    Source,
    ToolkitRelease,
    TorchRelease,
    TorchWheel,
)
from gpu_preflight.knowledge.provenance import Provenance
from gpu_preflight.knowledge.row import KnowledgeError

ENV_VAR = "GPU_PREFLIGHT_DB"

_loaded: dict[str | None, KnowledgeBase] = {}


def load_knowledge(path: str | Path | None = None) -> KnowledgeBase:
    """The knowledge base of ``path``, ``$GPU_PREFLIGHT_DB`` or the package (cached)."""
    if path is None or str(path) == "":
        path = os.environ.get(ENV_VAR) or None
    key = None if path is None else str(Path(path).expanduser().resolve())
    kb = _loaded.get(key)
    if kb is None:
        kb = KnowledgeBase(Path(key) if key is not None else None)
        if key is not None:
            kb.load_all()  # user-supplied data: refuse it now, not in the middle of a check
        _loaded[key] = kb
    return kb


def clear_cache() -> None:
    """Forget loaded knowledge bases (tests; a long-running process after a data update)."""
    _loaded.clear()


__all__ = [
    "DATA_FILES",
    "ENV_VAR",
    "ArchList",
    "ArchListError",
    "ArchTarget",
    "Architecture",
    "Coverage",
    "CudaCCRange",
    "CudaImage",
    "DriverBranch",
    "DriverRequirement",
    "FileMeta",
    "GpuProduct",
    "ImageInfo",
    "KnowledgeBase",
    "KnowledgeError",
    "KnowledgeMeta",
    "MinorCompatFloor",
    "Provenance",
    "RequireCuda",
    "Source",
    "ToolkitRelease",
    "TorchRelease",
    "TorchWheel",
    "clear_cache",
    "load_knowledge",
    "packaged_data_dir",
]
