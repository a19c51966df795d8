"""Container images as targets: what an image is, read from its reference, config, registry or Dockerfile.

* ``reference``  - image references, parsed and normalised as Docker does;
* ``config``     - ``docker image inspect`` output and OCI image configs;
* ``docker_engine`` - a local Docker engine over its unix socket (optional, fails fast and quietly);
* ``registry``   - the Registry HTTP API v2 with the anonymous bearer-token flow (``--registry-lookup``);
* ``dockerfile`` - the image a Dockerfile builds (last stage, base image, ENV, pip-installed torch);
* ``resolve``    - from flags to ImageFacts, best source first, then the knowledge base;
* ``nvidia_require`` - the NVIDIA_REQUIRE_* grammar, evaluated per GPU as libnvidia-container does.

Judging an image against a host is a check: ``checks/image_gate.py``.
"""

from gpu_preflight.images.config import ImageConfig, read_image_configs
from gpu_preflight.images.dockerfile import (
    DockerfileFacts,
    dockerfile_facts,
    parse_dockerfile,
)
from gpu_preflight.images.reference import ImageReference, parse_reference
from gpu_preflight.images.registry import RegistryError, fetch_image_config
from gpu_preflight.images.resolve import (
    ImageFacts,
    ImageRequests,
    collect_image_requests,
    parse_require_cuda,
    resolve_image,
    resolve_images,
)

__all__ = [
    "DockerfileFacts",
    "ImageConfig",
    "ImageFacts",
    "ImageReference",
    "ImageRequests",
    "RegistryError",
    "collect_image_requests",
    "dockerfile_facts",
    "fetch_image_config",
    "parse_dockerfile",
    "parse_reference",
    "parse_require_cuda",
    "read_image_configs",
    "resolve_image",
    "resolve_images",
]
