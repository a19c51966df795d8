"""Find GPU frameworks in a Python environment from package metadata, without importing them.

Importing torch takes seconds and can crash on a broken CUDA setup; its ``*.dist-info`` folder
name and its ``torch/version.py`` (plain text) say the same thing in a millisecond.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass

from gpu_preflight.core.host import Framework, Host
from gpu_preflight.core.versions import Version, variant_cuda, variant_for_cuda, variant_problem
from gpu_preflight.probe.isolated import run_isolated


@dataclass(frozen=True)
class Watched:
    """A distribution worth reporting, and where (if anywhere) its CUDA version is written."""

    pattern: re.Pattern[str]
    cuda_from: str  # local-tag | torch-version-file | tf-build-info | name-suffix | version | none


WATCHED = (
    Watched(re.compile(r"torch"), "torch-version-file"),
    Watched(re.compile(r"jax|jaxlib|jax-cuda\d+-(plugin|pjrt)"), "name-suffix"),
    Watched(re.compile(r"tensorflow(-gpu|-cpu)?|tf-nightly"), "tf-build-info"),
    Watched(re.compile(r"cupy(-cuda\d+x?)?"), "name-suffix"),
    Watched(
        re.compile(r"vllm|onnxruntime(-gpu)?|tensorrt|triton|flash-attn|xformers|bitsandbytes|llama-cpp-python"), "none"
    ),
    # the CUDA runtime pieces pip installs beside frameworks (cu11 / cu12 / cu13 suffixes)
    Watched(re.compile(r"nvidia-cuda-runtime(-cu\d+)?|nvidia-cuda-nvrtc(-cu\d+)?"), "version"),
    Watched(re.compile(r"nvidia-(cublas|cudnn|nccl|cufft|cusparse|cusolver|curand|nvjitlink)(-cu\d+)?"), "none"),
    Watched(re.compile(r"cuda-toolkit|cuda-python|cuda-bindings"), "version"),
)

_DIST_DIR = re.compile(r"^(?P<name>[A-Za-z0-9_.]+?)-(?P<version>[^-]+?)\.(dist-info|egg-info)$")
_LOCAL_VARIANT = re.compile(r"\+(?P<variant>[a-z]+[0-9.]*)")
_TORCH_CUDA = re.compile(r"^cuda\s*(?::[^=]*)?=\s*['\"](?P<cuda>[\d.]+)['\"]", re.M)
_TORCH_HIP = re.compile(r"^hip\s*(?::[^=]*)?=\s*['\"](?P<hip>[\d.]+)", re.M)
_TF_CUDA = re.compile(r"['\"]cuda_version['\"]\s*:\s*['\"](?P<cuda>[\d.]+)['\"]")
_NAME_CUDA = re.compile(r"cuda(?P<major>\d{2})(?P<minor>\d)?x?(?:-|$)")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def cuda_from_local_tag(version: str) -> str | None:
    """``2.1.0+cu118`` -> ``11.8``; ``1.13.1+cu117`` -> ``11.7``."""
    local = version.partition("+")[2]
    cuda = variant_cuda(local) if local and variant_problem(local) is None else None
    return str(cuda) if cuda else None


def scan_site_dirs(site_dirs: list[str]) -> list[Framework]:
    found: dict[str, Framework] = {}
    for site in site_dirs:
        try:
            entries = list(os.scandir(site))
        except OSError:
            continue
        conda = conda_packages(site)
        for entry in entries:
            match = _DIST_DIR.match(entry.name)
            if not match:
                continue
            name = normalise(match.group("name"))
            watched = next((w for w in WATCHED if w.pattern.fullmatch(name)), None)
            if watched is None or name in found:  # first on sys.path wins, as for import
                continue
            found[name] = _describe(name, match.group("version"), watched, site)
            found[name].installer = installer_of(site, entry.name, name, conda)
    return sorted(found.values(), key=lambda f: f.name)


# conda records each package it installs in <env>/conda-meta/<name>-<version>-<build>.json;
# its package for torch is called pytorch (the pytorch channel until 2.5, and conda-forge)
_CONDA_NAMES = {"torch": "pytorch"}


def conda_packages(site: str) -> frozenset[str]:
    """The packages conda installed in the environment that owns ``site`` (<env>/lib/pythonX.Y/
    site-packages on Linux and macOS, <env>/Lib/site-packages on Windows); empty outside conda."""
    site = os.path.normpath(site)
    for prefix in (os.path.dirname(os.path.dirname(os.path.dirname(site))), os.path.dirname(os.path.dirname(site))):
        try:
            records = os.listdir(os.path.join(prefix, "conda-meta"))
        except OSError:
            continue
        return frozenset(r.rsplit("-", 2)[0] for r in records if r.endswith(".json") and r.count("-") >= 2)
    return frozenset()


def installer_of(site: str, dist_dir: str, name: str, conda: frozenset[str]) -> str | None:
    """Who installed the package: conda when the environment's conda-meta lists it, else the first
    line of the dist-info's INSTALLER file (pip, uv...), else None."""
    if _CONDA_NAMES.get(name, name) in conda:
        return "conda"
    text = _read(os.path.join(site, dist_dir, "INSTALLER"))
    first = (text or "").strip().splitlines()[:1]
    return first[0][:32] if first and first[0].isprintable() else None


def _describe(name: str, version: str, watched: Watched, site: str) -> Framework:
    framework = Framework(name=name, version=version, location=site)
    local = _LOCAL_VARIANT.search(version)
    if local:
        framework.variant = local.group("variant")
    framework.cuda = cuda_from_local_tag(version)
    if watched.cuda_from == "torch-version-file":
        _read_torch_version_file(framework, site)
    elif watched.cuda_from == "tf-build-info" and framework.cuda is None:
        text = _read(os.path.join(site, "tensorflow", "python", "platform", "build_info.py"))
        match = _TF_CUDA.search(text or "")
        framework.cuda = match.group("cuda") if match else None
    elif watched.cuda_from == "name-suffix":
        framework.cuda, framework.variant = _cuda_from_name(name), framework.variant or _variant_from_name(name)
    elif watched.cuda_from == "version":
        framework.cuda = ".".join(version.split(".")[:2])
    return framework


def _read_torch_version_file(framework: Framework, site: str) -> None:
    text = _read(os.path.join(site, "torch", "version.py"))
    if text is None:
        return
    cuda = _TORCH_CUDA.search(text)
    hip = _TORCH_HIP.search(text)
    if cuda:
        framework.cuda = cuda.group("cuda")
        framework.variant = framework.variant or variant_for_cuda(Version.parse(cuda.group("cuda")))
    elif hip:
        framework.variant = framework.variant or "rocm" + hip.group("hip")
        framework.details["hip"] = hip.group("hip")
    else:
        framework.variant = framework.variant or "cpu"


def _cuda_from_name(name: str) -> str | None:
    match = _NAME_CUDA.search(name)
    if not match:
        return None
    major, minor = match.group("major"), match.group("minor")
    if minor is None:  # "cuda12" (jax plugin) or "cuda12x" (cupy): major only
        return major.lstrip("0") or major
    return f"{major}.{minor}"  # cupy-cuda110 -> 11.0


def _variant_from_name(name: str) -> str | None:
    match = re.search(r"cuda\d+x?", name)
    return match.group(0) if match else None


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read(1 << 20)
    except OSError:
        return None


_SITE_DIRS_SCRIPT = "import json, sys; print(json.dumps([p for p in sys.path if p]))"


def probe_frameworks(host: Host, python: str | None, timeout: float) -> None:
    """Frameworks of this interpreter, or of ``python`` (another venv or conda env) when given."""
    if python is None:
        site_dirs = [p for p in sys.path if p and os.path.isdir(p)]
    else:
        outcome = run_isolated([python, "-c", _SITE_DIRS_SCRIPT], timeout)
        try:
            reported = json.loads(outcome.stdout) if outcome.ok else None
        except ValueError:
            reported = None
        if not isinstance(reported, list):
            host.add_error("frameworks", f"--python {python}: " + outcome.describe_failure())
            return
        site_dirs = [str(p) for p in reported]
    host.frameworks = scan_site_dirs(site_dirs)
