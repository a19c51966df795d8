"""--registry-lookup against a real registry (Debian's docker-registry) started on 127.0.0.1, with
images the tests push, and a bearer-token gate in front for the anonymous token flow."""

from __future__ import annotations

import os
import time

import pytest

from gpu_preflight.images.reference import parse_reference
from gpu_preflight.images.registry import RegistryError, fetch_image_config
from gpu_preflight.images.resolve import collect_image_requests, resolve_images

from support.registry import APT_LINE, REGISTRY_BINARY, TokenGate, free_port, start_registry

pytestmark = pytest.mark.skipif(
    not os.access(REGISTRY_BINARY, os.X_OK),
    reason=f"registry tests need Debian's docker-registry ({APT_LINE}); {REGISTRY_BINARY} not found",
)

REQUIRE_124 = (
    "cuda>=12.4 brand=tesla,driver>=470,driver<471 brand=geforce,driver>=535,driver<536 "
    "brand=nvidia,driver>=535,driver<536"
)
AMD64_ENV = [
    "PATH=/usr/local/sbin:/usr/bin",
    "CUDA_VERSION=12.4.1",
    f"NVIDIA_REQUIRE_CUDA={REQUIRE_124}",
    "NVIDIA_VISIBLE_DEVICES=all",
    "PYTORCH_VERSION=2.4.1+cu124",
]
ARM64_ENV = ["CUDA_VERSION=12.4.1", "NVIDIA_REQUIRE_CUDA=cuda>=12.4", "MARK=arm64"]


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    registry = start_registry(tmp_path_factory.mktemp("registry"))
    amd64 = registry.push_image("nvidia/cuda", AMD64_ENV, "amd64")
    arm64 = registry.push_image("nvidia/cuda", ARM64_ENV, "arm64")
    registry.push_list("nvidia/cuda", "12.4.1-runtime-ubuntu22.04", [(*amd64, "amd64"), (*arm64, "arm64")])
    registry.push_list("nvidia/cuda", "oci-index", [(*amd64, "amd64"), (*arm64, "arm64")], oci=True)
    registry.push_image("legacy/cuda", ["CUDA_VERSION=9.0.176"], tag="9.0-base")
    registry.push_image("oci/single", ["NVIDIA_REQUIRE_CUDA=cuda>=11.8"], tag="v1", oci=True)
    registry.arm_only = registry.push_image("arm/only", ARM64_ENV, "arm64")
    registry.push_list("arm/only", "latest", [(*registry.arm_only, "arm64")])
    registry.amd64_digest = amd64[0]
    yield registry
    registry.process.terminate()
    registry.process.wait(timeout=10)


@pytest.fixture()
def gate(registry):
    front = TokenGate(registry.url)
    yield front
    front.close()


def ref(registry_host: str, name: str):
    return parse_reference(f"{registry_host}/{name}")


def test_manifest_list_gives_the_amd64_config(registry):
    config = fetch_image_config(ref(registry.host, "nvidia/cuda:12.4.1-runtime-ubuntu22.04"))
    assert config.env["NVIDIA_REQUIRE_CUDA"] == REQUIRE_124
    assert config.env["CUDA_VERSION"] == "12.4.1"
    assert config.platform == "linux/amd64"
    assert config.source == f"registry {registry.host}"


def test_arm64_host_gets_the_arm64_config(registry):
    config = fetch_image_config(ref(registry.host, "nvidia/cuda:12.4.1-runtime-ubuntu22.04"), platform="linux/arm64")
    assert config.env["MARK"] == "arm64" and config.platform == "linux/arm64"


def test_oci_index_and_oci_manifest(registry):
    assert fetch_image_config(ref(registry.host, "nvidia/cuda:oci-index")).env["CUDA_VERSION"] == "12.4.1"
    assert fetch_image_config(ref(registry.host, "oci/single:v1")).env == {"NVIDIA_REQUIRE_CUDA": "cuda>=11.8"}


def test_single_manifest_and_digest_reference(registry):
    assert fetch_image_config(ref(registry.host, "legacy/cuda:9.0-base")).env == {"CUDA_VERSION": "9.0.176"}
    by_digest = fetch_image_config(ref(registry.host, f"nvidia/cuda@{registry.amd64_digest}"))
    assert by_digest.env["CUDA_VERSION"] == "12.4.1"


@pytest.mark.parametrize(
    "name, words",
    [
        ("nvidia/cuda:no-such-tag", "no such image or tag"),
        ("nobody/nothing:1", "no such image or tag"),
        ("arm/only:latest", "no linux/amd64 image in the manifest list (it has linux/arm64)"),
        ("nvidia/cuda@sha256:" + "0" * 64, "no such image or tag"),
    ],
)
def test_lookup_failures_are_one_line(registry, name, words):
    with pytest.raises(RegistryError) as caught:
        fetch_image_config(ref(registry.host, name))
    message = str(caught.value)
    assert words in message and "\n" not in message and message.startswith(f"registry {registry.host}: ")


def test_bearer_token_flow(registry, gate):
    config = fetch_image_config(ref(gate.host, "nvidia/cuda:12.4.1-runtime-ubuntu22.04"))
    assert config.env["CUDA_VERSION"] == "12.4.1"
    # one token, asked with the service and scope of the challenge
    assert len(gate.token_requests) == 1
    assert "service=test-registry" in gate.token_requests[0]
    assert "scope=repository%3Anvidia%2Fcuda%3Apull" in gate.token_requests[0]
    # the blob came through the redirect, without the Authorization header the CDN refuses
    assert gate.cdn_requests and gate.cdn_requests[0].startswith("/cdn/v2/nvidia/cuda/blobs/sha256:")


def test_login_required_is_one_line(registry, gate):
    gate.challenge = 'Basic realm="Registry Realm"'
    with pytest.raises(RegistryError, match="requires a login"):
        fetch_image_config(ref(gate.host, "nvidia/cuda:12.4.1-runtime-ubuntu22.04"))


def test_unreachable_registry_fails_fast():
    started = time.monotonic()
    with pytest.raises(RegistryError) as caught:
        fetch_image_config(parse_reference(f"127.0.0.1:{free_port()}/nvidia/cuda:12.4.1-base-ubuntu22.04"), timeout=2)
    assert time.monotonic() - started < 5
    assert "cannot reach http://127.0.0.1:" in str(caught.value) and "\n" not in str(caught.value)


def test_resolve_images_reads_the_registry_then_judges(registry, gate):
    from gpu_preflight.checks.context import CheckContext
    from gpu_preflight.checks.image_gate import image_findings

    from support.scenarios import RTX3090, host

    requests = collect_image_requests(images=[f"{gate.host}/nvidia/cuda:12.4.1-runtime-ubuntu22.04"])
    on_545 = host("545.29.06", RTX3090, driver_cuda="12.3")
    (facts,) = resolve_images(requests, None, on_545, registry_lookup=True, socket_path="")
    assert facts.env_source == f"registry {gate.host}" and facts.env["NVIDIA_REQUIRE_CUDA"] == REQUIRE_124
    assert facts.torch is not None and (facts.torch.torch_version, facts.torch.variant) == ("2.4.1", "cu124")
    findings = image_findings(CheckContext(host=on_545), facts)
    refused = [f for f in findings if f.cause == "container-requirement"]
    assert refused and "unsatisfied condition: cuda>=12.4, please update your driver" in refused[0].detail


def test_registry_failure_falls_back_to_the_knowledge_base(registry):
    from gpu_preflight.knowledge import load_knowledge

    from support.scenarios import RTX3090, host

    requests = collect_image_requests(images=[f"{registry.host}/nvidia/cuda:no-such-tag"])
    (facts,) = resolve_images(
        requests, load_knowledge(), host("550.54.15", RTX3090), registry_lookup=True, socket_path=""
    )
    assert facts.lookup_errors and "no such image or tag" in facts.lookup_errors[0]
    assert facts.env is None and not facts.known  # not docker.io/nvidia/cuda: the knowledge base has nothing either
