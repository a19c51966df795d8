"""Find CUDA toolkits on disk: nvcc on PATH, CUDA_HOME / CUDA_PATH, /usr/local/cuda*.

A toolkit is what compiles CUDA code; it is not what runs it (that is the driver). Each toolkit
is reported once, with every way it was found, so "nvcc says 13.0" and "/usr/local/cuda is
12.4" show up as the two different things they are.
"""

from __future__ import annotations

import glob
import os
import shutil
import sys

from gpu_preflight.core.host import Host, Toolkit
from gpu_preflight.probe.isolated import run_isolated
from gpu_preflight.probe.nvcc import (
    parse_cuda_version_json,
    parse_cuda_version_txt,
    parse_nvcc_version,
)

ENV_VARS = ("CUDA_HOME", "CUDA_PATH", "CUDA_ROOT")
LINUX_GLOBS = ("/usr/local/cuda", "/usr/local/cuda-*", "/opt/cuda")
WINDOWS_GLOB = r"NVIDIA GPU Computing Toolkit\CUDA\v*"
NVCC = "nvcc.exe" if sys.platform == "win32" else "nvcc"


def candidate_roots(env: dict[str, str], patterns: tuple[str, ...] = LINUX_GLOBS) -> list[tuple[str, str]]:
    """(directory, how it was found) for every place a toolkit may live."""
    found = [(env[var], var) for var in ENV_VARS if env.get(var)]
    if sys.platform == "win32":
        patterns = (*patterns, os.path.join(env.get("ProgramFiles", r"C:\Program Files"), WINDOWS_GLOB))
    for pattern in patterns:
        found += [(path, path) for path in sorted(glob.glob(pattern))]
    return found


def probe_toolkits(host: Host, env: dict[str, str], timeout: float, patterns: tuple[str, ...] = LINUX_GLOBS) -> None:
    toolkits: dict[str, Toolkit] = {}
    for root, via in candidate_roots(env, patterns):
        real = os.path.realpath(root)
        if real in toolkits:
            if via != real:  # found under its own name adds nothing
                toolkits[real].found_via.append(via)
            continue
        if not os.path.isdir(real):
            if via in ENV_VARS:
                host.add_error("toolkit", f"{via}={root} is not a directory")
            continue
        toolkit = _read_root(real, host, timeout)
        if toolkit is not None:
            if via != real:
                toolkit.found_via.append(via)
            toolkits[real] = toolkit

    nvcc = shutil.which(NVCC, path=env.get("PATH"))
    if nvcc:
        owner = _root_owning(nvcc, toolkits)
        if owner is not None:
            owner.found_via.insert(0, "PATH")
        else:
            version = _nvcc_version(nvcc, host, timeout)
            toolkits[nvcc] = Toolkit(version, nvcc, "nvcc", nvcc=nvcc, found_via=["PATH"])
    host.toolkits = list(toolkits.values())


def _read_root(root: str, host: Host, timeout: float) -> Toolkit | None:
    nvcc_path = os.path.join(root, "bin", NVCC)
    nvcc = nvcc_path if os.path.isfile(nvcc_path) else None
    for name, parse in (("version.json", parse_cuda_version_json), ("version.txt", parse_cuda_version_txt)):
        path = os.path.join(root, name)
        if os.path.isfile(path):
            try:
                with open(path, encoding="utf-8", errors="replace") as fh:
                    version = parse(fh.read(1 << 20))
            except (OSError, ValueError) as exc:
                host.add_error("toolkit", f"{path}: {exc}")
                version = None
            if version:
                return Toolkit(version, root, name, nvcc=nvcc)
    if nvcc:
        return Toolkit(_nvcc_version(nvcc, host, timeout), root, "nvcc", nvcc=nvcc)
    return None


def _nvcc_version(nvcc: str, host: Host, timeout: float) -> str | None:
    outcome = run_isolated([nvcc, "--version"], timeout)
    info = parse_nvcc_version(outcome.stdout) if outcome.ok else None
    if info is None:
        host.add_error(
            "toolkit", f"{nvcc}: " + (outcome.describe_failure() if not outcome.ok else "unrecognised --version output")
        )
        return None
    return info.version


def _root_owning(nvcc: str, toolkits: dict[str, Toolkit]) -> Toolkit | None:
    """The toolkit an nvcc on PATH belongs to: inside its root, or a small wrapper script that
    execs into it (as pip-assembled toolkits install)."""
    real = os.path.realpath(nvcc)
    for root, toolkit in toolkits.items():
        if real.startswith(root + os.sep):
            return toolkit
    try:
        if os.path.getsize(real) < 4096:
            with open(real, encoding="utf-8", errors="replace") as fh:
                script = fh.read()
            if script.startswith("#!"):
                for root, toolkit in toolkits.items():
                    if os.path.join(root, "bin", NVCC) in script:
                        return toolkit
    except OSError:
        pass
    return None
