"""The built-in engine's two pages for a person: a chat page at ``/`` and the preflight report
at ``/report``, with their scripts and styles under ``/static/<name>``. The files ship in the
package (serve/static/); only the names in ``FILES`` are ever served, so no request path can
reach another file. The pages hold no secret: they answer without the API key, and their
scripts send it (from the page's settings) to /v1 and /preflight, which require it."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException

STATIC = Path(__file__).resolve().parent / "static"

# name -> content type: the allow-list. A file not named here is never read.
FILES = {
    "index.html": "text/html; charset=utf-8",
    "report.html": "text/html; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "common.js": "text/javascript; charset=utf-8",
    "chat.js": "text/javascript; charset=utf-8",
    "report.js": "text/javascript; charset=utf-8",
    "icon.svg": "image/svg+xml",
}
ROUTES = {"/": "index.html", "/report": "report.html"}  # the pages; everything else is /static/<name>

# Only this server's own files: no inline script or style, no other origin, no plugins, no
# framing (clickjacking), forms and <base> pinned.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
# Revalidated on every use (an ETag makes that a 304): an upgraded server never pairs a new
# page with an old cached script.
CACHE_CONTROL = "no-cache"


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


@cache
def asset(name: str) -> Asset | None:
    """The file called ``name`` if it is on the allow-list, else None (read once per process)."""
    content_type = FILES.get(name)
    if content_type is None:
        return None
    body = (STATIC / name).read_bytes()
    return Asset(body, content_type, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


def respond(name: str, method: str, if_none_match: str | None) -> Response:
    """The response for ``name``: 200 (no body for HEAD), 304 when the client's copy is current;
    a name off the allow-list is the app's 404."""
    found = asset(name)
    if found is None:
        raise HTTPException(404, "no such page or file")
    headers = {**SECURITY_HEADERS, "Cache-Control": CACHE_CONTROL, "ETag": found.etag}
    if if_none_match is not None and found.etag in (tag.strip() for tag in if_none_match.split(",")):
        return Response(status_code=304, headers=headers)
    headers["Content-Length"] = str(len(found.body))
    body = b"" if method == "HEAD" else found.body
    return Response(body, media_type=found.content_type, headers=headers)


def add_routes(app: FastAPI) -> None:
    """GET/HEAD ``/``, ``/report`` and ``/static/<name>`` (any other method: 405)."""

    def page(name: str) -> Callable[[Request], Awaitable[Response]]:
        async def handler(request: Request) -> Response:
            return respond(name, request.method, request.headers.get("if-none-match"))

        return handler

    for path, name in ROUTES.items():
        app.add_api_route(path, page(name), methods=["GET", "HEAD"], include_in_schema=False)

    async def static(name: str, request: Request) -> Response:
        return respond(name, request.method, request.headers.get("if-none-match"))

    app.add_api_route("/static/{name}", static, methods=["GET", "HEAD"], include_in_schema=False)
