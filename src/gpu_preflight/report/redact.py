"""What identifies a person or a machine, taken out of a report meant to be pasted in public:
the host's name and the user names in home paths (/home/NAME, /Users/NAME, C:\\Users\\NAME)."""

from __future__ import annotations

import re
from typing import Any

HOST_PLACEHOLDER = "<host>"
_HOME = re.compile(r"(?P<root>/home/|/Users/|[A-Za-z]:\\\\?Users\\\\?)(?P<name>[^/\\\s:;'\"`]+)")


class Redactor:
    def __init__(self, hostname: str | None) -> None:
        # "localhost" or a single letter names nobody, and would blank unrelated words.
        keep = not hostname or len(hostname) < 2 or hostname.lower() in ("localhost", "unknown host")
        self._host = None if keep else re.compile(rf"(?<![\w.-]){re.escape(hostname or '')}(?![\w-])", re.IGNORECASE)

    def text(self, text: str) -> str:
        text = _HOME.sub(lambda m: f"{m['root']}<user>", text)
        return self._host.sub(HOST_PLACEHOLDER, text) if self._host else text

    def document(self, value: Any) -> Any:
        """A JSON document with every string (keys included) redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(k) if isinstance(k, str) else k: self.document(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.document(v) for v in value]
        return value
