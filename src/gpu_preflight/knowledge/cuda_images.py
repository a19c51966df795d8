"""cuda_images.toml: the nvidia/cuda tag grammar, and the NVIDIA_REQUIRE_CUDA its images declare
per CUDA version."""

from __future__ import annotations

from gpu_preflight.core.versions import Version
from gpu_preflight.knowledge.files import DataFiles
from gpu_preflight.knowledge.model import CudaImage, RequireCuda
from gpu_preflight.knowledge.provenance import Provenance
from gpu_preflight.knowledge.tag_grammar import TagGrammar, tag_grammar

CUDA_IMAGES_FILE = "cuda_images.toml"


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


def find_require_cuda(values: tuple[RequireCuda, ...], cuda: Version) -> RequireCuda | None:
    """The NVIDIA_REQUIRE_CUDA row of the nvidia/cuda images of exactly this CUDA version."""
    return next((r for r in values if r.cuda == cuda), None)


def parse_cuda_image(grammar: TagGrammar, values: tuple[RequireCuda, ...], tag: str) -> CudaImage | None:
    """An nvidia/cuda tag (``12.4.1-runtime-ubuntu22.04``, with or without the ``nvidia/cuda:``
    prefix) with its images' requirement; None when it does not follow the grammar."""
    m = grammar.pattern.match(tag.strip())
    if not m:
        return None
    cuda = Version.parse(m["cuda"])
    found = find_require_cuda(values, cuda)
    sources = grammar.provenance.sources + (found.provenance.sources if found else ())
    return CudaImage(
        tag=tag.strip(),
        cuda=cuda,
        flavor=m["flavor"],
        cudnn=m.groupdict().get("cudnn"),
        os=m["os"],
        require_cuda=found.value if found else None,
        provenance=Provenance(
            found.provenance.status if found else "unconfirmed",
            tuple(dict.fromkeys(sources)),
            "" if found else f"NVIDIA_REQUIRE_CUDA of CUDA {cuda} images is not in the table",
        ),
    )
