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

Not followed: ``COPY --from`` (it copies files, not the environment), ``--build-arg`` values,
``pip install -r FILE`` (the file is in the build context; named in a note), conda installs.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field, replace

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.readers import read_input
from gpu_preflight.core.text import show
from gpu_preflight.images.reference import ImageReference, parse_reference
from gpu_preflight.targets.index import Indexes, TorchLine, names_torch, parse_requirement, resolve_target, torch_line
from gpu_preflight.targets.model import TorchTarget

MAX_DOCKERFILE_BYTES = 1024 * 1024
_DIRECTIVE = re.compile(r"#\s*([A-Za-z]+)\s*=\s*(\S+)\s*$")
_HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
_VARIABLE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-+])(?P<word>[^}]*))?\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_COMMAND_SEPARATORS = re.compile(r"&&|\|\||[;|\n]")
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


def _expand(text: str, variables: dict[str, str | None], missing: set[str] | None = None) -> str:
    """Docker's variable substitution; single-quoted text is left alone."""

    def value(match: re.Match[str]) -> str:
        name = match["braced"] or match["bare"]
        current = variables.get(name)
        op = match["op"]
        if op in (":-", "-"):
            return (
                current
                if current or (op == "-" and current is not None)
                else _expand(match["word"], variables, missing)
            )
        if op in (":+", "+"):
            return _expand(match["word"], variables, missing) if current or (op == "+" and current is not None) else ""
        if current is None and missing is not None:
            missing.add(name)
        return current or ""

    pieces = re.split(r"('[^']*')", text)  # odd pieces are single-quoted
    return "".join(p if k % 2 else _VARIABLE.sub(value, p) for k, p in enumerate(pieces))


def _words(text: str) -> list[str]:
    """Words of an instruction's arguments, quotes removed (after expansion). Unbalanced quotes
    fall back to plain splitting: the build would fail there, not this reading."""
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _key_values(args: str, variables: dict[str, str | None], origin: str) -> list[tuple[str, str | None]]:
    """``ENV``/``ARG`` pairs: ``K=V K2="v 2"``, or the old ``K V`` form (ENV only)."""
    words = _words(_expand(args, variables))
    if not words:
        raise UsageError(f"{origin}: needs at least one name")
    if "=" not in words[0]:
        name, _, rest = args.partition(" ")
        value = " ".join(_words(_expand(rest.strip(), variables))) if rest.strip() else None
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
    for k, token in enumerate(tokens):
        rest = tokens[k + 1 :]
        if _PIP.fullmatch(token) or token == "uv" and rest[:1] == ["pip"]:
            rest = rest[1:] if token == "uv" else rest
        elif _PYTHON.fullmatch(token) and rest[:2] == ["-m", "pip"]:
            rest = rest[2:]
        else:
            continue
        if rest[:1] == ["install"]:
            return rest[1:]
    return None


def _torch_installs(command: str, source: str, notes: list[str]) -> list[TorchTarget]:
    """torch targets installed by one RUN (shell form, or exec form as JSON)."""
    commands: list[list[str]] = []
    if command.startswith("["):
        try:
            exec_form = json.loads(command)
            commands = [exec_form] if isinstance(exec_form, list) and all(isinstance(w, str) for w in exec_form) else []
        except ValueError:
            commands = []
    if not commands:
        commands = [_words(part) for part in _COMMAND_SEPARATORS.split(command)]
    found = []
    for tokens in commands:
        args = _pip_install_args(tokens)
        if args is None:
            continue
        indexes, k = Indexes(), 0
        lines: list[TorchLine] = []
        while k < len(args):
            word, k = args[k], k + 1
            option, eq, inline = word.partition("=") if word.startswith("--") else (word, "", "")
            if option in _PIP_VALUE_OPTIONS:
                value = inline if eq else (args[k] if k < len(args) else "")
                k += 0 if eq else 1
                if option in ("-i", "--index-url", "--index", "--default-index"):
                    indexes.primary = value
                elif option in ("--extra-index-url", "-f", "--find-links", "--extra-index"):
                    indexes.extra.append(value)
                elif option in ("-r", "--requirement"):
                    notes.append(f"{source}: pip install -r {value}: that file is in the build context, not read")
            elif not word.startswith("-"):
                requirement = parse_requirement(word)
                if requirement is not None and names_torch(requirement):
                    lines.append(torch_line(requirement, source))
        found += [resolve_target(line, indexes) for line in lines]
    return found


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
    return dockerfile_facts(text, path, platform)


def _automatic_args(platform: str) -> dict[str, str | None]:
    """BuildKit's predefined platform ARGs (``FROM base-${TARGETARCH}``), for a build on and for ``platform``."""
    os_name, _, rest = platform.partition("/")
    arch, _, variant = rest.partition("/")
    values = {"PLATFORM": platform, "OS": os_name, "ARCH": arch, "VARIANT": variant}
    return {f"{side}{key}": value for side in ("TARGET", "BUILD") for key, value in values.items()}


def dockerfile_facts(text: str, path: str = "Dockerfile", platform: str = "linux/amd64") -> DockerfileFacts:
    """The last stage of a Dockerfile's text; ``platform`` is what TARGETARCH & co. stand for."""
    global_args = _automatic_args(platform)
    stages: list[_Stage] = []
    for number, instruction, args in _instructions(text, path):
        where = f"{path}:{number}"
        if instruction == "FROM":
            stages.append(_from(args, where, global_args, stages))
        elif not stages:
            if instruction != "ARG":
                raise UsageError(f"{where}: {instruction} before the first FROM (only ARG may come first)")
            global_args.update(_key_values(args, global_args, where))
        elif instruction == "ARG":
            stage = stages[-1]
            for name, value in _key_values(args, {**stage.args, **stage.env}, where):
                stage.args[name] = value if value is not None else global_args.get(name, stage.args.get(name))
        elif instruction == "ENV":
            stage = stages[-1]
            for name, value in _key_values(args, {**stage.args, **stage.env}, where):
                if value is None:
                    raise UsageError(f"{where}: ENV {show(name)} has no value")
                stage.env[name], stage.env_sources[name] = value, where
        elif instruction == "RUN":
            stage = stages[-1]
            installs = _torch_installs(_expand(args, {**stage.args, **stage.env}), where, stage.notes)
            stage.torch = installs[-1] if installs else stage.torch
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
    )


def _from(args: str, where: str, global_args: dict[str, str | None], stages: list[_Stage]) -> _Stage:
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
    image = _expand(words[0], global_args, missing)
    platform = None if platform is None or "$" in platform else platform
    parent = next((s for s in reversed(stages) if s.name and s.name == image.lower()), None)
    if parent is not None:  # FROM an earlier stage: continue its environment and installs
        return replace(
            parent,
            name=name,
            args={},
            env=dict(parent.env),
            env_sources=dict(parent.env_sources),
            unknown=list(parent.unknown),
            notes=list(parent.notes),
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
