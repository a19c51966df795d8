"""The chat and report pages as the server sends them (serve/pages.py): only the allow-listed
files, with headers that keep other origins and inline code out, no key needed for the pages
themselves, and no way out of the static folder. What the pages do is in tests/browser/."""

from __future__ import annotations

import fnmatch
import re
import socket

import httpx
import pytest

from gpu_preflight.core.readers import load_toml
from gpu_preflight.serve import pages

from support.serving import FakeEngine, free_port, running

SERVE_DIR = pages.STATIC.parent
PYPROJECT = SERVE_DIR.parents[2] / "pyproject.toml"


@pytest.fixture(scope="module")
def url():
    from gpu_preflight.serve.app import Service, create_app
    from gpu_preflight.serve.jobs import Scheduler
    from gpu_preflight.serve.metrics import Metrics
    from gpu_preflight.serve.protocol import Defaults

    engine = FakeEngine("ok")
    metrics = Metrics({"model": "fake"})
    defaults = Defaults("fake", frozenset({"fake"}), 64, {"temperature": 1.0, "top_p": 1.0, "top_k": 0})
    report = {"schema": "gpu-preflight/report/v1", "status": "pass"}
    service = Service(engine, Scheduler(engine, 4, metrics), defaults, metrics, report, api_key="sekret")
    with running(create_app(service), free_port()) as base:
        yield base


def raw_get(base: str, target: str, host: str | None = None) -> tuple[int, bytes]:
    """A GET with the request target sent byte for byte (an HTTP client would normalise '..')."""
    address = httpx.URL(base)
    with socket.create_connection((address.host, address.port), timeout=10) as sock:
        sock.sendall(
            f"GET {target} HTTP/1.1\r\nHost: {host or address.netloc.decode()}\r\nConnection: close\r\n\r\n".encode()
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_the_allow_list_is_exactly_the_files_shipped():
    shipped = {path.name for path in pages.STATIC.iterdir() if path.is_file()}
    assert shipped == set(pages.FILES), "add a new static file to pages.FILES (with its type), or remove it"
    assert set(pages.ROUTES.values()) <= set(pages.FILES)


def test_the_static_files_are_package_data():
    """The wheel carries them: pyproject's package-data globs cover every static file."""
    globs = load_toml(PYPROJECT)["tool"]["setuptools"]["package-data"]["gpu_preflight"]
    for name in pages.FILES:
        assert any(fnmatch.fnmatch(f"serve/static/{name}", glob) for glob in globs), name


@pytest.mark.parametrize(
    ("path", "name", "type_"),
    [
        ("/", "index.html", "text/html"),
        ("/report", "report.html", "text/html"),
        ("/static/chat.js", "chat.js", "text/javascript"),
        ("/static/app.css", "app.css", "text/css"),
    ],
)
def test_pages_and_files_are_served_with_their_type_and_protections(url, path, name, type_):
    response = httpx.get(url + path)  # no API key: the pages hold no secret
    assert response.status_code == 200
    assert response.content == (pages.STATIC / name).read_bytes()
    assert response.headers["content-type"].startswith(type_)
    assert response.headers["x-content-type-options"] == "nosniff"
    policy = dict(part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";"))
    assert policy["default-src"] == "'none'" and policy["script-src"] == "'self'"
    assert policy["connect-src"] == "'self'" and policy["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-cache" and response.headers["etag"]


def test_a_current_copy_is_a_304_and_head_has_no_body(url):
    first = httpx.get(url + "/static/common.js")
    again = httpx.get(url + "/static/common.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    head = httpx.head(url + "/")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len((pages.STATIC / "index.html").read_bytes())


@pytest.mark.parametrize(
    "target",
    [
        "/static/app.py",  # next to the static folder, not in it
        "/static/profiles.toml",
        "/static/../app.py",
        "/static/..%2fapp.py",
        "/static/%2e%2e%2fpages.py",
        "/static/..%5cpages.py",
        "/static/chat.js%00.html",
        "/static/",
        "/static/CHAT.JS",
        "/report.html",
        "/index.html",
    ],
)
def test_nothing_off_the_allow_list_is_served(url, target):
    status, body = raw_get(url, target)
    assert status == 404, (target, body[:200])
    assert b"import" not in body and b"[[profile]]" not in body


def test_only_get_and_head(url):
    response = httpx.post(url + "/", json={})
    assert response.status_code == 405
    assert response.json()["error"]["type"] == "invalid_request_error"  # the API's error format


def test_the_api_still_needs_the_key_and_a_foreign_host_is_refused(url):
    assert httpx.get(url + "/preflight").status_code == 401
    assert httpx.get(url + "/preflight", headers={"Authorization": "Bearer sekret"}).status_code == 200
    status, body = raw_get(url, "/", host="attacker.example")  # DNS rebinding: the page is refused too
    assert status == 400 and b"host_not_allowed" in body


def static_text(name: str) -> str:
    return (pages.STATIC / name).read_text(encoding="utf-8")


def test_the_html_loads_only_its_own_allow_listed_files_and_nothing_inline():
    for page in pages.ROUTES.values():
        html = static_text(page)
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert re.search(r'src="/static/[\w.-]+"', tag), f"{page}: an inline script is blocked by the CSP: {tag}"
        assert not re.search(r"\son\w+\s*=", html), f"{page}: inline event handlers are blocked by the CSP"
        assert not re.search(r"\sstyle\s*=", html) and "<style" not in html, f"{page}: inline styles are blocked"
        for reference in re.findall(r'(?:src|href)="([^"#]+)"', html):
            assert reference in pages.ROUTES or reference.removeprefix("/static/") in pages.FILES, (page, reference)


def test_no_remote_origin_and_no_html_injection_in_the_scripts():
    for name in pages.FILES:
        text = static_text(name)
        remote = re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}", text)
        assert remote in ([], ["http://www.w3.org"]), (name, remote)  # the SVG namespace is a name, not a fetch
    for name in (n for n in pages.FILES if n.endswith(".js")):
        assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(", static_text(name)), (
            f"{name}: model and server text goes on the page with textContent only"
        )
