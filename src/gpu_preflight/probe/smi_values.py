"""What nvidia-smi writes where it has no value, in each of its output formats.

The XML (``-q -x``) writes the message bare (``<current_mig>N/A</current_mig>``); the CSV
(``--query-gpu``) wraps every message in brackets (``[N/A]``, ``[Not Supported]``) except a bare
``N/A`` in some fields. One rule for both, so that a field reads the same whichever format it
came from.
"""

from __future__ import annotations

# nvidia-smi's messages for "no value", compared case-insensitively with brackets removed.
NO_VALUE_WORDS = frozenset(
    word.casefold()
    for word in (
        "",
        "N/A",
        "None",
        "Not Found",
        "Not Supported",
        "Unknown Error",
        "Insufficient Permissions",
        "GPU is lost",
        "ERR!",
        "Requested functionality has been deprecated",
    )
)


def smi_value(raw: str | None) -> str | None:
    """The text of a value nvidia-smi wrote, stripped; None where it says it has none: empty,
    one of NO_VALUE_WORDS (bracketed or not), or any other message in brackets (newer drivers
    add messages, ``[Function Not Found]``; CSV brackets only messages, never a value)."""
    if raw is None:
        return None
    value = raw.strip()
    if value.strip("[]").strip().casefold() in NO_VALUE_WORDS or (value.startswith("[") and value.endswith("]")):
        return None
    return value
