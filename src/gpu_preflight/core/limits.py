"""Every cap on what preflight will read or compute from user input, in one place.

A hostile or broken input is refused at once with one line (exit 2) rather than read slowly
or without bound. Each limit is far above anything real; the comment says what real looks like.
"""

from __future__ import annotations

MAX_INPUT_BYTES = 64 * 1024 * 1024  # a host document, image config, fleet file or replay
MAX_REQUIREMENTS_BYTES = 1024 * 1024  # a requirements file or pyproject.toml
MAX_INT_DIGITS = 64  # no count, size or version component needs more digits than this
MAX_NESTING = 64  # JSON/TOML depth: real documents nest a handful of levels
