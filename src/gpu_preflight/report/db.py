"""`preflight db`: what the knowledge base holds - counts, newest versions, data version, sources.

``db_document`` builds the JSON document (``gpu-preflight/db/v1``); ``render_db_text`` a short
readable summary of it. Rendering never looks anything up: it only formats the document.
"""

from __future__ import annotations

from typing import Any

from gpu_preflight.knowledge import ENV_VAR, KnowledgeBase

SCHEMA = "gpu-preflight/db/v1"


def db_document(kb: KnowledgeBase) -> dict[str, Any]:
    """The ``preflight db --json`` document of a loaded knowledge base."""
    meta = kb.meta  # loads and validates every table
    releases = kb.toolkit_releases
    newest_cuda = releases[-1]
    confirmed = [r for r in releases if r.status == "confirmed"]
    branches = kb.driver_branches
    torch = kb.torch_releases[-1]
    rows = [
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
            "cuda_status": newest_cuda.status,
            "cuda_confirmed": str(confirmed[-1].version) if confirmed else None,
            "driver_branch": branches[-1].branch,
            "driver_branch_max_cuda": str(branches[-1].max_cuda) if branches[-1].max_cuda else None,
            "driver_branch_status": branches[-1].status,
            "torch": str(torch.version),
        },
        "quality": {
            "rows_with_conflict": sum(1 for r in rows if getattr(r, "conflict", "")),
            "rows_unconfirmed": sum(1 for r in rows if r.status == "unconfirmed"),
        },
        "sources": [
            {"key": s.key, "title": s.title, "url": s.url or None}
            for s in sorted(kb.sources.values(), key=lambda s: s.key)
        ],
    }


def render_db_text(doc: dict[str, Any]) -> str:
    """A short human summary of a ``db_document``."""
    data, newest, counts = doc["data"], doc["newest"], doc["counts"]
    where = doc["loaded_from"]
    overrides = [f["name"] for f in where["files"] if f["origin"] == "override"]
    origin = "packaged data"
    if where["directory"]:
        origin = f"{where['directory']} ({', '.join(overrides) or 'no files'} overriding the packaged data)"
    max_cuda = (
        f"max CUDA {newest['driver_branch_max_cuda']}" if newest["driver_branch_max_cuda"] else "max CUDA not known"
    )
    lines = [
        f"Knowledge base {data['version']} ({data['date']}), from {origin}",
        f"  newest CUDA      {newest['cuda']} ({newest['cuda_status']}); newest confirmed {newest['cuda_confirmed']}",
        f"  newest driver    R{newest['driver_branch']} ({max_cuda}; {newest['driver_branch_status']})",
        f"  newest PyTorch   {newest['torch']}",
        "  tables           " + ", ".join(f"{name.replace('_', ' ')} {n}" for name, n in counts.items()),
        f"  rows with a recorded conflict {doc['quality']['rows_with_conflict']}, "
        f"unconfirmed {doc['quality']['rows_unconfirmed']}",
        f"  point at updated data with --db DIR or ${where['env_var']}",
    ]
    return "\n".join(lines) + "\n"
