"""User text inside a message: the one way every reader quotes what it was handed."""

from __future__ import annotations


def show(text: object, limit: int = 60) -> str:
    """``text`` quoted and escaped (one line whatever it holds) and cut short, so 100 kB of input
    stays one readable line."""
    value = str(text)
    return repr(value) if len(value) <= limit else repr(value[:limit]) + f"... ({len(value)} characters)"
