"""Tag grammars: how an image repository names its tags (nvidia/cuda, pytorch/pytorch), as a
regular expression with named groups, read from a data file's section."""

from __future__ import annotations

import re
from dataclasses import dataclass

from gpu_preflight.knowledge.provenance import Provenance
from gpu_preflight.knowledge.row import Row


@dataclass(frozen=True)
class TagGrammar:
    pattern: re.Pattern[str]
    provenance: Provenance


def tag_grammar(row: Row, groups: set[str], described: str) -> TagGrammar:
    """The ``pattern`` of a tag-grammar section, which must name ``groups``."""
    pattern = row.regex("pattern")
    if not groups <= set(pattern.groupindex):
        raise row.error(f"pattern needs named groups {described}")
    return TagGrammar(pattern, row.provenance())
