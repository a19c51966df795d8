"""``--dockerfile PATH``: what the image a Dockerfile builds will hold, read without building it.

Followed as BuildKit reads the file (docs.docker.com/reference/dockerfile):

* Parser directives (``# escape=```), comment lines (also inside continuations), line
  continuations with the escape character, and heredocs (``RUN <<EOF ... EOF``).
* Stages: the image is the *last* stage. ``FROM builder`` continues an earlier stage, so the
  chain is walked back to the external base image, whose metadata the caller resolves like any
  ``--image``. ``FROM scratch`` has no base.
* ``ARG`` before the first ``FROM`` is global and only usable in ``FROM`` lines; inside a stage
  ``ARG NAME`` re-imports its global default. BuildKit's automatic ``TARGETARCH`` & co. (which
  NVIDIA's own Dockerfiles use: ``FROM base-${TARGETARCH}``) stand for the host's platform.
  ``$VAR``, ``${VAR}``, ``${VAR:-default}`` and ``${VAR:+alternative}`` are expanded, not inside
  single quotes. A ``FROM`` that needs an argument without a default (given only by
  ``--build-arg``) leaves the base unknown, said so.
* ``ENV`` (``KEY=VALUE ...`` and the old ``KEY VALUE`` form) in the chain of the last stage,
  inherited stage to stage: what overrides the base image's ``NVIDIA_REQUIRE_*`` / ``CUDA_VERSION``.
* ``RUN pip install torch==...`` (also ``pip3``, ``python -m pip``, ``uv pip``) with its
  ``--index-url`` / ``--extra-index-url`` / ``-f``, read with pip's rules (``targets/index.py``):
  the last torch installed in the chain is the image's torch, replacing any torch of the base.

* ``RUN pip install -r FILE``: the requirements file is read from the build context (the
  Dockerfile's folder), found through the stage's ``COPY``/``ADD`` and ``WORKDIR``
  (``build_context.py``); a file no COPY brings in is named in a note.

Not followed: ``COPY --from`` (it copies files, not the environment), ``--build-arg`` values,
conda installs.
"""

from __future__ import annotations

import json
import re
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import cast

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.limits import (
    MAX_DOCKERFILE_BYTES,
    MAX_DOCKERFILE_EXPANSION_BYTES,
    MAX_DOCKERFILE_INHERITED,
    MAX_DOCKERFILE_REQUIREMENTS,
    MAX_DOCKERFILE_STAGES,
)
from gpu_preflight.core.readers import read_input
from gpu_preflight.core.text import show
from gpu_preflight.images.build_context import ContextCopy, context_copy, context_file, image_path
from gpu_preflight.images.reference import ImageReference, parse_reference
from gpu_preflight.targets.engines import engine_requirement, engine_wheel
from gpu_preflight.targets.index import Indexes, TorchLine, names_torch, parse_requirement, resolve_target, torch_line
from gpu_preflight.targets.model import EngineTarget, TorchTarget
from gpu_preflight.targets.pip import parse_pip_engines, parse_pip_requirements, read_requirements_text

_DIRECTIVE = re.compile(r"#\s*([A-Za-z]+)\s*=\s*(\S+)\s*$")
_HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
_VARIABLE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-+])(?P<word>[^}]*))?\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A shell word's pieces (POSIX quoting as shlex reads it): plain text, '...', "..." with its
# backslash escapes, a backslash-escaped character, or the whitespace between words. One pass
# over the text: a 1 MB word is split in linear time (shlex grows its token one character at a time).
_SHELL_PIECE = re.compile(r"""[^ \t\r\n'"\\]+|'[^']*'|"(?:[^"\\]|\\.)*"|\\.""", re.DOTALL)
_SHELL_WORD = re.compile(r"""[ \t\r\n]*((?:[^ \t\r\n'"\\]+|'[^']*'|"(?:[^"\\]|\\.)*"|\\.)+)[ \t\r\n]*""", re.DOTALL)
_PLAIN_WORD = re.compile(r"[^ \t\r\n]+")
_DOUBLE_QUOTED_ESCAPE = re.compile(r'\\(["\\])')
_COMMAND_SEPARATORS = re.compile(r"&&|\|\||[;|\n]")
# A requirement naming torch starts with its name in any case ("torch", "Torch==2.4", "torch[opt]"):
# any other word is skipped before packaging parses it (55 us a word; a RUN can hold 500,000).
_TORCH_WORD = re.compile(r"torch(?![A-Za-z0-9._-])", re.IGNORECASE)
_PIP = re.compile(r"(?:.*/)?pip[0-9.]*")
_PYTHON = re.compile(r"(?:.*/)?python[0-9.]*")
_PIP_VALUE_OPTIONS = {  # pip install options that take a value (so that value is not a requirement)
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "-r",
    "--requirement",
    "-c",
    "--constraint",
    "-t",
    "--target",
    "--prefix",
    "--root",
    "--platform",
    "--python-version",
    "--implementation",
    "--abi",
    "--src",
    "-e",
    "--editable",
    "--trusted-host",
    "--cache-dir",
    "--upgrade-strategy",
    "--log",
    "--proxy",
    "--retries",
    "--timeout",
    "--exists-action",
    "--cert",
    "--client-cert",
    "--progress-bar",
    "--python",
    "--index-strategy",
    "--extra-index",
    "--index",
    "--default-index",
}


@dataclass(frozen=True)
class DockerfileFacts:
    path: str
    base: ImageReference | None  # the external image the last stage builds on; None: scratch or unknown
    base_text: str  # the FROM value as written ("${BASE}", "scratch")
    base_source: str  # "Dockerfile:3"
    env: dict[str, str]  # ENV set by the chain of the last stage, in order
    env_sources: dict[str, str]  # KEY -> "Dockerfile:7"
    torch: TorchTarget | None  # the last torch pip-installed in the chain
    platform: str | None = None  # FROM --platform=..., when literal
    unknown: tuple[str, ...] = ()  # what could not be read (the base behind an unset ARG)
    notes: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()  # the chain, base first: "nvidia/cuda:12.4.1-devel-ubuntu22.04 AS build"
    engine: EngineTarget | None = None  # the last inference engine (vllm, sglang) pip-installed in the chain


@dataclass
class _Stage:
    name: str | None
    base: ImageReference | None
    base_text: str
    base_source: str
    platform: str | None
    args: dict[str, str | None] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    env_sources: dict[str, str] = field(default_factory=dict)
    torch: TorchTarget | None = None
    unknown: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    chain: list[str] = field(default_factory=list)
    engine: EngineTarget | None = None
    workdir: str = "/"
    copies: list[ContextCopy] = field(default_factory=list)  # COPY/ADD from the build context, in order


# --- reading the file ----------------------------------------------------------------------------


def _instructions(text: str, origin: str) -> list[tuple[int, str, str]]:
    """(line number, INSTRUCTION, arguments) with directives, comments, continuations and heredocs handled."""
    lines = text.splitlines()
    escape, i = "\\", 0
    while i < len(lines) and (directive := _DIRECTIVE.match(lines[i].strip())):  # only at the very top
        if directive[1].lower() == "escape":
            if directive[2] not in ("\\", "`"):
                raise UsageError(f"{origin}:{i + 1}: escape directive must be \\ or `, not {show(directive[2])}")
            escape = directive[2]
        i += 1
    result = []
    while i < len(lines):
        start = i + 1
        parts: list[str] = []
        while i < len(lines):
            line = lines[i]
            i += 1
            if line.strip().startswith("#") or (parts and not line.strip()):
                continue  # comment lines vanish, even inside a continuation
            stripped = line.rstrip()
            if stripped.endswith(escape):
                parts.append(stripped[:-1])
                continue
            parts.append(line)
            break
        logical = " ".join(p.strip() for p in parts).strip()
        if not logical:
            continue
        word, _, args = logical.partition(" ")
        instruction = word.upper()
        if not re.fullmatch(r"[A-Z]+", instruction):
            raise UsageError(f"{origin}:{start}: not a Dockerfile instruction: {show(word)}")
        for strip_tabs, _, delimiter in _HEREDOC.findall(args) if instruction in ("RUN", "COPY", "ADD") else ():
            body = []
            while i < len(lines) and (lines[i].lstrip("\t") if strip_tabs else lines[i]) != delimiter:
                body.append(lines[i])
                i += 1
            i += 1
            args += "\n" + "\n".join(body)
        result.append((start, instruction, args.strip()))
    return result


class _Budget:
    """What ``${VAR}`` expansion may still produce in one Dockerfile: an ARG that doubles itself
    (``ARG A=${A}${A}``) grows without bound, so expansion stops with one line at a fixed size."""

    def __init__(self, path: str, limit: int = MAX_DOCKERFILE_EXPANSION_BYTES) -> None:
        self.path, self.limit, self.used, self.where = path, limit, 0, path
        self.inherited = 0  # entries copied by FROM <earlier stage>: a chain of stages copies them each time

    def inherit(self, entries: int) -> None:
        self.inherited += entries
        if self.inherited > MAX_DOCKERFILE_INHERITED:
            raise UsageError(
                f"{self.where}: stages built on stages copy more than {MAX_DOCKERFILE_INHERITED:,} "
                "ENV values in all: not a Dockerfile this tool reads"
            )

    def spend(self, size: int) -> None:
        self.used += size
        if self.used > self.limit:
            raise UsageError(
                f"{self.where}: variable expansion grows past {self.limit // (1024 * 1024)} MiB "
                "(an ARG or ENV that repeats itself?): not a Dockerfile this tool reads"
            )


Variables = Mapping[str, "str | None"]


def _expand(text: str, variables: Variables, missing: set[str] | None = None, budget: _Budget | None = None) -> str:
    """Docker's variable substitution; single-quoted text is left alone. ``budget`` bounds the
    text all substitutions of a file produce (None: a fresh budget for this call)."""
    budget = budget if budget is not None else _Budget("Dockerfile")

    def value(match: re.Match[str]) -> str:
        name = match["braced"] or match["bare"]
        current = variables.get(name)
        op = match["op"]
        if op in (":-", "-"):
            result = (
                current
                if current or (op == "-" and current is not None)
                else _expand(match["word"], variables, missing, budget)
            )
        elif op in (":+", "+"):
            used = current or (op == "+" and current is not None)
            result = _expand(match["word"], variables, missing, budget) if used else ""
        else:
            if current is None and missing is not None:
                missing.add(name)
            result = current or ""
        budget.spend(len(result))
        return result

    if "$" not in text:
        return text
    pieces = re.split(r"('[^']*')", text)  # odd pieces are single-quoted
    return "".join(p if k % 2 else _VARIABLE.sub(value, p) for k, p in enumerate(pieces))


def _unquote_piece(piece: re.Match[str]) -> str:
    text = piece[0]
    if text[0] == "'":
        return text[1:-1]
    if text[0] == '"':
        return _DOUBLE_QUOTED_ESCAPE.sub(r"\1", text[1:-1])
    return text[1] if text[0] == "\\" else text


def _shell_split(text: str) -> list[str]:
    """``shlex.split(text)`` (POSIX mode, no comments) in linear time, the scanning done by the
    regex engine; ValueError on an unclosed quote or a trailing backslash, as shlex."""
    if "'" not in text and '"' not in text and "\\" not in text:
        return _PLAIN_WORD.findall(text)
    if _SHELL_WORD.sub("", text):  # a character no word or space takes: an unclosed quote
        raise ValueError("no closing quotation or escaped character")
    return [_unquote_word(word) for word in _SHELL_WORD.findall(text)]


def _unquote_word(word: str) -> str:
    if "'" not in word and '"' not in word and "\\" not in word:
        return word
    first = word[0]
    if first in "'\"" and word[-1] == first and word.count(first) == 2 and (first == "'" or "\\" not in word):
        return word[1:-1]  # the common 'text' or "text": no per-piece work
    return _SHELL_PIECE.sub(_unquote_piece, word)


def _words(text: str) -> list[str]:
    """Words of an instruction's arguments, quotes removed (after expansion). Unbalanced quotes
    fall back to plain splitting: the build would fail there, not this reading."""
    try:
        return _shell_split(text)
    except ValueError:
        return text.split()


def _key_values(args: str, variables: Variables, origin: str, budget: _Budget) -> list[tuple[str, str | None]]:
    """``ENV``/``ARG`` pairs: ``K=V K2="v 2"``, or the old ``K V`` form (ENV only)."""
    words = _words(_expand(args, variables, budget=budget))
    if not words:
        raise UsageError(f"{origin}: needs at least one name")
    if "=" not in words[0]:
        name, _, rest = args.partition(" ")
        value = " ".join(_words(_expand(rest.strip(), variables, budget=budget))) if rest.strip() else None
        return [(name, value)]
    pairs: list[tuple[str, str | None]] = []
    for word in words:
        name, sep, value = word.partition("=")
        if not _NAME.fullmatch(name):
            raise UsageError(f"{origin}: {show(name)} is not a variable name")
        pairs.append((name, value if sep else None))
    return pairs


# --- torch installs in RUN ------------------------------------------------------------------------


def _pip_install_args(tokens: list[str]) -> list[str] | None:
    """The arguments after ``pip install`` / ``python -m pip install`` / ``uv pip install``, or None."""
    for k, token in enumerate(tokens):  # slices only where pip is named: linear in the words
        if _PIP.fullmatch(token):
            start = k + 1
        elif token == "uv" and tokens[k + 1 : k + 2] == ["pip"]:
            start = k + 2
        elif _PYTHON.fullmatch(token) and tokens[k + 1 : k + 3] == ["-m", "pip"]:
            start = k + 3
        else:
            continue
        if tokens[start : start + 1] == ["install"]:
            return tokens[start + 1 :]
    return None


def _torch_installs(command: str, source: str, files: list[tuple[str, Indexes]]) -> list[TorchTarget]:
    """torch targets installed by one RUN (shell form, or exec form as JSON); the requirements
    files it installs (``-r FILE``, with the command's index options) are added to ``files``."""
    commands: list[list[str]] = []
    if command.startswith("["):
        try:
            exec_form = json.loads(command)
            commands = [exec_form] if isinstance(exec_form, list) and all(isinstance(w, str) for w in exec_form) else []
        except ValueError:
            commands = []
        except RecursionError:
            raise UsageError(f"{source}: RUN [...] nested too deeply: not an exec-form command") from None
    if not commands:
        commands = [_words(part) for part in _COMMAND_SEPARATORS.split(command)]
    found = []
    for tokens in commands:
        args = _pip_install_args(tokens)
        if args is None:
            continue
        indexes, following = Indexes(), 0
        lines: list[TorchLine] = []
        named: list[str] = []
        # Only options and words that may name torch matter: found in one pass (a RUN can hold 500,000 words).
        for k in [k for k, word in enumerate(args) if word[:1] == "-" or word[:5].lower() == "torch"]:
            if k < following:
                continue  # the value of the option before
            word, following = args[k], k + 1
            if not word.startswith("-") and _TORCH_WORD.match(word):
                requirement = parse_requirement(word)
                if requirement is not None and names_torch(requirement):
                    lines.append(torch_line(requirement, source))
                continue
            option, eq, inline = word.partition("=") if word.startswith("--") else (word, "", "")
            if option in _PIP_VALUE_OPTIONS:
                value = inline if eq else (args[k + 1] if k + 1 < len(args) else "")
                following = k + 1 if eq else k + 2
                if option in ("-i", "--index-url", "--index", "--default-index"):
                    indexes.primary = value
                elif option in ("--extra-index-url", "-f", "--find-links", "--extra-index"):
                    indexes.extra.append(value)
                elif option in ("-r", "--requirement"):
                    named.append(value)
        files += [(value, indexes) for value in named]
        found += [resolve_target(line, indexes) for line in lines]
    return found


# An engine requirement or wheel: the name, or a path/URL ending in an engine wheel. Searched in
# linear time: a part of a RUN is first looked at for the bare names only.
_ENGINE_NAMES = re.compile(r"vllm|sglang", re.IGNORECASE)
_ENGINE_WORD = re.compile(r"(?:vllm|sglang)(?![A-Za-z0-9_-])", re.IGNORECASE)  # vllm, vllm==X, sglang[all]
_ENGINE_WHEEL = re.compile(r"(?:vllm|sglang)-\d", re.IGNORECASE)  # the file name of an engine wheel
_UNPINNED_IN_BUILD = "the default wheel at build time (the newest release then)"


def _engine_installs(command: str, source: str) -> list[EngineTarget]:
    """Inference engines (vllm, sglang) installed by one RUN: pinned, unpinned or a wheel URL."""
    found = []
    for part in _COMMAND_SEPARATORS.split(command):
        args = _pip_install_args(_words(part)) if _ENGINE_NAMES.search(part) else None
        following = 0
        for k, word in enumerate(args or []):
            if k < following:
                continue
            if word.startswith("-"):
                option, eq, _ = word.partition("=")
                following = k + 2 if option in _PIP_VALUE_OPTIONS and not eq else k + 1
                continue
            wheel = word.lower().endswith(".whl") and _ENGINE_WHEEL.match(word.rsplit("/", 1)[-1])
            if not (_ENGINE_WORD.match(word) or wheel):
                continue
            requirement = parse_requirement(word)
            engine = engine_requirement(requirement, source, _UNPINNED_IN_BUILD) if requirement else None
            engine = engine or engine_wheel(word, source)
            if engine is not None:
                found.append(engine)
    return found


# --- requirements files from the build context ---------------------------------------------------


class _ContextRequirements:
    """Reads the requirements files RUNs install (``pip install -r``) from the build context."""

    def __init__(self, context: Path | None) -> None:
        self.context = context
        self.looked_up = 0

    def read(
        self, stage: _Stage, file: str, indexes: Indexes, where: str
    ) -> tuple[list[TorchTarget], list[EngineTarget]]:
        said = f"{where}: pip install -r {show(file)}"
        if self.looked_up >= MAX_DOCKERFILE_REQUIREMENTS:  # each look-up walks the stage's COPYs
            stage.notes.append(f"{said}: more than {MAX_DOCKERFILE_REQUIREMENTS} files, not read")
            return [], []
        self.looked_up += 1
        found = context_file(stage.copies, image_path(stage.workdir, file), self.context) if self.context else None
        if found is None:
            stage.notes.append(f"{said}: not found in the build context through this stage's COPY/ADD")
            return [], []
        text = read_requirements_text(str(found), f"{said}, {show(str(found))} in the build context", regular_only=True)
        return parse_pip_requirements(str(found), text, indexes), parse_pip_engines(str(found), text)


# --- stages -------------------------------------------------------------------------------------


def parse_dockerfile(path: str, platform: str = "linux/amd64") -> DockerfileFacts:
    """The last stage of the Dockerfile at ``path``; ``UsageError`` (one line) when it is not one."""
    data = read_input(path, "--dockerfile", MAX_DOCKERFILE_BYTES)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"--dockerfile {path}: not a text file (not UTF-8)") from None
    if "\x00" in text:
        raise UsageError(f"--dockerfile {path}: not a text file (NUL bytes)")
    context = None if path == "-" else Path(path).parent  # docker build . beside the Dockerfile; stdin has none
    return dockerfile_facts(text, path, platform, context)


def _automatic_args(platform: str) -> dict[str, str | None]:
    """BuildKit's predefined platform ARGs (``FROM base-${TARGETARCH}``), for a build on and for ``platform``."""
    os_name, _, rest = platform.partition("/")
    arch, _, variant = rest.partition("/")
    values = {"PLATFORM": platform, "OS": os_name, "ARCH": arch, "VARIANT": variant}
    return {f"{side}{key}": value for side in ("TARGET", "BUILD") for key, value in values.items()}


def dockerfile_facts(
    text: str, path: str = "Dockerfile", platform: str = "linux/amd64", context: Path | None = None
) -> DockerfileFacts:
    """The last stage of a Dockerfile's text; ``platform`` is what TARGETARCH & co. stand for;
    ``context`` is the build context ``pip install -r FILE`` reads from (None: not read)."""
    global_args = _automatic_args(platform)
    reader = _ContextRequirements(context)
    stages: list[_Stage] = []
    named: dict[str, _Stage] = {}  # the latest stage of each name: what FROM NAME continues
    budget = _Budget(path)
    for number, instruction, args in _instructions(text, path):
        where = budget.where = f"{path}:{number}"
        # ENV wins over ARG; a ChainMap looks both up without copying them per instruction.
        scope: Variables = (
            ChainMap(cast("dict[str, str | None]", stages[-1].env), stages[-1].args) if stages else global_args
        )
        if instruction == "FROM":
            if len(stages) >= MAX_DOCKERFILE_STAGES:
                raise UsageError(
                    f"{where}: more than {MAX_DOCKERFILE_STAGES} FROM stages: not a Dockerfile this tool reads"
                )
            stages.append(_from(args, where, global_args, named, budget))
            if stages[-1].name:
                named[stages[-1].name] = stages[-1]
        elif not stages:
            if instruction != "ARG":
                raise UsageError(f"{where}: {instruction} before the first FROM (only ARG may come first)")
            global_args.update(_key_values(args, global_args, where, budget))
        elif instruction == "ARG":
            stage = stages[-1]
            for name, value in _key_values(args, scope, where, budget):
                stage.args[name] = value if value is not None else global_args.get(name, stage.args.get(name))
        elif instruction == "ENV":
            stage = stages[-1]
            for name, value in _key_values(args, scope, where, budget):
                if value is None:
                    raise UsageError(f"{where}: ENV {show(name)} has no value")
                stage.env[name], stage.env_sources[name] = value, where
        elif instruction == "WORKDIR":
            stages[-1].workdir = image_path(stages[-1].workdir, _expand(args, scope, budget=budget).strip())
        elif instruction in ("COPY", "ADD"):
            stage = stages[-1]
            copy = context_copy(_words(_expand(args, scope, budget=budget)), stage.workdir)
            stage.copies += [copy] if copy else []
        elif instruction == "RUN":
            stage = stages[-1]
            command = _expand(args, scope, budget=budget)
            files: list[tuple[str, Indexes]] = []
            installs = _torch_installs(command, where, files)
            engines = _engine_installs(command, where)
            for file, indexes in files:  # the RUN's own pins come after its files: pip takes both
                torch, engine = reader.read(stage, file, indexes, where)
                installs[:0], engines[:0] = torch, engine
            stage.torch = installs[-1] if installs else stage.torch
            stage.engine = engines[-1] if engines else stage.engine
    if not stages:
        raise UsageError(f"--dockerfile {path}: no FROM instruction: not a Dockerfile")
    last = stages[-1]
    return DockerfileFacts(
        path=path,
        base=last.base,
        base_text=last.base_text,
        base_source=last.base_source,
        env=dict(last.env),
        env_sources=dict(last.env_sources),
        torch=last.torch,
        platform=last.platform,
        unknown=tuple(dict.fromkeys(last.unknown)),
        notes=tuple(dict.fromkeys(last.notes)),
        stages=tuple(last.chain),
        engine=last.engine,
    )


def _from(
    args: str, where: str, global_args: dict[str, str | None], named: dict[str, _Stage], budget: _Budget
) -> _Stage:
    words = _words(args)
    platform = None
    while words and words[0].startswith("--"):
        option = words.pop(0)
        if option.startswith("--platform="):
            platform = option.partition("=")[2]
    if len(words) not in (1, 3) or (len(words) == 3 and words[1].lower() != "as"):
        raise UsageError(f"{where}: FROM needs IMAGE [AS NAME], got {show(args)}")
    name = words[2].lower() if len(words) == 3 else None
    missing: set[str] = set()
    image = _expand(words[0], global_args, missing, budget)
    platform = None if platform is None or "$" in platform else platform
    parent = named.get(image.lower())
    if parent is not None:  # FROM an earlier stage: continue its environment and installs
        budget.inherit(
            len(parent.env) + len(parent.chain) + len(parent.notes) + len(parent.unknown) + len(parent.copies)
        )
        return replace(
            parent,
            name=name,
            args={},
            env=dict(parent.env),
            env_sources=dict(parent.env_sources),
            unknown=list(parent.unknown),
            notes=list(parent.notes),
            copies=list(parent.copies),
            chain=parent.chain + [f"{image} AS {name}" if name else image],
        )
    stage = _Stage(name, None, words[0], where, platform, chain=[f"{image} AS {name}" if name else image])
    if missing or not image:
        names = ", ".join(sorted(missing)) or "?"
        stage.unknown.append(
            f"the base image of {where} ({words[0]}) needs build argument(s) {names}, which have no default"
        )
    elif image.lower() != "scratch":
        stage.base = parse_reference(image, f"{where}: FROM")
    return stage
