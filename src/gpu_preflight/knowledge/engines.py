"""engines.toml: inference engines (vLLM, SGLang, Ollama, llama.cpp), the rule each release is
judged by (torch pin, CUDA and kernel architectures per build, floors), and the lookup of a
release: an exact row, or the row before it marked unconfirmed."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from gpu_preflight.core.versions import Version
from gpu_preflight.knowledge.arch_list import ArchList, ArchListError
from gpu_preflight.knowledge.files import DataFiles
from gpu_preflight.knowledge.provenance import Provenance
from gpu_preflight.knowledge.row import KnowledgeError, Row

ENGINES_FILE = "engines.toml"
SELECTIONS = ("install", "runtime")
ARCH_FORMATS = ("torch", "cmake")
# A release as engines spell it: 0.11.1, 0.10.1.1, v0.20.0, 0.5.1.post3, b7000 (llama.cpp builds).
_RELEASE = re.compile(r"[vb]?(?P<version>\d+(?:\.\d+){0,3})(?:[.-]?(?:post|rc|a|b|dev)\d*)*", re.IGNORECASE)
_CMAKE_ARCH = re.compile(r"(?P<arch>\d+[af]?)(?:-(?P<kind>real|virtual))?", re.IGNORECASE)


# The value objects of this table live here, as host_compilers.py and driver_install.py keep
# theirs: a run without engine targets never builds these classes.
@dataclass(frozen=True)
class Engine:
    """An inference engine as a target (engines.toml ``[engine.NAME]``)."""

    key: str  # "vllm", "sglang", "ollama", "llama.cpp"
    name: str  # "vLLM"
    package: str  # the PyPI name; "" for engines that are not pip packages
    images: tuple[str, ...]  # repositories whose tags are its releases ("docker.io/vllm/vllm-openai")
    selection: str  # "install": the installed variant runs | "runtime": the build that works here runs
    provenance: Provenance


@dataclass(frozen=True)
class EngineBuild:
    """One binary build of an engine release: its CUDA runtime and its own kernels' architectures."""

    variant: str  # "cu129", "cuda_v13", "cuda-12.4"
    cuda: Version
    archs: ArchList | None  # None: not in our sources (then judged by what the CUDA can target)
    default: bool  # what a plain install (or the engine itself, first) picks
    install: str  # the command installing this build; "{version}" stands for the release
    provenance: Provenance

    def install_command(self, version: str) -> str:
        return self.install.replace("{version}", version)


@dataclass(frozen=True)
class EngineRelease:
    """The rule one engine release is judged by: torch pin, builds, floors.

    ``version`` is the release asked for; ``rule_version`` the first release of the row that
    describes it. ``exact`` is False when no source ties the asked release to that row (a release
    between rows or newer than the newest): the row's provenance then says "unconfirmed".
    """

    engine: Engine
    version: str
    rule_version: str
    torch: str | None
    builds: tuple[EngineBuild, ...]  # the default build first
    min_cc: Version | None
    min_driver: Version | None
    low_cc_below: Version | None  # GPUs below this CC need ``low_cc_min_driver``
    low_cc_min_driver: Version | None
    exact: bool
    provenance: Provenance
    last: Version | None = None  # the last release line the row's sources tie to it (0.19 = 0.19.x)

    @property
    def default_build(self) -> EngineBuild:
        return next((b for b in self.builds if b.default), self.builds[0])


@dataclass(frozen=True)
class _Rule:
    """One [[release]] row with its [[build]] rows."""

    engine: Engine
    version: Version
    last: Version | None  # major.minor of the last release line the sources tie to this rule
    torch: str | None
    builds: tuple[EngineBuild, ...]
    min_cc: Version | None
    min_driver: Version | None
    low_cc_below: Version | None
    low_cc_min_driver: Version | None
    provenance: Provenance

    def covers(self, version: Version) -> bool:
        return self.last is not None and version.truncate(len(self.last.parts)) <= self.last


@dataclass(frozen=True)
class EngineTables:
    engines: dict[str, Engine]
    rules: tuple[_Rule, ...]  # per engine, oldest first

    def releases(self) -> tuple[EngineRelease, ...]:
        """Every row, as the release it starts (for ``preflight db``)."""
        return tuple(_release(rule, str(rule.version), exact=True) for rule in self.rules)


def release_version(text: str) -> Version | None:
    """``v0.20.0`` -> 0.20.0, ``0.5.1.post3`` -> 0.5.1, ``b7000`` -> 7000; None when not a release."""
    m = _RELEASE.fullmatch(text.strip())
    return Version.parse(m["version"]) if m else None


def cmake_arch_list(spec: str) -> ArchList:
    """CMAKE_CUDA_ARCHITECTURES (``50-virtual;86-real;90``) as an ArchList: ``NN-real`` is SASS,
    ``NN-virtual`` PTX, a bare ``NN`` both (CMake's documented meaning)."""
    names = []
    for token in re.split(r"[;,\s]+", spec.strip()):
        m = _CMAKE_ARCH.fullmatch(token)
        if not m:
            raise ArchListError(f"not a CMake CUDA architecture: {token!r}")
        kind = (m["kind"] or "").lower()
        if kind in ("", "real"):
            names.append(f"sm_{m['arch']}")
        if kind in ("", "virtual"):
            names.append(f"compute_{m['arch'].rstrip('afAF')}")
    return ArchList.parse(names)


def read_engine_tables(files: DataFiles) -> EngineTables:
    engines = {key: _engine(key, row) for key, row in files.named_rows(ENGINES_FILE, "engine").items()}
    builds = _read_builds(files)
    rules = []
    for row in files.rows(ENGINES_FILE, "release"):
        key = row.text("engine")
        engine = engines.get(key)
        if engine is None:
            raise row.error(f"engine {key!r} has no [engine.{key}] table")
        version = row.version("version")
        found = builds.pop((key, version.parts), ())
        if not found:
            raise row.error(f"{key} {version} has no [[build]] row")
        rules.append(
            _Rule(
                engine=engine,
                version=version,
                last=row.version("last", None),
                torch=row.text("torch", None),
                builds=tuple(sorted(found, key=lambda b: not b.default)),
                min_cc=row.version("min_cc", None),
                min_driver=row.version("min_driver", None),
                low_cc_below=row.version("low_cc_below", None),
                low_cc_min_driver=row.version("low_cc_min_driver", None),
                provenance=row.provenance(),
            )
        )
        row.finish()
    if builds:
        (engine_key, parts), _ = next(iter(builds.items()))
        raise KnowledgeError(
            f"{files.label(ENGINES_FILE)}: [[build]] rows for {engine_key} {Version(parts)} have no [[release]] row"
        )
    rules.sort(key=lambda r: (r.engine.key, r.version))
    return EngineTables(engines, tuple(rules))


def _engine(key: str, row: Row) -> Engine:
    selection = row.text("selection")
    if selection not in SELECTIONS:
        raise row.error(f"selection {selection!r} is not one of {', '.join(SELECTIONS)}")
    engine = Engine(
        key=key,
        name=row.text("name"),
        package=row.string("package", ""),
        images=row.texts("images", ()),
        selection=selection,
        provenance=row.provenance(),
    )
    row.finish()
    return engine


def _read_builds(files: DataFiles) -> dict[tuple[str, tuple[int, ...]], list[EngineBuild]]:
    result: dict[tuple[str, tuple[int, ...]], list[EngineBuild]] = {}
    for row in files.rows(ENGINES_FILE, "build"):
        key = (row.text("engine"), row.version("release").parts)
        archs_text = row.text("archs", None)
        arch_format = row.text("arch_format", "torch")
        if arch_format not in ARCH_FORMATS:
            raise row.error(f"arch_format {arch_format!r} is not one of {', '.join(ARCH_FORMATS)}")
        try:
            archs = None
            if archs_text is not None:
                archs = cmake_arch_list(archs_text) if arch_format == "cmake" else ArchList.parse(archs_text)
        except ArchListError as exc:
            raise row.error(str(exc)) from None
        build = EngineBuild(
            variant=row.text("variant"),
            cuda=row.version("cuda"),
            archs=archs,
            default=row.boolean("default"),
            install=row.text("install"),
            provenance=row.provenance(),
        )
        row.finish()
        if any(b.variant == build.variant for b in result.get(key, [])):
            raise row.error(f"variant {build.variant!r} listed twice for this release")
        result.setdefault(key, []).append(build)
    for (engine, parts), builds in result.items():
        if sum(b.default for b in builds) != 1:
            raise KnowledgeError(
                f"{files.label(ENGINES_FILE)}: {engine} {Version(parts)} needs exactly one default [[build]]"
            )
    return result


def find_engine(tables: EngineTables, name: str) -> Engine | None:
    """An engine by key, display name or PyPI name (case-insensitive; ``llama-cpp`` = llama.cpp)."""
    wanted = name.strip().lower().replace("-", ".").replace("_", ".")
    for engine in tables.engines.values():
        names = {engine.key, engine.name.lower(), engine.package.lower().replace("-", ".")}
        if wanted in names:
            return engine
    return None


def engine_for_image(tables: EngineTables, repository: str) -> Engine | None:
    """The engine whose releases an image repository's tags are (``docker.io/vllm/vllm-openai``)."""
    return next((e for e in tables.engines.values() if repository in e.images), None)


def find_engine_release(tables: EngineTables, engine: str, version: str | None) -> EngineRelease | None:
    """The rule ``engine`` ``version`` is judged by. ``version`` None: the newest known release
    (what an unpinned install gets today, unconfirmed). A release no row ties to a rule is judged
    by the row before it (or the oldest, for releases older than every row) and marked unconfirmed;
    None for an unknown engine or a version that is not a release number."""
    found = find_engine(tables, engine)
    if found is None:
        return None
    rules = [r for r in tables.rules if r.engine is found]
    if not rules:
        return None
    if version is None:
        newest = rules[-1]
        return _release(newest, str(newest.version), exact=False, why="no release pinned: the newest rule known")
    parsed = release_version(version)
    if parsed is None:
        return None
    earlier = [r for r in rules if r.version <= parsed]
    rule = earlier[-1] if earlier else rules[0]
    if earlier and rule.covers(parsed):
        return _release(rule, version, exact=True)
    why = (
        f"{found.name} {version} is older than every release in the knowledge base"
        if not earlier
        else f"no source read ties {found.name} {version} to the rule of {rule.version}"
        + (f" (known through {rule.last}.x)" if rule.last else "")
    )
    return _release(rule, version, exact=False, why=why)


def _release(rule: _Rule, version: str, exact: bool, why: str = "") -> EngineRelease:
    provenance = rule.provenance
    if not exact:
        provenance = replace(provenance, status="unconfirmed", note="; ".join(filter(None, [why, provenance.note])))
    return EngineRelease(
        engine=rule.engine,
        version=version,
        rule_version=str(rule.version),
        torch=rule.torch,
        builds=rule.builds,
        min_cc=rule.min_cc,
        min_driver=rule.min_driver,
        low_cc_below=rule.low_cc_below,
        low_cc_min_driver=rule.low_cc_min_driver,
        exact=exact,
        provenance=provenance,
        last=rule.last,
    )
