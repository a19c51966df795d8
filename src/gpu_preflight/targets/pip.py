"""pip requirements files: the torch lines and the index options of a file and its includes,
read with pip's rules (pip.pypa.io, "Requirements File Format").

* Logical lines: a trailing backslash continues a line; ``#`` starts a comment at the start of a
  line or after whitespace. Options come as ``--opt value``, ``--opt=value``, ``-r file``, ``-rfile``.
* ``-r``/``-c`` includes are relative to the including file, read once each, at most 10 deep; a
  loop or a URL include (``-r https://...``) is a UsageError, because skipping it could hide the
  torch pin and fetching it needs the network.
* ``--index-url``/``--extra-index-url``/``--find-links`` anywhere in the file or its includes
  apply to the whole install, as in pip (see ``index.py`` for what they do to a torch pin).
* ``${VAR}`` is expanded from this process's environment, as pip does; an unset one stays as written.
* Editable installs and other packages' paths and URLs are skipped; a torch wheel named by path
  or URL (without ``torch @``) counts. Environment markers are kept, not evaluated: the machine
  that installs may not be the one running this tool.
* A requirement ends at its first ``-`` token (``--hash=...``, ``--config-settings``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.limits import MAX_INCLUDE_DEPTH, MAX_REQUIREMENTS_BYTES
from gpu_preflight.core.readers import read_text
from gpu_preflight.core.text import show
from gpu_preflight.targets.engines import engine_requirement, engine_wheel
from gpu_preflight.targets.index import (
    Indexes,
    TorchLine,
    direct_torch_line,
    names_torch,
    parse_requirement,
    resolve_target,
    torch_line,
    torch_wheel_version,
)
from gpu_preflight.targets.model import EngineTarget, TorchTarget

_COMMENT = re.compile(r"(^|\s+)#.*$")  # pip's: "#" starts a comment only at the start or after space
_ENV_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")  # pip expands only this form, and keeps unset ones as written
_INCLUDE_OPTIONS = {"-r", "--requirement", "-c", "--constraint"}
_INDEX_OPTIONS = {"-i", "--index-url"}
_EXTRA_INDEX_OPTIONS = {"--extra-index-url", "-f", "--find-links"}
_VALUE_OPTIONS = _INCLUDE_OPTIONS | _INDEX_OPTIONS | _EXTRA_INDEX_OPTIONS | {"-e", "--editable", "--trusted-host"}


def read_requirements_text(path: str, label: str, regular_only: bool = False) -> str:
    """The text of ``--requirements FILE`` or of one of its ``-r``/``-c`` includes."""
    return read_text(path, label, MAX_REQUIREMENTS_BYTES, "not a requirements file", regular_only)


def parse_pip_requirements(path: str, text: str, indexes: Indexes | None = None) -> list[TorchTarget]:
    """The torch targets of the requirements file at ``path`` (its ``text`` already read), with
    its includes; [] when torch is not required. ``indexes``: those of the pip command that
    installs the file (``pip install --index-url URL -r FILE``), which the file's own extend."""
    reader = _RequirementsReader()
    if indexes is not None:
        reader.indexes = Indexes(indexes.primary, list(indexes.extra))
    reader.read(path, text, stack=(os.path.realpath(path),))
    return [resolve_target(line, reader.indexes) for line in reader.lines]


def parse_pip_engines(path: str, text: str) -> list[EngineTarget]:
    """The inference engines (vllm, sglang) the requirements file at ``path`` installs, with its
    includes; [] when it names none."""
    reader = _RequirementsReader()
    reader.read(path, text, stack=(os.path.realpath(path),))
    return reader.engines


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, line) with continuations joined and comments removed, as pip does."""
    start, parts = 0, []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.endswith("\\") and not _COMMENT.match(line):
            start = start or number
            parts.append(line[:-1])
            continue
        yield (start or number), _COMMENT.sub("", "".join(parts) + line).strip()
        start, parts = 0, []
    if parts:
        yield start, _COMMENT.sub("", "".join(parts)).strip()


def _options(tokens: list[str]) -> Iterator[tuple[str, str | None]]:
    """(option, value) pairs of pip's forms: ``--opt value``, ``--opt=value``, ``-r file``, ``-rfile``."""
    i = 0
    while i < len(tokens):
        token, i = tokens[i], i + 1
        if token.startswith("--") and "=" in token:
            name, value = token.split("=", 1)
            yield name, value
        elif token in _VALUE_OPTIONS:
            yield token, tokens[i] if i < len(tokens) else None
            i += 1
        elif token[:2] in _VALUE_OPTIONS and not token.startswith("--"):
            yield token[:2], token[2:]
        elif token.startswith("-"):
            yield token, None


def _is_path_or_url(text: str) -> bool:
    return "/" in text or "\\" in text or text.startswith(".") or text.endswith((".whl", ".zip", ".tar.gz"))


class _RequirementsReader:
    """Reads a requirements file and its includes, collecting torch lines and index options."""

    def __init__(self) -> None:
        self.lines: list[TorchLine] = []
        self.indexes = Indexes()
        self.read_paths: set[str] = set()
        self.engines: list[EngineTarget] = []  # vllm / sglang lines (targets/engines.py)

    def read(self, path: str, text: str, stack: tuple[str, ...], included_by: str | None = None) -> None:
        """``included_by``: the line that named this file (None for the file the user named)."""
        self.read_paths.add(stack[-1])
        for number, line in _logical_lines(text):
            source = f"{path}:{number}"
            line = _ENV_VAR.sub(lambda m: os.environ.get(m[1], m[0]), line)
            if line.startswith("-"):
                self._option_line(path, source, line.split(), stack)
            elif line:
                self._requirement_line(source, line, included_by)

    def _option_line(self, path: str, source: str, tokens: list[str], stack: tuple[str, ...]) -> None:
        for option, value in _options(tokens):
            if option not in _VALUE_OPTIONS:
                continue  # --pre, --no-index, --only-binary=...: nothing that changes which torch
            if not value:
                raise UsageError(f"{source}: {option} needs a value")
            if option in _INDEX_OPTIONS:
                self.indexes.primary = value
            elif option in _EXTRA_INDEX_OPTIONS:
                self.indexes.extra.append(value)
            elif option in _INCLUDE_OPTIONS:
                self._include(path, source, f"{option} {value}", value, stack)

    def _include(self, path: str, source: str, what: str, target: str, stack: tuple[str, ...]) -> None:
        label = f"{source}: {show(what)}"
        if "://" in target:
            raise UsageError(f"{label}: includes by URL are not fetched; download the file and pass it")
        included = os.path.join(os.path.dirname(path), target)
        real = os.path.realpath(included)
        if real in stack:
            raise UsageError(f"{label}: include loop back to {show(included)}")
        if len(stack) > MAX_INCLUDE_DEPTH:
            raise UsageError(f"{label}: includes nested deeper than {MAX_INCLUDE_DEPTH} files")
        if real in self.read_paths:  # included twice without a loop: its lines are already read
            return
        text = read_requirements_text(included, label, regular_only=True)  # found, not named: no FIFO
        self.read(included, text, stack + (real,), included_by=source)

    def _requirement_line(self, source: str, line: str, included_by: str | None) -> None:
        # pip: the requirement ends at the first token starting with "-" (--hash=..., --config-settings).
        tokens = line.split()
        end = next((i for i, token in enumerate(tokens) if token.startswith("-")), len(tokens))
        text = " ".join(tokens[:end])
        requirement = parse_requirement(text)
        if requirement is not None:
            if names_torch(requirement):
                self.lines.append(torch_line(requirement, source))
            elif (engine := engine_requirement(requirement, source)) is not None:
                self.engines.append(engine)
            return
        if not _is_path_or_url(text):
            if included_by is not None:  # any file can be named by -r: never show what it holds
                raise UsageError(
                    f"{source}: not a valid requirement: is this file, included by {included_by}, "
                    "a requirements file? (its content is not shown)"
                )
            raise UsageError(f"{source}: not a valid requirement: {show(text)}")
        if torch_wheel_version(text) is not None:  # a torch wheel named by path or URL, without "torch @"
            self.lines.append(direct_torch_line(text, source, None, source))
        elif (wheel := engine_wheel(text, source)) is not None:  # a vllm wheel by path or URL
            self.engines.append(wheel)
