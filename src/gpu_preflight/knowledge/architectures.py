"""architectures.toml: GPU architectures (groups of compute capabilities with one window of
toolkits and driver branches) and the compute capabilities each toolkit line can target."""

from __future__ import annotations

from gpu_preflight.core.versions import Version
from gpu_preflight.knowledge.files import DataFiles
from gpu_preflight.knowledge.model import Architecture, CudaCCRange
from gpu_preflight.knowledge.row import KnowledgeError

ARCHITECTURES_FILE = "architectures.toml"


def read_architectures(files: DataFiles) -> tuple[Architecture, ...]:
    """Every ``[[architecture]]`` row, in file order; a compute capability belongs to one only."""
    result = []
    for row in files.rows(ARCHITECTURES_FILE, "architecture"):
        result.append(
            Architecture(
                name=row.text("name"),
                label=row.text("label"),
                ccs=row.versions("ccs"),
                first_cuda=row.version("first_cuda"),
                last_cuda=row.version("last_cuda", None),
                removed_in_cuda=row.version("removed_in_cuda", None),
                first_driver_branch=row.integer("first_driver_branch", None),
                last_driver_branch=row.integer("last_driver_branch", None),
                dropped_in_branch=row.integer("dropped_in_branch", None),
                preview=row.boolean("preview", False),
                provenance=row.provenance(),
            )
        )
        row.finish()
    seen: set[Version] = set()
    for arch in result:
        if seen & set(arch.ccs):
            raise KnowledgeError(f"{files.label(ARCHITECTURES_FILE)}: compute capability listed twice ({arch.label})")
        seen |= set(arch.ccs)
    return tuple(result)


def read_cuda_cc_ranges(files: DataFiles) -> tuple[CudaCCRange, ...]:
    """Every ``[[cuda_cc_range]]`` row: the lowest and highest CC of a span of toolkit lines."""
    result = []
    for row in files.rows(ARCHITECTURES_FILE, "cuda_cc_range"):
        result.append(
            CudaCCRange(
                cuda_from=row.version("cuda_from"),
                cuda_to=row.version("cuda_to", None),
                min_cc=row.version("min_cc"),
                max_cc=row.version("max_cc"),
                provenance=row.provenance(),
            )
        )
        row.finish()
    return tuple(result)


def find_architecture(architectures: tuple[Architecture, ...], cc: Version) -> Architecture | None:
    return next((a for a in architectures if cc in a.ccs), None)


def cuda_supports_cc(
    architectures: tuple[Architecture, ...], ranges: tuple[CudaCCRange, ...], cuda: Version, cc: Version
) -> bool:
    """Can toolkit ``cuda`` compile for compute capability ``cc``?

    Both tables must agree: the architecture's first / removed-in toolkit, and the min / max CC
    of the toolkit line (where the line is listed). Unknown CCs: False.
    """
    arch = find_architecture(architectures, cc)
    if arch is None or not arch.targetable_by(cuda):
        return False
    limits = next((r for r in ranges if r.covers_cuda(cuda)), None)
    return limits is None or limits.min_cc <= cc <= limits.max_cc
