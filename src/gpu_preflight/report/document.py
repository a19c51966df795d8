"""Every ``--json`` document is written the same way: indented, values JSON cannot hold as text."""

from __future__ import annotations

import json
from typing import Any


def document_text(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, default=str) + "\n"
