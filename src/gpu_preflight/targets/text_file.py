"""A requirements file's text, read safely: ``--requirements FILE`` and every ``-r``/``-c`` include.

Its own reader, not ``core.readers.read_input``: an include is named ``file:line: '-r x'`` in its
messages, a path with a NUL byte is one line too, and a UTF-16 file (PowerShell's ``>``) is named
as such.
"""

from __future__ import annotations

import os
import re

from gpu_preflight.core.errors import UsageError

MAX_FILE_BYTES = 1024 * 1024
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")  # tab, newlines and form feed occur in text


def read_text_file(path: str, label: str) -> str:
    """A file's text: at most 1 MiB, UTF-8 (a BOM is dropped), no binary bytes. ``label`` starts
    every message."""
    if os.path.isdir(path):
        raise UsageError(f"{label}: is a directory, not a file")
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"{label}: cannot read: {reason}") from None
    if len(data) > MAX_FILE_BYTES:
        raise UsageError(f"{label}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB, not a requirements file")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UsageError(f"{label}: UTF-16 text (PowerShell's '>' writes it); save the file as UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"{label}: not UTF-8 text (a binary file?)") from None
    if _CONTROL.search(text):
        raise UsageError(f"{label}: contains control characters, not a text file")
    return text
