"""The toolchain of extension builds (flash-attn, apex, custom CUDA ops, llama.cpp from source):
the host compiler against the range each nvcc accepts, toolkits that CUDA_HOME / PATH /
LD_LIBRARY_PATH point at differently, and nvcc's CUDA major against the installed torch's.

Judged only on hosts probed with the toolchain probe (documents carrying ``compilers``): an older
snapshot says nothing about its compilers, and nothing is claimed about them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from gpu_preflight.checks.context import CheckContext
from gpu_preflight.checks.fixes import torch_wheel_command
from gpu_preflight.core.findings import Finding, Severity
from gpu_preflight.core.host import Compiler, Framework, Host, Toolkit
from gpu_preflight.core.versions import Version
from gpu_preflight.knowledge.host_compilers import first_release_accepting

# The variables that name nvcc's host compiler: NVCC_CCBIN (nvcc's own), a -ccbin in the NVCC_*
# flags, CUDAHOSTCXX (CMake), CC (torch.utils.cpp_extension passes -ccbin $CC).
NAMING_VARS = ("NVCC_CCBIN", "NVCC_PREPEND_FLAGS", "NVCC_APPEND_FLAGS", "CUDAHOSTCXX", "CC")
# torch.utils.cpp_extension._find_cuda_home: CUDA_HOME or CUDA_PATH, then nvcc on PATH, then
# /usr/local/cuda. Its nvcc is the one an extension build compiles with.
TORCH_CUDA_HOME_ORDER = ("CUDA_HOME", "CUDA_PATH", "PATH", "/usr/local/cuda")
# Who uses which toolkit, for the "several toolkits" warning.
ROLES = (
    ("CUDA_HOME", "torch.utils.cpp_extension and most setup.py builds (flash-attn, apex) compile with its nvcc"),
    ("CUDA_PATH", "torch.utils.cpp_extension reads it when CUDA_HOME is unset"),
    ("PATH", "`nvcc` in a shell, a Makefile or a build script runs this one"),
    ("LD_LIBRARY_PATH", "programs load its libcudart before the system's"),
)
TORCH_MISMATCH = (
    "The detected CUDA version ({nvcc}) mismatches the version that was used to compile PyTorch ({torch}). "
    "Please make sure to use the same CUDA versions."
)
TORCH_MINOR_WARNING = (
    "The detected CUDA version ({nvcc}) has a minor version mismatch with the version that was used to compile "
    "PyTorch ({torch}). Most likely this shouldn't be a problem."
)
# What a broken extension toolchain weighs in doctor's verdict: a warning, like the toolkit checks
# (checks/toolkit.py). Running a model never compiles; a failure here would turn `doctor`'s exit code
# and `serve`'s gate (a failed stack falls back to the CPU) against hosts that only run wheels.
# `doctor --strict` makes it fail, for a CI job that builds extensions.
BUILD_FAILS = Severity.WARN
GCC_ERROR = "#error -- unsupported GNU version! gcc versions later than {max} are not supported!"
CLANG_ERROR = "#error -- unsupported clang version! clang version must be less than {limit} and greater than 3.2"


def check_toolchain(ctx: CheckContext) -> Iterator[Finding]:
    host = ctx.host
    if host.compilers is None or not host.toolkits or ctx.images:
        return  # not probed (older snapshot), nothing to build with, or the image is what runs
    yield from _host_compilers(ctx)
    yield from _toolkit_roles(host)
    yield from _torch_cuda(ctx)


# --- the host compiler -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Candidate:
    kind: str
    version: Version
    compilers: tuple[Compiler, ...]

    @property
    def where(self) -> str:
        return ", ".join(f"{c.path} (via {', '.join(c.found_via)})" for c in self.compilers)


def nvcc_host_compilers(compilers: list[Compiler]) -> list[Compiler]:
    """The compilers a build hands nvcc: those a variable names, else the gcc on PATH (nvcc's
    default on Linux)."""
    named = [c for c in compilers if any(v in NAMING_VARS for v in c.found_via)]
    return named or [c for c in compilers if c.kind == "gcc" and "PATH" in c.found_via]


def _candidates(compilers: list[Compiler]) -> list[_Candidate]:
    """One candidate per (kind, major): gcc and g++ of one release are judged once."""
    groups: dict[tuple[str, int], list[Compiler]] = {}
    versions: dict[tuple[str, int], Version] = {}
    for compiler in compilers:
        version = Version.parse_or_none(compiler.version)
        if version is None or compiler.kind not in ("gcc", "clang"):
            continue
        key = (compiler.kind, version.major)
        groups.setdefault(key, []).append(compiler)
        versions.setdefault(key, version)
    return [_Candidate(kind, versions[(kind, major)], tuple(group)) for (kind, major), group in groups.items()]


def build_toolkits(toolkits: list[Toolkit]) -> list[Toolkit]:
    """The toolkits a build reaches (CUDA_HOME/CUDA_PATH, PATH, /usr/local/cuda), else all with an nvcc."""
    used = [t for t in toolkits if any(v in TORCH_CUDA_HOME_ORDER for v in t.found_via)]
    return used or [t for t in toolkits if t.nvcc]


def toolkit_release(toolkit: Toolkit) -> Version | None:
    """The toolkit's release; nvcc's own version (11.4.48) is not a patch release, so major.minor."""
    version = Version.parse_or_none(toolkit.version)
    if version is None:
        return None
    return version.truncate(2) if toolkit.source == "nvcc" else version


def _host_compilers(ctx: CheckContext) -> Iterator[Finding]:
    compilers = nvcc_host_compilers(ctx.host.compilers or [])
    if not compilers:
        yield Finding(
            code="host-compiler",
            severity=Severity.INFO,
            title="No host compiler found for nvcc (no gcc on PATH, none named by NVCC_CCBIN/CC/CUDAHOSTCXX)",
            detail="nvcc compiles the host half of CUDA code with gcc/g++ (or a -ccbin compiler): extension "
            "builds (flash-attn, apex, llama.cpp from source) need one.",
        )
        return
    unknown_kinds = [c for c in compilers if c.kind not in ("gcc", "clang") or c.version is None]
    for compiler in unknown_kinds:
        what = "version unreadable" if compiler.version is None else compiler.kind
        yield Finding(
            code="host-compiler",
            severity=Severity.INFO,
            title=f"Host compiler {compiler.path}: {what} - not judged against nvcc's GCC/Clang ranges",
            evidence={"compiler": compiler.path, "kind": compiler.kind, "found_via": compiler.found_via},
        )
    for toolkit in build_toolkits(ctx.host.toolkits):
        release = toolkit_release(toolkit)
        if release is None:
            continue
        for candidate in _candidates(compilers):
            yield _judge_compiler(ctx, toolkit, release, candidate)


def _judge_compiler(ctx: CheckContext, toolkit: Toolkit, release: Version, candidate: _Candidate) -> Finding:
    kind, major = candidate.kind, candidate.version.major
    name = "GCC" if kind == "gcc" else "Clang"
    label = f"{name} {candidate.version}"
    nvcc = f"nvcc {release.truncate(2)}"
    evidence: dict[str, object] = {
        "toolkit_version": toolkit.version,
        "toolkit_path": toolkit.path,
        "compiler": kind,
        "compiler_version": str(candidate.version),
        "compilers": [c.path for c in candidate.compilers],
        "found_via": sorted({v for c in candidate.compilers for v in c.found_via}),
    }
    rule = ctx.kb.host_compilers(release)
    low, high = rule.range.bounds(kind) if rule else (None, None)
    if rule is None or high is None:
        return Finding(
            code="host-compiler",
            severity=Severity.INFO,
            title=f"{label} with {nvcc}: the {name} range of CUDA {release.truncate(2)} is not in the knowledge base",
            evidence=evidence,
        )
    evidence.update(
        supported_min=low,
        supported_max=high,
        rule=rule.range.label,
        status=rule.status,
        sources=rule.range.provenance.sources,
    )
    judged_by = "" if rule.covered else f" (unconfirmed: judged by the newest known rule, {rule.range.label})"
    if major > high:
        error = GCC_ERROR.format(max=high) if kind == "gcc" else CLANG_ERROR.format(limit=high + 1)
        evidence["expected_error"] = error
        return Finding(
            code="host-compiler-unsupported",
            severity=BUILD_FAILS,
            cause="host-compiler-unsupported",
            title=f"{label} is newer than {nvcc} accepts ({name} <= {high}): CUDA extension builds stop",
            detail=f"{nvcc} at {toolkit.path} accepts {name} up to {high}{judged_by}; {candidate.where} is {major}. "
            f'nvcc\'s crt/host_config.h stops the build: "{error}" (its -allow-unsupported-compiler skips the '
            "check at your own risk: the headers may not parse).",
            evidence=evidence,
            fix=_compiler_fixes(ctx, kind, major, high),
        )
    if low is not None and major < low:
        return Finding(
            code="host-compiler-unsupported",
            severity=Severity.WARN,
            cause="host-compiler-unsupported",
            title=f"{label} is older than {nvcc} supports ({name} >= {low})",
            detail=f"NVIDIA supports {name} {low} to {high} with {nvcc}{judged_by}; torch.utils.cpp_extension "
            f"refuses an older one for a torch extension build. Found: {candidate.where}.",
            evidence=evidence,
            fix=[
                f"Install {name} {low} or newer (at most {high}) and pass it to nvcc with -ccbin (or NVCC_CCBIN / CC)."
            ],
        )
    return Finding(
        code="host-compiler",
        severity=Severity.PASS,
        title=f"{label} is within what {nvcc} accepts ({name} {low or '?'} to {high}){judged_by}",
        evidence=evidence,
    )


def _compiler_fixes(ctx: CheckContext, kind: str, major: int, high: int) -> list[str]:
    if kind == "gcc":
        fixes = [
            f"Install GCC {high} beside GCC {major} (Debian/Ubuntu: sudo apt install gcc-{high} g++-{high}) "
            f"and hand it to nvcc: export NVCC_CCBIN=g++-{high}; for torch extensions (flash-attn, apex) "
            f"export CC=gcc-{high} CXX=g++-{high} (torch passes -ccbin $CC); for CMake (llama.cpp) "
            f"-DCMAKE_CUDA_HOST_COMPILER=g++-{high}; "
            f"by hand: nvcc -ccbin g++-{high}."
        ]
    else:
        fixes = [
            f"Install Clang {high} and hand it to nvcc: nvcc -ccbin clang++-{high} "
            f"(or export NVCC_CCBIN=clang++-{high}; CMake: -DCMAKE_CUDA_HOST_COMPILER=clang++-{high})."
        ]
    newer = first_release_accepting(ctx.kb.host_compiler_ranges, kind, major)
    if newer is not None:
        fixes.append(
            f"Or build with a newer CUDA toolkit: {newer.label} and later accept {'GCC' if kind == 'gcc' else 'Clang'} "
            f"{major} (a torch extension also needs torch built for the same CUDA major)."
        )
    return fixes


# --- several toolkits ----------------------------------------------------------------------------


def _toolkit_roles(host: Host) -> Iterator[Finding]:
    """CUDA_HOME, PATH and LD_LIBRARY_PATH pointing at different toolkits."""
    assigned = [(var, why, t) for var, why in ROLES for t in host.toolkits if var in t.found_via]
    distinct = {id(t): t for _, _, t in assigned}
    if len(distinct) < 2:
        return
    lines = [f"{var} -> CUDA {t.version} at {t.path}: {why}" for var, why, t in assigned]
    target = _preferred_toolkit(host, list(distinct.values()))
    root = target.path or ""
    yield Finding(
        code="toolkit-env-mismatch",
        severity=Severity.WARN,
        cause="toolchain-mismatch",
        title="CUDA_HOME, PATH and LD_LIBRARY_PATH point at different CUDA toolkits: "
        + ", ".join(sorted({str(t.version) for t in distinct.values()})),
        detail="Each tool uses a different one: " + "; ".join(lines) + ". An extension compiled with one and "
        "loaded against another fails to build or to load.",
        evidence={var: {"version": t.version, "path": t.path} for var, _, t in assigned},
        fix=[
            f"Point all three at one toolkit (CUDA {target.version}): export CUDA_HOME={root} "
            f"PATH={root}/bin:$PATH LD_LIBRARY_PATH={root}/lib64:$LD_LIBRARY_PATH"
        ],
    )


def _preferred_toolkit(host: Host, toolkits: list[Toolkit]) -> Toolkit:
    """The toolkit of torch's CUDA major when torch is installed, else the newest."""
    torch = _torch(host)
    torch_cuda = Version.parse_or_none(torch.cuda) if torch else None
    ordered = sorted(toolkits, key=lambda k: Version.parse_or_none(k.version) or Version.of(0), reverse=True)
    if torch_cuda is not None:
        for toolkit in ordered:
            release = toolkit_release(toolkit)
            if release is not None and release.major == torch_cuda.major:
                return toolkit
    return ordered[0]


# --- nvcc's CUDA against torch's -------------------------------------------------------------------


def _torch(host: Host) -> Framework | None:
    return next((f for f in host.frameworks if f.name == "torch" and f.cuda), None)


def torch_build_toolkit(toolkits: list[Toolkit]) -> tuple[Toolkit, str] | None:
    """The toolkit torch.utils.cpp_extension builds with, and the variable or place that chose it."""
    for via in TORCH_CUDA_HOME_ORDER:
        for toolkit in toolkits:
            if via in toolkit.found_via:
                return toolkit, via
    return None


def _torch_cuda(ctx: CheckContext) -> Iterator[Finding]:
    torch = _torch(ctx.host)
    chosen = torch_build_toolkit(ctx.host.toolkits)
    torch_cuda = Version.parse_or_none(torch.cuda) if torch else None
    if torch is None or torch_cuda is None or chosen is None:
        return
    toolkit, via = chosen
    release = toolkit_release(toolkit)
    if release is None:
        return
    nvcc, torch_line = release.truncate(2), torch_cuda.truncate(2)
    evidence = {
        "nvcc_cuda": str(nvcc),
        "toolkit_path": toolkit.path,
        "chosen_via": via,
        "torch_version": torch.version,
        "torch_cuda": str(torch_line),
    }
    where = f"nvcc {nvcc} ({toolkit.path}, via {via})"
    if nvcc.major != torch_line.major:
        yield Finding(
            code="extension-cuda-mismatch",
            severity=BUILD_FAILS,
            cause="toolchain-mismatch",
            title=f"{where} is CUDA {nvcc.major}, torch {torch.version} is built for CUDA {torch_line}: "
            "CUDA extensions will not build",
            detail="torch.utils.cpp_extension compiles with this nvcc (CUDA_HOME or CUDA_PATH, then nvcc on PATH, "
            "then /usr/local/cuda) and refuses a different CUDA major: RuntimeError: "
            + TORCH_MISMATCH.format(nvcc=nvcc, torch=torch_line)
            + " A CUDA major apart, an extension built anyway would not load next to torch's runtime.",
            evidence=evidence,
            fix=_torch_cuda_fixes(ctx, torch, torch_line, nvcc),
        )
        return
    if nvcc != torch_line:
        yield Finding(
            code="extension-cuda",
            severity=Severity.INFO,
            title=f"{where} and torch {torch.version} (CUDA {torch_line}) differ in the minor version only",
            detail="torch.utils.cpp_extension only warns: " + TORCH_MINOR_WARNING.format(nvcc=nvcc, torch=torch_line),
            evidence=evidence,
        )
        return
    yield Finding(
        code="extension-cuda",
        severity=Severity.PASS,
        title=f"{where} matches torch {torch.version} (CUDA {torch_line}) for extension builds",
        evidence=evidence,
    )


def _torch_cuda_fixes(ctx: CheckContext, torch: Framework, torch_cuda: Version, nvcc: Version) -> list[str]:
    fixes = []
    same_major = [
        t for t in ctx.host.toolkits if (r := toolkit_release(t)) is not None and r.major == torch_cuda.major and t.path
    ]
    if same_major:
        root = same_major[0].path
        fixes.append(
            f"Build with the CUDA {same_major[0].version} toolkit already here: "
            f"export CUDA_HOME={root} PATH={root}/bin:$PATH"
        )
    else:
        fixes.append(
            f"Install a CUDA {torch_cuda.major}.x toolkit (CUDA {torch_cuda} matches torch exactly) "
            "and export CUDA_HOME to it."
        )
    release = torch.version.split("+", 1)[0]
    wheels = [
        w
        for w in ctx.kb.torch_variants_for(release, ctx.host.wheel_platform())
        if w.cuda is not None and w.cuda.major == nvcc.major
    ]
    if wheels:
        best = min(wheels, key=lambda w: (abs((w.cuda or nvcc).minor - nvcc.minor), w.variant))
        fixes.append(
            f"Or install torch built for CUDA {nvcc.major}: {torch_wheel_command(release, best.variant, ctx.host)}"
        )
    return fixes
