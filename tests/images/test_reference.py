"""Image references as Docker normalises them, and hostile ones refused in one line."""

from __future__ import annotations

import pytest

from gpu_preflight.core.errors import UsageError
from gpu_preflight.images.reference import parse_reference

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    "text, repository, tag, digest, familiar, api_host",
    [
        (
            "nvidia/cuda:12.4.1-runtime-ubuntu22.04",
            "docker.io/nvidia/cuda",
            "12.4.1-runtime-ubuntu22.04",
            None,
            "nvidia/cuda:12.4.1-runtime-ubuntu22.04",
            "registry-1.docker.io",
        ),
        ("ubuntu", "docker.io/library/ubuntu", "latest", None, "ubuntu:latest", "registry-1.docker.io"),
        (
            "docker.io/library/ubuntu:22.04",
            "docker.io/library/ubuntu",
            "22.04",
            None,
            "ubuntu:22.04",
            "registry-1.docker.io",
        ),
        (
            "index.docker.io/pytorch/pytorch:2.1.0-cuda11.8-cudnn8-runtime",
            "docker.io/pytorch/pytorch",
            "2.1.0-cuda11.8-cudnn8-runtime",
            None,
            "pytorch/pytorch:2.1.0-cuda11.8-cudnn8-runtime",
            "registry-1.docker.io",
        ),
        (
            "nvcr.io/nvidia/pytorch:24.05-py3",
            "nvcr.io/nvidia/pytorch",
            "24.05-py3",
            None,
            "nvcr.io/nvidia/pytorch:24.05-py3",
            "nvcr.io",
        ),
        (
            "localhost:5000/team/img:v1",
            "localhost:5000/team/img",
            "v1",
            None,
            "localhost:5000/team/img:v1",
            "localhost:5000",
        ),
        ("localhost/img", "localhost/img", "latest", None, "localhost/img:latest", "localhost"),
        (
            f"nvidia/cuda@{DIGEST}",
            "docker.io/nvidia/cuda",
            None,
            DIGEST,
            f"nvidia/cuda@{DIGEST}",
            "registry-1.docker.io",
        ),
        (
            f"nvidia/cuda:12.4.1-base-ubuntu22.04@{DIGEST}",
            "docker.io/nvidia/cuda",
            "12.4.1-base-ubuntu22.04",
            DIGEST,
            f"nvidia/cuda:12.4.1-base-ubuntu22.04@{DIGEST}",
            "registry-1.docker.io",
        ),
        ("[::1]:5000/a:b", "[::1]:5000/a", "b", None, "[::1]:5000/a:b", "[::1]:5000"),
        (
            "a.b-c.d:5000/e--f__g.h:T_1.x",
            "a.b-c.d:5000/e--f__g.h",
            "T_1.x",
            None,
            "a.b-c.d:5000/e--f__g.h:T_1.x",
            "a.b-c.d:5000",
        ),
    ],
)
def test_normalised_as_docker_does(text, repository, tag, digest, familiar, api_host):
    ref = parse_reference(text)
    assert (ref.repository, ref.tag, ref.digest, ref.familiar, ref.api_host) == (
        repository,
        tag,
        digest,
        familiar,
        api_host,
    )


def test_digest_wins_for_the_registry():
    assert parse_reference(f"nvidia/cuda:12.4.1-base-ubuntu22.04@{DIGEST}").manifest_reference == DIGEST


@pytest.mark.parametrize(
    "text, words",
    [
        ("../../etc", "a file path"),
        ("/etc/passwd", "a file path"),
        ("x" * 10_000, "too long"),
        ("nvidia/cuda\x00:12", "control"),
        ("nvidia/cuda:12\n", "control"),
        ("nvidia/cuda:12\x1b[31m", "control"),
        ("nvidia/cüda", "non-ASCII"),
        ("image@sha256:xyz", "digest must be sha256"),
        ("image@sha256:" + "A" * 64, "digest must be sha256"),
        ("image@md5:" + "a" * 32, "digest must be sha256"),
        ("Nvidia/cuda", "lower case"),
        ("nvidia/CUDA:12", "lower case"),
        ("", "empty"),
        ("a:b:c", "not an image reference"),
        ("nvidia/cuda:" + "t" * 129, "not an image reference"),
        ("-rf", "not an image reference"),
        ("a" * 256 + "/b", "longer than 255"),
    ],
)
def test_hostile_references_are_one_line(text, words):
    with pytest.raises(UsageError) as caught:
        parse_reference(text)
    message = str(caught.value)
    assert words in message and message.startswith("--image ")
    assert "\n" not in message and "\x00" not in message and "\x1b" not in message and len(message) < 300
