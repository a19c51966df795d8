"""`preflight db`: what the knowledge base holds - counts, newest versions, data version, sources.

``db_document`` builds the JSON document (``gpu-preflight/db/v1``); ``render_db_text`` a short
readable summary of it, as a terminal.py table. Rendering never looks anything up: it only
formats the document.
"""

from __future__ import annotations

from typing import Any, Protocol

from gpu_preflight.knowledge import ENV_VAR, KnowledgeBase
from gpu_preflight.knowledge.provenance import Provenance
from gpu_preflight.report.terminal import Style, table_lines

SCHEMA = "gpu-preflight/db/v1"


class _Fact(Protocol):
    """Any knowledge-base row: each carries its provenance."""

    @property
    def provenance(self) -> Provenance: ...


def db_document(kb: KnowledgeBase) -> dict[str, Any]:
    """The ``preflight db --json`` document of a loaded knowledge base."""
    meta = kb.meta  # loads and validates every table
    releases = kb.toolkit_releases
    newest_cuda = releases[-1]
    confirmed = [r for r in releases if r.provenance.status == "confirmed"]
    branches = kb.driver_branches
    torch = kb.torch_releases[-1]
    rows: list[_Fact] = [
        *releases,
        *kb.driver_branches,
        *kb.architectures,
        *kb.gpu_products,
        *kb.torch_wheels,
        *kb.require_cuda_values,
    ]
    floors = {f.major: f for f in kb.minor_compat_floors}  # one per major, platform aside
    return {
        "schema": SCHEMA,
        "data": {"version": meta.version, "date": meta.date},
        "loaded_from": {
            "directory": meta.directory,
            "env_var": ENV_VAR,
            "files": [
                {
                    "name": f.name,
                    "origin": f.origin,
                    "path": f.path,
                    "version": f.version,
                    "date": f.date,
                    "description": f.description,
                    "rows": f.rows,
                }
                for f in meta.files
            ],
        },
        "counts": {
            "toolkit_releases": len(releases),
            "minor_compat_floors": len(floors),
            "driver_branches": len(branches),
            "architectures": len(kb.architectures),
            "cuda_cc_ranges": len(kb.cuda_cc_ranges),
            "gpu_products": len(kb.gpu_products),
            "torch_releases": len(kb.torch_releases),
            "torch_wheels": len(kb.torch_wheels),
            "cuda_require_values": len(kb.require_cuda_values),
            "pytorch_images": len(kb.pytorch_images),
            "vllm_images": len(kb.vllm_images),
            "ngc_pytorch_images": len(kb.ngc_pytorch_images),
            "sources": len(kb.sources),
        },
        "newest": {
            "cuda": str(newest_cuda.version),
            "cuda_status": newest_cuda.provenance.status,
            "cuda_confirmed": str(confirmed[-1].version) if confirmed else None,
            "driver_branch": branches[-1].branch,
            "driver_branch_max_cuda": str(branches[-1].max_cuda) if branches[-1].max_cuda else None,
            "driver_branch_status": branches[-1].provenance.status,
            "torch": str(torch.version),
        },
        "quality": {
            "rows_with_conflict": sum(1 for r in rows if r.provenance.conflict),
            "rows_unconfirmed": sum(1 for r in rows if r.provenance.status == "unconfirmed"),
        },
        "sources": [
            {"key": s.key, "title": s.title, "url": s.url or None}
            for s in sorted(kb.sources.values(), key=lambda s: s.key)
        ],
    }


def render_db_text(doc: dict[str, Any], style: Style | None = None) -> str:
    """A short human summary of a ``db_document``."""
    style = style or Style()
    data, newest, counts = doc["data"], doc["newest"], doc["counts"]
    where = doc["loaded_from"]
    overrides = [f["name"] for f in where["files"] if f["origin"] == "override"]
    origin = "packaged data"
    if where["directory"]:
        origin = f"{where['directory']} ({', '.join(overrides) or 'no files'} overriding the packaged data)"
    max_cuda = (
        f"max CUDA {newest['driver_branch_max_cuda']}" if newest["driver_branch_max_cuda"] else "max CUDA not known"
    )
    rows = [
        ("newest CUDA", f"{newest['cuda']} ({newest['cuda_status']}); newest confirmed {newest['cuda_confirmed']}"),
        ("newest driver", f"R{newest['driver_branch']} ({max_cuda}; {newest['driver_branch_status']})"),
        ("newest PyTorch", str(newest["torch"])),
        ("tables", ", ".join(f"{name.replace('_', ' ')} {n}" for name, n in counts.items())),
    ]
    lines = [
        style.bold(f"Knowledge base {data['version']} ({data['date']}), from {origin}"),
        *table_lines(rows),
        f"  rows with a recorded conflict {doc['quality']['rows_with_conflict']}, "
        f"unconfirmed {doc['quality']['rows_unconfirmed']}",
        f"  point at updated data with --db DIR or ${where['env_var']}",
    ]
    return "\n".join(lines) + "\n"
