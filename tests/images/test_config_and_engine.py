"""--image-config files (docker image inspect output, OCI configs), pairing them with --image,
and the local Docker engine: a fake one on a unix socket in tmp_path, and absent / silent ones."""

from __future__ import annotations

import http.server
import json
import os
import socket
import socketserver
import threading
import time

import pytest

from gpu_preflight.core.errors import UsageError
from gpu_preflight.images.config import read_image_configs
from gpu_preflight.images.docker_engine import engine_socket, inspect_local_image
from gpu_preflight.images.reference import parse_reference
from gpu_preflight.images.resolve import collect_image_requests, resolve_image

ENV = ["PATH=/usr/bin", "CUDA_VERSION=12.4.1", "NVIDIA_REQUIRE_CUDA=cuda>=12.4", "EMPTY=", "NOEQUALS"]
INSPECT = [
    {
        "Id": "sha256:" + "1" * 64,
        "RepoTags": ["nvidia/cuda:12.4.1-runtime-ubuntu22.04"],
        "RepoDigests": ["nvidia/cuda@sha256:" + "2" * 64],
        "Architecture": "amd64",
        "Os": "linux",
        "Config": {"Env": ENV, "Labels": {"maintainer": "NVIDIA CORPORATION"}},
    }
]
OCI = {
    "architecture": "arm64",
    "os": "linux",
    "variant": "v8",
    "config": {"Env": ["CUDA_VERSION=11.8.0"]},
    "rootfs": {"type": "layers"},
}


def write(tmp_path, name, data) -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def test_inspect_output_and_oci_config(tmp_path):
    (inspect,) = read_image_configs(write(tmp_path, "inspect.json", INSPECT))
    assert inspect.env == {
        "PATH": "/usr/bin",
        "CUDA_VERSION": "12.4.1",
        "NVIDIA_REQUIRE_CUDA": "cuda>=12.4",
        "EMPTY": "",
    }
    assert inspect.platform == "linux/amd64" and inspect.names[0] == "nvidia/cuda:12.4.1-runtime-ubuntu22.04"
    assert inspect.labels == {"maintainer": "NVIDIA CORPORATION"}
    (oci,) = read_image_configs(write(tmp_path, "oci.json", OCI))
    assert oci.env == {"CUDA_VERSION": "11.8.0"} and oci.platform == "linux/arm64/v8"


@pytest.mark.parametrize(
    "content, words",
    [
        ("not json", "not valid JSON"),
        ("[]", "empty list"),
        ('{"a": 1}', "not an image config"),
        ('[{"Config": {"Env": "CUDA_VERSION=1"}}]', "Env must be a list"),
        ('[{"Config": {"Env": [1]}}]', "Env must be a list"),
        ('[{"Config": {"Labels": []}}]', "Labels must be an object"),
        ("[" * 100_000, "JSON"),
        ("", "empty"),
    ],
)
def test_bad_config_files_are_one_line(tmp_path, content, words):
    with pytest.raises(UsageError) as caught:
        read_image_configs(write(tmp_path, "bad.json", content))
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(UsageError, match="cannot read"):
        read_image_configs(str(tmp_path / "nope.json"))


def test_configs_pair_with_the_image_they_name(tmp_path):
    two = INSPECT + [
        {"RepoTags": ["pytorch/pytorch:2.1.0-cuda11.8-cudnn8-runtime"], "Config": {"Env": ["PYTORCH_VERSION=2.1.0"]}}
    ]
    requests = collect_image_requests(
        images=["pytorch/pytorch:2.1.0-cuda11.8-cudnn8-runtime", "docker.io/nvidia/cuda:12.4.1-runtime-ubuntu22.04"],
        image_configs=[write(tmp_path, "two.json", two)],
    )
    assert [r.config.env.get("CUDA_VERSION") for r in requests.images] == [None, "12.4.1"]


def test_a_config_naming_nothing_goes_to_the_only_image(tmp_path):
    requests = collect_image_requests(images=["example.com/x:1"], image_configs=[write(tmp_path, "oci.json", OCI)])
    assert requests.images[0].config.env == {"CUDA_VERSION": "11.8.0"}


def test_a_config_alone_is_a_target(tmp_path):
    requests = collect_image_requests(image_configs=[write(tmp_path, "inspect.json", INSPECT)])
    assert requests.images[0].reference.familiar == "nvidia/cuda:12.4.1-runtime-ubuntu22.04"


def test_an_unpaired_config_is_refused(tmp_path):
    with pytest.raises(UsageError, match="names none of the images asked for"):
        collect_image_requests(images=["a/b:1", "c/d:2"], image_configs=[write(tmp_path, "i.json", INSPECT)])


# --- the Docker engine -----------------------------------------------------------------------------


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@pytest.fixture()
def engine(tmp_path):
    """A fake engine: /images/<name>/json for the one image it has, 404 otherwise."""
    path = str(tmp_path / "docker.sock")
    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def address_string(self):
            return "unix"

        def do_GET(self):
            asked.append(self.path)
            found = self.path == "/images/nvidia/cuda:12.4.1-runtime-ubuntu22.04/json"
            body = json.dumps(INSPECT[0] if found else {"message": "No such image"}).encode()
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = _UnixServer(path, Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield path, asked
    server.shutdown()
    server.server_close()


def test_engine_answers_with_inspect_output(engine):
    path, asked = engine
    config = inspect_local_image("nvidia/cuda:12.4.1-runtime-ubuntu22.04", path)
    assert config.source == "docker engine" and config.env["NVIDIA_REQUIRE_CUDA"] == "cuda>=12.4"
    assert inspect_local_image("nvidia/cuda:11.8.0-base-ubuntu22.04", path) is None
    assert asked == [
        "/images/nvidia/cuda:12.4.1-runtime-ubuntu22.04/json",
        "/images/nvidia/cuda:11.8.0-base-ubuntu22.04/json",
    ]


def test_engine_is_used_before_the_knowledge_base(engine):
    path, _ = engine
    from gpu_preflight.knowledge import load_knowledge

    facts = resolve_image(parse_reference("nvidia/cuda:12.4.1-runtime-ubuntu22.04"), load_knowledge(), socket_path=path)
    assert facts.env_source == "docker engine" and facts.env["NVIDIA_REQUIRE_CUDA"] == "cuda>=12.4"


def test_no_engine_is_quiet_and_fast(tmp_path):
    started = time.monotonic()
    assert inspect_local_image("nvidia/cuda:12.4.1-runtime-ubuntu22.04", str(tmp_path / "absent.sock")) is None
    assert inspect_local_image("x:1", "/var/run/docker.sock") is None or os.path.exists("/var/run/docker.sock")
    assert time.monotonic() - started < 1


def test_silent_engine_times_out_quietly(tmp_path):
    path = str(tmp_path / "silent.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)  # accepts, never answers
    try:
        started = time.monotonic()
        assert inspect_local_image("nvidia/cuda:12.4.1-runtime-ubuntu22.04", path, timeout=0.3) is None
        assert time.monotonic() - started < 2
    finally:
        listener.close()


def test_garbage_from_the_engine_is_ignored(tmp_path):
    path = str(tmp_path / "garbage.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)

    def answer():
        connection, _ = listener.accept()
        connection.recv(65536)
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n[1,2]")
        connection.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        assert inspect_local_image("nvidia/cuda:12.4.1-runtime-ubuntu22.04", path) is None
    finally:
        thread.join(timeout=2)
        listener.close()


@pytest.mark.parametrize(
    "docker_host, expected",
    [
        (None, "/var/run/docker.sock"),
        ("unix:///run/user/1000/docker.sock", "/run/user/1000/docker.sock"),
        ("tcp://10.0.0.1:2376", None),
        ("ssh://me@box", None),
    ],
)
def test_engine_socket_from_docker_host(docker_host, expected):
    assert engine_socket({} if docker_host is None else {"DOCKER_HOST": docker_host}) == expected
