"""User text inside a message: the one way every reader quotes what it was handed."""

from __future__ import annotations

import re


def shortened(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, "..." marking the cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def show(text: object, limit: int = 60) -> str:
    """``text`` quoted and escaped (one line whatever it holds) and cut short, so 100 kB of input
    stays one readable line."""
    value = str(text)
    return repr(value) if len(value) <= limit else repr(value[:limit]) + f"... ({len(value)} characters)"


# What must never reach a terminal or a Markdown page as itself: the C0 controls but newline
# (ESC starts colour, cursor and OSC title sequences; a lone CR overwrites the line), DEL, the C1
# controls (CSI and OSC as one character each), the Unicode line and paragraph separators, the
# bidirectional marks, embeddings, overrides and isolates (they reorder what is shown), and lone
# surrogates (a stream cannot encode them: printing one raises).
_UNSAFE = "\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff"
_UNSAFE_KEEP_NEWLINE = re.compile(f"[{_UNSAFE}]")
_UNSAFE_ONE_LINE = re.compile(f"[\n{_UNSAFE}]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def printable(text: object, one_line: bool = False) -> str:
    """``text`` safe to write to a terminal or a Markdown page: every control character but
    newline (``one_line``: newline too), and every character that reorders or cannot be shown,
    is written as its Python escape (``ESC`` as ``\\x1b``); everything else is kept as it is.
    The one guard renderers put between the names they were handed and the screen."""
    value = str(text)
    return (_UNSAFE_ONE_LINE if one_line else _UNSAFE_KEEP_NEWLINE).sub(_escape, value)
