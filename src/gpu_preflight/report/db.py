"""`preflight db`: what the knowledge base holds - counts, newest versions, data version, sources.

``db_document`` builds the JSON document (``gpu-preflight/db/v1``); ``render_db_text`` a short
readable summary of it, as a terminal.py table. Rendering never looks anything up: it only
formats the document.
"""

from __future__ import annotations

from typing import Any, Protocol

from gpu_preflight.knowledge import ENV_VAR, KnowledgeBase
from gpu_preflight.knowledge.engines import EngineRelease
from gpu_preflight.knowledge.provenance import Provenance
from gpu_preflight.knowledge.sources import newest_source
from gpu_preflight.report.terminal import Style, table_lines

SCHEMA = "gpu-preflight/db/v1"


class _Fact(Protocol):
    """Any knowledge-base row: each carries its provenance."""

    @property
    def provenance(self) -> Provenance: ...


def db_document(kb: KnowledgeBase) -> dict[str, Any]:
    """The ``preflight db --json`` document of a loaded knowledge base."""
    meta = kb.meta  # loads and validates every table
    newest = newest_source(kb.sources)
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
        *kb.engine_releases,
    ]
    floors = {f.major: f for f in kb.minor_compat_floors}  # one per major, platform aside
    return {
        "schema": SCHEMA,
        "data": {
            "version": meta.version,
            "date": meta.date,
            # the latest dated source: how current the facts are, as opposed to when the files changed
            "newest_source": {"key": newest.key, "date": newest.date, "url": newest.url or None} if newest else None,
        },
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
            "engine_releases": len(kb.engine_releases),
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
        "engines": [_engine_row(r) for r in kb.engine_releases],
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
    newest_source = data.get("newest_source")
    dated = f"; newest source dated {newest_source['date']} ({newest_source['key']})" if newest_source else ""
    lines = [
        style.bold(f"Knowledge base {data['version']} ({data['date']}{dated}), from {origin}"),
        *table_lines(rows),
        f"  rows with a recorded conflict {doc['quality']['rows_with_conflict']}, "
        f"unconfirmed {doc['quality']['rows_unconfirmed']}",
        f"  point at updated data with --db DIR or ${where['env_var']}",
    ]
    if doc.get("engines"):
        lines += [
            style.bold("Inference engines (first release of each rule)"),
            *table_lines(_engine_lines(doc["engines"])),
        ]
    return "\n".join(lines) + "\n"


def _engine_row(release: EngineRelease) -> dict[str, Any]:
    """One engines.toml rule: the release it starts, torch pin, builds, floors, provenance."""
    return {
        "engine": release.engine.key,
        "release": release.version,
        "through": f"{release.last}.x" if release.last else None,
        "torch": release.torch,
        "builds": [
            {
                "variant": b.variant,
                "cuda": str(b.cuda),
                "default": b.default,
                "archs": str(b.archs) if b.archs else None,
                "install": b.install,
                "status": b.provenance.status,
            }
            for b in release.builds
        ],
        "min_cc": str(release.min_cc) if release.min_cc else None,
        "min_driver": str(release.min_driver) if release.min_driver else None,
        "status": release.provenance.status,
        "sources": list(release.provenance.sources),
        "conflict": release.provenance.conflict or None,
    }


def _engine_lines(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    lines = []
    for row in rows:
        span = row["release"] + (f" .. {row['through']}" if row["through"] else " (any release; unconfirmed)")
        builds = ", ".join(
            f"{b['variant']} CUDA {b['cuda']}" + (" (default)" if b["default"] and len(row["builds"]) > 1 else "")
            for b in row["builds"]
        )
        floors = "; ".join(
            filter(
                None,
                [
                    f"torch {row['torch']}" if row["torch"] else "",
                    f"CC >= {row['min_cc']}" if row["min_cc"] else "",
                    f"driver >= {row['min_driver']}" if row["min_driver"] else "",
                ],
            )
        )
        lines.append((f"{row['engine']} {span}", "; ".join(filter(None, [builds, floors])) + f" [{row['status']}]"))
    return lines
