"""The toolchain an extension build meets: the host compilers nvcc may use, and which toolkit's
libcudart ``LD_LIBRARY_PATH`` reaches.

nvcc compiles the host half of a ``.cu`` file with a host compiler: the one ``NVCC_CCBIN`` or a
``-ccbin``/``--compiler-bindir`` in ``NVCC_PREPEND_FLAGS``/``NVCC_APPEND_FLAGS`` names, the one a
build passes (``CUDAHOSTCXX`` for CMake; ``CC`` for torch.utils.cpp_extension, which adds
``-ccbin $CC``), else ``gcc`` on PATH. Each is recorded once, with every way it was named, and its
``--version`` read in a child process with a timeout. Probing never judges: which one a build
uses and whether nvcc accepts it is ``checks/toolchain.py``'s business.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import shutil

from gpu_preflight.core.host import Compiler, Host
from gpu_preflight.probe.isolated import run_isolated

# Variables naming a compiler directly, in the order nvcc and the build tools give them weight.
COMPILER_VARS = ("NVCC_CCBIN", "CUDAHOSTCXX", "CC", "CXX")
FLAG_VARS = ("NVCC_PREPEND_FLAGS", "NVCC_APPEND_FLAGS")
PATH_COMPILERS = ("gcc", "g++", "clang")
_CCBIN_FLAGS = ("-ccbin", "--compiler-bindir")

# "clang version 18.1.3 (...)", "Ubuntu clang version 14.0.0-1ubuntu1", "Apple clang version 15.0.0"
_CLANG = re.compile(r"\bclang version (\d{1,4}(?:\.\d{1,6}){1,2})")
# "gcc (Debian 12.2.0-14+deb12u1) 12.2.0", "gcc (GCC) 14.2.1 20240912 (Red Hat 14.2.1-3)",
# "x86_64-conda-linux-gnu-cc (conda-forge gcc 12.4.0-2) 12.4.0": the version after the ")".
_GCC = re.compile(r"\)\s+(\d{1,4}(?:\.\d{1,6}){1,2})\b")
_FSF = "Free Software Foundation"


def parse_compiler_version(text: str) -> tuple[str, str | None]:
    """(kind, version) from a compiler's ``--version`` output: kind ``gcc``, ``clang`` or
    ``other`` (nvc++, icx...: nvcc's GCC/Clang ranges do not apply); version None when unread."""
    text = text.replace("\r", "")
    first = text.strip().split("\n", 1)[0] if text.strip() else ""
    clang = _CLANG.search(first)
    if clang:
        return "clang", clang.group(1)
    if _FSF in text:
        gcc = _GCC.search(first)
        return "gcc", gcc.group(1) if gcc else None
    return "other", None


def ccbin_from_flags(flags: str) -> str | None:
    """The compiler a ``-ccbin X`` / ``-ccbin=X`` / ``--compiler-bindir X`` in an NVCC_*_FLAGS
    value names (the last one, as a command line would), or None."""
    try:
        words = shlex.split(flags)
    except ValueError:
        words = flags.split()
    found = None
    for i, word in enumerate(words):
        for flag in _CCBIN_FLAGS:
            if word == flag and i + 1 < len(words):
                found = words[i + 1]
            elif word.startswith(flag + "="):
                found = word[len(flag) + 1 :]
    return found or None


def named_compilers(env: dict[str, str]) -> list[tuple[str, str]]:
    """(command or directory, the variable naming it) for every compiler the environment names,
    then the compilers on PATH, most weighty first."""
    named: list[tuple[str, str]] = []
    if env.get("NVCC_CCBIN"):
        named.append((env["NVCC_CCBIN"], "NVCC_CCBIN"))
    for var in FLAG_VARS:
        value = ccbin_from_flags(env.get(var, ""))
        if value:
            named.append((value, var))
    for var in COMPILER_VARS[1:]:
        value = env.get(var, "").strip()
        if value:
            # CC="ccache gcc" / CC="gcc -m64": the compiler is the word that is not a launcher
            words = value.split()
            named.append((words[1] if words[0].endswith("ccache") and len(words) > 1 else words[0], var))
    named += [(name, "PATH") for name in PATH_COMPILERS]
    return named


def probe_toolchain(host: Host, env: dict[str, str], timeout: float) -> None:
    """Fill ``host.compilers`` and add ``LD_LIBRARY_PATH`` to the ``found_via`` of the toolkit
    whose libcudart it reaches. Run after ``probe_toolkits``."""
    search_path = env.get("PATH")
    compilers: dict[str, Compiler] = {}
    for command, via in named_compilers(env):
        executable = _resolve(command, search_path)
        if executable is None:
            if via != "PATH":
                host.add_error("compiler", f"{via}={command}: not found")
            continue
        real = os.path.realpath(executable)
        if real in compilers:
            if via not in compilers[real].found_via:
                compilers[real].found_via.append(via)
            continue
        outcome = run_isolated([executable, "--version"], timeout)
        if not outcome.ok:
            host.add_error("compiler", f"{executable}: {outcome.describe_failure()}")
            continue
        kind, version = parse_compiler_version(outcome.stdout or outcome.stderr)
        compilers[real] = Compiler(kind=kind, version=version, path=real, found_via=[via])
    host.compilers = list(compilers.values())
    _mark_libcudart(host, env.get("LD_LIBRARY_PATH", ""))


def _resolve(command: str, search_path: str | None) -> str | None:
    """An executable from a command name, a path, or (``--compiler-bindir``) a directory holding gcc."""
    if os.path.isdir(command):
        command = os.path.join(command, "gcc")
    if os.sep in command:
        return command if os.path.isfile(command) and os.access(command, os.X_OK) else None
    return shutil.which(command, path=search_path)


def _mark_libcudart(host: Host, ld_library_path: str) -> None:
    """The toolkit whose ``libcudart.so*`` the first LD_LIBRARY_PATH entry holding one lies in
    (what the dynamic loader picks before the system paths)."""
    for entry in ld_library_path.split(os.pathsep):
        if not entry or not glob.glob(os.path.join(glob.escape(entry), "libcudart.so*")):
            continue
        real = os.path.realpath(entry)
        for toolkit in host.toolkits:
            root = toolkit.path
            if root and (real == root or real.startswith(root.rstrip(os.sep) + os.sep)):
                if "LD_LIBRARY_PATH" not in toolkit.found_via:
                    toolkit.found_via.append("LD_LIBRARY_PATH")
        return
