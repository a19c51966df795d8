"""The build context behind a Dockerfile: which file of it a RUN reads inside the image.

``RUN pip install -r requirements.txt`` names a path in the image. It came from the build context
(the Dockerfile's folder, as ``docker build .`` beside it) through the stage's ``COPY``/``ADD`` and
``WORKDIR`` (docs.docker.com/reference/dockerfile: COPY, ADD, WORKDIR):

* ``WORKDIR`` is relative to the one before (``/`` at first); a relative path in ``COPY`` or
  ``RUN`` is relative to it.
* ``COPY SRC... DEST``: a file lands at ``DEST`` itself, or inside it when ``DEST`` ends in ``/``
  or names a folder; a folder's *contents* land in ``DEST``; ``SRC`` may hold ``* ? [ ]``.
  Which reading holds is decided by what exists in the context, as Docker does.
* ``COPY --from=...`` copies from another stage or image, and ``ADD URL`` from the network: not
  the context, so not followed. Nothing outside the context is ever read (Docker refuses it too).
"""

from __future__ import annotations

import fnmatch
import json
import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

from gpu_preflight.core.limits import MAX_DOCKERFILE_COPIES_SEARCHED

_OWN_OPTIONS = ("--chown", "--chmod", "--link", "--parents", "--exclude", "--checksum", "--keep-git-dir")


@dataclass(frozen=True)
class ContextCopy:
    """One ``COPY``/``ADD`` from the build context: its sources as written, its image destination."""

    sources: tuple[str, ...]
    dest: str  # absolute, normalised


def image_path(workdir: str, path: str) -> str:
    """``path`` in the image, as an absolute normalised path (relative ones start at ``workdir``)."""
    return posixpath.normpath(posixpath.join(workdir, path))


def context_copy(words: list[str], workdir: str) -> ContextCopy | None:
    """The copy a ``COPY``/``ADD`` line's words make from the context; None when it copies from
    elsewhere (``--from``, a URL, a git repository) or is not well formed."""
    if words[:1] and words[0].startswith("["):  # the JSON form: COPY ["a b.txt", "/app/"]
        try:
            parsed = json.loads(" ".join(words))
        except (ValueError, RecursionError):
            return None
        if not isinstance(parsed, list) or not all(isinstance(w, str) for w in parsed):
            return None
        words = parsed
    options = [w for w in words if w.startswith("--")]
    if any(not o.startswith(_OWN_OPTIONS) for o in options):  # --from=... and anything unknown
        return None
    paths = [w for w in words if not w.startswith("--")]
    if len(paths) < 2 or any("://" in p or p.startswith("git@") for p in paths[:-1]):
        return None
    return ContextCopy(tuple(paths[:-1]), image_path(workdir, paths[-1]))


def context_file(copies: list[ContextCopy], in_image: str, context: Path) -> Path | None:
    """The context file that the last copy putting one at ``in_image`` took (as a path under
    ``context``, as given), or None."""
    root = context.resolve()
    for copy in reversed(copies[-MAX_DOCKERFILE_COPIES_SEARCHED:]):
        for source in reversed(copy.sources[-MAX_DOCKERFILE_COPIES_SEARCHED:]):
            for candidate in _candidates(source, copy.dest, in_image):
                if os.path.isfile(context / candidate) and (root / candidate).resolve().is_relative_to(root):
                    return context / candidate
    return None


def _candidates(source: str, dest: str, in_image: str) -> list[str]:
    """Context paths that ``COPY source dest`` would have put at ``in_image``."""
    source = posixpath.normpath(source.lstrip("/")) if source.strip("/") else "."
    if in_image == dest:  # a file copied to the name DEST
        return [] if _is_pattern(source) else [source]
    if not in_image.startswith(dest.rstrip("/") + "/"):
        return []
    inside = in_image[len(dest.rstrip("/")) + 1 :]
    found = []
    if "/" not in inside and fnmatch.fnmatchcase(inside, posixpath.basename(source)):
        found.append(posixpath.join(posixpath.dirname(source), inside))  # a file copied into DEST
    if not _is_pattern(source):
        found.append(posixpath.join(source, inside))  # a folder's contents copied into DEST
    return found


def _is_pattern(path: str) -> bool:
    return any(c in path for c in "*?[")
