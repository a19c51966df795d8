"""Where MODEL comes from: a directory, a built-in profile, the Hugging Face cache, or the Hub,
served here by a local HTTP server the test starts (there is no network in CI)."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gpu_preflight.core.errors import UsageError
from gpu_preflight.fit.sources import resolve_model

from support.fit_inputs import TINY_CONFIG, VIBE_CONFIG, VIBE_PARAMS, model_dir, tiny_tensors


class _Hub(BaseHTTPRequestHandler):
    routes: dict = {}

    def do_GET(self):
        self.server.requests.append((self.path, self.headers.get("Authorization")))
        status, body, delay = self.routes.get(self.path, (404, b"not found", 0))
        time.sleep(delay)
        self.send_response(status)
        if status in (301, 302, 307, 308):  # the body is where to go
            self.send_header("Location", body.decode())
            body = b""
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading (a body over the limit): as it should

    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """A stand-in for huggingface.co at HF_ENDPOINT, with an empty Hugging Face cache."""
    _Hub.routes = {
        "/weibo/vibe/resolve/main/config.json": (200, json.dumps(VIBE_CONFIG).encode(), 0),
        "/org/gated/resolve/main/config.json": (401, b"", 0),
        "/org/broken/resolve/main/config.json": (200, b"{not json", 0),
        "/org/slow/resolve/main/config.json": (200, b"{}", 3),
        "/org/huge/resolve/main/config.json": (200, b" " * (5 * 1024 * 1024), 0),
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    constants = pytest.importorskip("huggingface_hub.constants")
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "hf-home" / "token"))  # no saved login
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def elsewhere():
    """A second host (another origin: another port) that a redirect from the Hub may name."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_directory_with_config_json(tmp_path):
    model = resolve_model(str(model_dir(tmp_path, VIBE_CONFIG)))
    assert model.source == "directory" and model.params == VIBE_PARAMS


def test_config_json_itself_may_be_named(tmp_path):
    directory = model_dir(tmp_path, VIBE_CONFIG)
    assert resolve_model(str(directory / "config.json")).params == VIBE_PARAMS


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "file is empty"),
        (b"{oops", "not valid JSON"),
        (b"[]", "not a JSON object"),
        (b"\xff\xfe", "not (valid )?JSON"),  # core/readers words it either way
        (b"{}", "has no hidden_size"),
    ],
)
def test_a_bad_config_json_is_a_usage_error(tmp_path, content, message):
    (tmp_path / "config.json").write_bytes(content)
    with pytest.raises(UsageError, match=message):
        resolve_model(str(tmp_path))


def test_a_directory_without_config_json(tmp_path):
    with pytest.raises(UsageError, match="no config.json"):
        resolve_model(str(tmp_path))


@pytest.mark.parametrize(
    "name", ["VibeThinker-1.5B", "weiboai/vibethinker-1.5b", "vibethinker", "Llama-3.2-1B-Instruct"]
)
def test_built_in_profiles_by_id_or_alias_case_blind(name):
    assert resolve_model(name).source == "profile"


@pytest.mark.parametrize("text", ["nosuchmodel", "a/b/c", "", "../x y"])
def test_unknown_models_list_what_was_tried(text):
    with pytest.raises(UsageError, match="unknown model|MODEL is empty"):
        resolve_model(text)


def test_a_hub_id_is_fetched_from_hf_endpoint(hub):
    model = resolve_model("weibo/vibe")
    assert model.source == "hub" and model.params == VIBE_PARAMS
    assert model.location.endswith("/weibo/vibe/resolve/main/config.json")


def test_hf_token_is_sent(hub, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    resolve_model("weibo/vibe")
    assert hub.requests[-1] == ("/weibo/vibe/resolve/main/config.json", "Bearer hf_test")


def test_the_token_never_follows_a_redirect_to_another_host(hub, elsewhere, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    target = f"http://127.0.0.1:{elsewhere.server_port}/cdn/config.json"
    monkeypatch.setitem(_Hub.routes, "/org/moved/resolve/main/config.json", (302, target.encode(), 0))
    monkeypatch.setitem(_Hub.routes, "/cdn/config.json", (200, json.dumps(VIBE_CONFIG).encode(), 0))
    model = resolve_model("org/moved")
    assert model.params == VIBE_PARAMS
    assert hub.requests == [("/org/moved/resolve/main/config.json", "Bearer hf_secret")]
    assert elsewhere.requests == [("/cdn/config.json", None)]


def test_the_token_saved_by_hf_auth_login_is_used(hub, tmp_path):
    from huggingface_hub import constants

    saved = tmp_path / "hf-home" / "token"
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text("hf_saved\n")
    assert constants.HF_TOKEN_PATH == str(saved)
    resolve_model("weibo/vibe")
    assert hub.requests[-1] == ("/weibo/vibe/resolve/main/config.json", "Bearer hf_saved")


def test_reading_models_does_not_import_huggingface_hub():
    import subprocess
    import sys

    code = "import sys, gpu_preflight.fit.sources; print('huggingface_hub' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize(
    "model_id, message",
    [
        ("org/missing", "HTTP 404 \\(no such model on the Hub\\)"),
        ("org/gated", "HTTP 401 \\(gated or private: set HF_TOKEN or run .hf auth login.\\)"),
        ("org/broken", "not valid JSON"),
        ("org/huge", "not a config.json"),
    ],
)
def test_hub_failures_are_one_clear_line(hub, model_id, message):
    with pytest.raises(UsageError, match=message) as caught:
        resolve_model(model_id)
    assert "\n" not in str(caught.value)


def test_a_slow_hub_times_out_quickly(hub):
    with pytest.raises(UsageError, match="within 0.5s.*no network\\?"):
        resolve_model("org/slow", timeout=0.5)


def test_no_network_is_one_clear_line(monkeypatch, tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with pytest.raises(UsageError, match="cannot fetch .* \\(no network\\? use a local directory"):
        resolve_model("someone/model", timeout=2)


def test_hf_hub_offline_does_not_touch_the_network(hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UsageError, match="HF_HUB_OFFLINE"):
        resolve_model("weibo/vibe")
    assert hub.requests == []


def test_the_hugging_face_cache_answers_offline_with_exact_counts(hub, tmp_path, monkeypatch):
    repo = tmp_path / "hf-home" / "hub" / "models--org--cached"
    snapshot = model_dir(repo / "snapshots", TINY_CONFIG, tiny_tensors(TINY_CONFIG), name="abc123")
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    model = resolve_model("org/cached")
    assert model.source == "hub-cache" and model.location == str(snapshot)
    assert model.params_source == "safetensors" and hub.requests == []
