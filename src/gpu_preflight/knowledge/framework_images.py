"""framework_images.toml: pytorch/pytorch tags (a grammar, and tags seen in real Dockerfiles),
vllm/vllm-openai and NGC PyTorch releases, each with the CUDA and torch it ships."""

from __future__ import annotations

from dataclasses import replace

from gpu_preflight.core.versions import Version, variant_for_cuda
from gpu_preflight.knowledge.files import DataFiles
from gpu_preflight.knowledge.model import ImageInfo
from gpu_preflight.knowledge.provenance import Provenance
from gpu_preflight.knowledge.row import KnowledgeError
from gpu_preflight.knowledge.tag_grammar import TagGrammar, tag_grammar
from gpu_preflight.knowledge.torch_wheels import TorchTables, find_torch_release

FRAMEWORK_IMAGES_FILE = "framework_images.toml"
PYTORCH = "pytorch/pytorch"
VLLM = "vllm/vllm-openai"
NGC_PYTORCH = "nvcr.io/nvidia/pytorch"


def read_pytorch_tag(files: DataFiles) -> TagGrammar:
    row = files.section(FRAMEWORK_IMAGES_FILE, "pytorch_tag")
    grammar = tag_grammar(row, {"torch", "cuda", "cudnn", "flavor"}, "torch, cuda, cudnn, flavor")
    row.finish()
    return grammar


def read_images(files: DataFiles, key: str, image: str) -> tuple[ImageInfo, ...]:
    """The ``[[key]]`` rows: releases of ``image`` as a source states them."""
    result = []
    for row in files.rows(FRAMEWORK_IMAGES_FILE, key):
        result.append(
            ImageInfo(
                image=image,
                tag=row.text("tag"),
                cuda=row.version("cuda", None),
                torch=row.text("torch", None),
                provenance=row.provenance(),
            )
        )
        row.finish()
    return tuple(result)


def read_pytorch_images(files: DataFiles, grammar: TagGrammar, torch: TorchTables) -> tuple[ImageInfo, ...]:
    """pytorch/pytorch tags seen in real Dockerfiles, read from the tag itself (any tag of the
    grammar parses; these are the ones a source saw)."""
    observed = []
    for image in read_images(files, "pytorch_image", PYTORCH):
        parsed = parse_pytorch_tag(grammar, torch, image.tag)
        if parsed is None:
            label = files.label(FRAMEWORK_IMAGES_FILE)
            raise KnowledgeError(f"{label}: [[pytorch_image]] tag {image.tag!r} does not follow [pytorch_tag]")
        seen = replace(parsed.provenance, status=image.provenance.status, sources=image.provenance.sources)
        observed.append(replace(parsed, provenance=seen))
    return tuple(observed)


def parse_pytorch_tag(grammar: TagGrammar, torch: TorchTables, tag: str) -> ImageInfo | None:
    """A pytorch/pytorch tag: torch, CUDA, cuDNN and flavor read from the tag itself ("derived");
    None when it does not follow the grammar."""
    m = grammar.pattern.match(tag.strip())
    if not m:
        return None
    cuda = Version.parse(m["cuda"])
    release = find_torch_release(torch, m["torch"])
    variant = variant_for_cuda(cuda)
    note = ""
    if release is None:
        note = f"torch {m['torch']} is not a release we know"
    elif variant not in release.variants:
        note = f"torch {release.version} has no official {variant} wheel"
    return ImageInfo(
        image=PYTORCH,
        tag=m.group(0).split(":")[-1],
        cuda=cuda,
        torch=m["torch"],
        provenance=Provenance("derived", grammar.provenance.sources, note),
        cudnn=m["cudnn"],
        flavor=m["flavor"],
    )


def find_pytorch_image(
    grammar: TagGrammar, torch: TorchTables, observed: tuple[ImageInfo, ...], tag: str
) -> ImageInfo | None:
    """A pytorch/pytorch tag, "observed" when a source saw it, else "derived" from the grammar."""
    parsed = parse_pytorch_tag(grammar, torch, tag)
    if parsed is None:
        return None
    return next((i for i in observed if i.tag == parsed.tag), parsed)


def find_vllm_image(images: tuple[ImageInfo, ...], tag: str) -> ImageInfo | None:
    """A vllm/vllm-openai release (``v0.20.0``, ``0.20.0`` or the full reference)."""
    tag = tag.strip().split(":")[-1]
    tag = tag if tag.startswith("v") else f"v{tag}"
    return next((i for i in images if i.tag == tag), None)


def find_ngc_pytorch_image(images: tuple[ImageInfo, ...], tag: str) -> ImageInfo | None:
    """An NGC PyTorch release (``25.12-py3``, ``25.12`` or ``nvcr.io/nvidia/pytorch:25.12-py3``)."""
    tag = tag.strip().split(":")[-1]
    tag = tag if tag.endswith("-py3") else f"{tag}-py3"
    return next((i for i in images if i.tag == tag), None)
