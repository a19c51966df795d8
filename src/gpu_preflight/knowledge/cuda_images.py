"""cuda_images.toml: the nvidia/cuda tag grammar, the NVIDIA_REQUIRE_CUDA its images declare
per CUDA version, and the first term every such value starts with (for versions the table lacks)."""

from __future__ import annotations

from gpu_preflight.core.versions import Version
from gpu_preflight.knowledge.files import DataFiles
from gpu_preflight.knowledge.model import CudaImage, FirstTermRule, RequireCuda
from gpu_preflight.knowledge.provenance import Provenance, weakest_status
from gpu_preflight.knowledge.tag_grammar import TagGrammar, tag_grammar

CUDA_IMAGES_FILE = "cuda_images.toml"
FIRST_TERM_ONLY = "Only the first term of NVIDIA_REQUIRE_CUDA is known"


def read_cuda_tag(files: DataFiles) -> TagGrammar:
    row = files.section(CUDA_IMAGES_FILE, "tag")
    grammar = tag_grammar(row, {"cuda", "flavor", "os"}, "cuda, flavor, os (and optional cudnn)")
    row.mapping("flavors")  # checked, not kept: the flavors' meaning is for readers of the file
    row.finish()
    return grammar


def read_require_cuda(files: DataFiles) -> tuple[RequireCuda, ...]:
    result = []
    for row in files.rows(CUDA_IMAGES_FILE, "require_cuda"):
        result.append(
            RequireCuda(
                cuda=row.version("cuda"),
                value=row.string("value"),
                path=row.text("path"),
                commit=row.text("commit"),
                provenance=row.provenance(),
            )
        )
        row.finish()
    return tuple(result)


def read_first_term_rule(files: DataFiles) -> FirstTermRule:
    """``[unknown_version]``: the gate's first term, for a CUDA version the table lacks."""
    row = files.section(CUDA_IMAGES_FILE, "unknown_version")
    template = row.string("require_cuda")
    if "{major}" not in template or "{minor}" not in template:
        raise row.error("require_cuda must name {major} and {minor} (cuda>={major}.{minor})")
    try:
        template.format(major=13, minor=1)
    except (KeyError, IndexError, ValueError):
        raise row.error("require_cuda may name only {major} and {minor}") from None
    rule = FirstTermRule(template, row.provenance())
    row.finish()
    return rule


def find_require_cuda(values: tuple[RequireCuda, ...], cuda: Version) -> RequireCuda | None:
    """The NVIDIA_REQUIRE_CUDA row of the nvidia/cuda images of exactly this CUDA version."""
    return next((r for r in values if r.cuda == cuda), None)


def parse_cuda_image(
    grammar: TagGrammar, values: tuple[RequireCuda, ...], tag: str, rule: FirstTermRule | None = None
) -> CudaImage | None:
    """An nvidia/cuda tag (``12.4.1-runtime-ubuntu22.04``, with or without the
    ``nvidia/cuda:`` prefix) with its images' requirement; None when it does not follow the grammar.

    A CUDA version the table lacks (13.2.0, a tag newer than the data) still gets the gate's first
    term from ``rule`` (``cuda>=13.2``): the container runtime refuses on it before minor-version
    compatibility can help, whatever its unknown brand / driver-branch exceptions admit."""
    m = grammar.pattern.match(tag.strip())
    if not m:
        return None
    cuda = Version.parse(m["cuda"])
    found = find_require_cuda(values, cuda)
    value: str | None = None
    first_term_only = False
    if found is not None:
        value = found.value
        sources = grammar.provenance.sources + found.provenance.sources
        provenance = Provenance(found.provenance.status, tuple(dict.fromkeys(sources)))
    elif rule is not None:
        value, first_term_only = rule.value(cuda), True
        note = (
            f"{FIRST_TERM_ONLY} for CUDA {cuda} images: the table lacks their value, and every nvidia/cuda "
            f"image starts it with '{value}'. Its brand / driver-branch exceptions (forward compatibility on "
            "older branches) are unknown: add --registry-lookup (or --image-config) to read them."
        )
        sources = tuple(dict.fromkeys(grammar.provenance.sources + rule.provenance.sources))
        provenance = Provenance(weakest_status(rule.provenance.status, "derived"), sources, note)
    else:
        note = f"NVIDIA_REQUIRE_CUDA of CUDA {cuda} images is not in the table"
        provenance = Provenance("unconfirmed", grammar.provenance.sources, note)
    return CudaImage(
        tag=tag.strip(),
        cuda=cuda,
        flavor=m["flavor"],
        cudnn=m.groupdict().get("cudnn"),
        os=m["os"],
        require_cuda=value,
        provenance=provenance,
        first_term_only=first_term_only,
    )
