"""/etc/os-release: which distribution this is, so that advice names its package manager."""

from __future__ import annotations

import shlex
from pathlib import Path

MAX_OS_RELEASE_BYTES = 64 * 1024  # the real file is a few hundred bytes
FIELDS = {"ID": "os_id", "ID_LIKE": "os_like", "VERSION_ID": "os_version", "PRETTY_NAME": "os_name"}


def parse_os_release(text: str) -> dict[str, str]:
    """The fields of os-release(5) we use, renamed for the host document's ``platform``."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, raw = line.partition("=")
        if not sep or key.strip() not in FIELDS:
            continue
        try:
            words = shlex.split(raw, comments=False)
        except ValueError:  # an unbalanced quote: keep the raw value rather than nothing
            words = [raw.strip().strip("\"'")]
        value = " ".join(words).strip()
        if value:
            found[FIELDS[key.strip()]] = value[:200].lower() if key.strip() in ("ID", "ID_LIKE") else value[:200]
    return found


def read_os_release(root: str = "/") -> dict[str, str]:
    """/etc/os-release, else /usr/lib/os-release; {} when neither can be read."""
    for name in ("etc/os-release", "usr/lib/os-release"):
        try:
            with open(Path(root) / name, "rb") as handle:
                return parse_os_release(handle.read(MAX_OS_RELEASE_BYTES).decode("utf-8", "replace"))
        except OSError:
            continue
    return {}
