"""Values for the fix templates of signatures.toml, from the log, the HOST and the knowledge base.

A template such as "Install NVIDIA driver >= {min_driver} ..., e.g. {driver_package}" becomes
specific when the needed CUDA and the driver are known, and is left out when they are not
(the cause's general templates follow it). Each name below is one small function; None means
"not known here".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from gpu_preflight.checks.fixes import RELOAD_MODULES, torch_wheel_command
from gpu_preflight.core.versions import Version, driver_branch, variant_for_cuda
from gpu_preflight.explain.situation import GpuView, Situation, release_variants

if TYPE_CHECKING:
    from gpu_preflight.knowledge.model import Architecture

_PLACEHOLDER = re.compile(r"\{(\w{1,40})\}")

Value = Callable[[Situation], "str | None"]


def _v(version: Version | None, parts: int = 0) -> str | None:
    if version is None:
        return None
    return str(version.truncate(parts)) if parts else str(version)


def _needed(s: Situation) -> Version | None:
    return s.needed_cuda.value if s.needed_cuda is not None else None


def min_driver(s: Situation) -> str | None:
    """The lowest driver that runs the needed CUDA: the minor-version compatibility floor
    (any 12.x on >= 525.60.13) where there is one, else the toolkit's own driver."""
    needed = _needed(s)
    if needed is None:
        return None
    requirement = s.kb.driver_requirement(needed.truncate(2))
    floor = requirement.minor_compat or requirement.native
    return str(floor) if floor is not None else None


def native_driver(s: Situation) -> str | None:
    """The driver that supports the needed CUDA natively: what a container's ``cuda>=X.Y``
    start gate asks for (it compares the driver's own CUDA, minor compatibility aside)."""
    needed = _needed(s)
    if needed is None:
        return None
    native = s.kb.driver_requirement(needed.truncate(2)).native
    return str(native) if native is not None else None


def driver_package(s: Situation) -> str | None:
    """``nvidia-driver-535``: the first long-term branch that runs the needed CUDA natively and
    still supports every GPU here (else the branch that ships with that CUDA)."""
    needed = _needed(s)
    if needed is None:
        return None
    requirement = s.kb.driver_requirement(needed.truncate(2))
    native = requirement.native or requirement.minor_compat
    if native is None:
        return None
    last_branch = min(
        (
            a.last_driver_branch
            for g in s.gpus
            if g.cc is not None
            if (a := s.kb.architecture_of_cc(g.cc)) and a.last_driver_branch
        ),
        default=None,
    )
    long_term = [b.branch for b in s.kb.driver_branches if b.branch >= native.major and "LTSB" in b.lifecycle]
    for branch in long_term[:1] + [native.major]:
        if last_branch is None or branch <= last_branch:
            return f"nvidia-driver-{branch}"
    return None  # no driver branch runs this CUDA on this GPU: the templates about builds apply


def _gpu_branch_limit(s: Situation) -> int | None:
    """The last driver branch of the oldest architecture here, when it cannot run the needed CUDA."""
    needed = _needed(s)
    if needed is None:
        return None
    native = s.kb.driver_requirement(needed.truncate(2)).native
    limits = [
        a.last_driver_branch
        for g in s.gpus
        if g.cc is not None
        if (a := s.kb.architecture_of_cc(g.cc)) and a.last_driver_branch
    ]
    last = min(limits, default=None)
    return last if last is not None and native is not None and native.major > last else None


def gpu_last_branch(s: Situation) -> str | None:
    last = _gpu_branch_limit(s)
    return str(last) if last else None


def gpu_last_branch_cuda(s: Situation) -> str | None:
    last = _gpu_branch_limit(s)
    cuda = s.kb.max_cuda_for_driver(Version.of(last)) if last else None
    return _v(cuda, 2)


def wheel_for_driver(s: Situation) -> str | None:
    torch = s.facts.torch
    if torch is None or s.driver is None:
        return None
    from gpu_preflight.checks.builds import suggest_wheel
    from gpu_preflight.checks.context import CheckContext

    wheel = suggest_wheel(CheckContext(host=s.as_host(), _kb=s.kb), str(torch.value))
    return f", e.g. {wheel}" if wheel else None


def wheel_for_gpu(s: Situation) -> str | None:
    gpu = _first_gpu(s)
    if gpu is None or gpu.cc is None:
        return None
    if s.facts.torch is None and not {"torch", "pytorch"} & s.facts.mentions:
        return ""  # a torch wheel is advice for a torch log only (not Ollama, ggml, TensorRT...)
    from gpu_preflight.checks.builds import suggest_wheel
    from gpu_preflight.checks.context import CheckContext

    torch = str(s.facts.torch.value) if s.facts.torch else str(s.kb.torch_releases[-1].version)
    wheel = suggest_wheel(CheckContext(host=s.as_host(), _kb=s.kb), torch, ccs=[gpu.cc], any_driver=True)
    return f", e.g. {wheel}" if wheel else None


def wheel_for_host(s: Situation) -> str | None:
    """For a CPU-only torch: the CUDA wheel of the same release that plain Linux pip would get."""
    torch = s.facts.torch
    if torch is None:
        return None
    version = str(torch.value).split("+")[0]
    release = s.kb.torch_release(version)
    if release is None or release.default_pypi_cuda is None or not re.fullmatch(r"\d+\.\d+\.\d+", version):
        return None
    cuda = release.default_pypi_cuda
    return ": " + torch_wheel_command(version, variant_for_cuda(cuda), s.host)


# the words by which a log shows the engine it comes from (llama.cpp: its ggml CUDA backend; a
# bare "llama" is as often a model's name)
_ENGINE_WORDS = (("vllm", "vllm"), ("sglang", "sglang"), ("ollama", "ollama"), ("ggml", "llama.cpp"))


def engine_build_for_gpu(s: Situation) -> str | None:
    """For an inference engine's log: the newest release in the engine tables with a build that
    has code for the GPU (and whose floor admits it), with its install command; or that none has."""
    gpu = _first_gpu(s)
    key = next((engine for word, engine in _ENGINE_WORDS if word in s.facts.mentions), None)
    engine = s.kb.engine(key) if key else None
    if gpu is None or gpu.cc is None or engine is None:
        return None
    releases = [r for r in s.kb.engine_releases if r.engine.key == engine.key]
    admitted = [r for r in releases if r.min_cc is None or gpu.cc >= r.min_cc]
    for release in reversed(admitted):  # newest first
        build = next((b for b in release.builds if b.archs is not None and b.archs.covers(gpu.cc)), None)
        if build is not None:
            # a rule from release "0" holds for every release (llama.cpp's bNNNN builds)
            name, version = (
                (engine.name, "bNNNN")
                if release.version == "0"
                else (f"{engine.name} {release.version}", release.version)
            )
            return (
                f"{name} ({build.variant} build) has code for compute capability {_v(gpu.cc)}: "
                f"{build.install_command(version)}"
            )
    if any(b.archs is None for r in admitted for b in r.builds):
        return None  # a build whose architectures the tables do not know may well have it
    floors = [r.min_cc for r in releases if r.min_cc is not None]
    why = f" (the lowest floor among them is compute capability {_v(min(floors))})" if floors and not admitted else ""
    return f"No {engine.name} release in preflight's tables has code for compute capability {_v(gpu.cc)}{why}."


def _first_gpu(s: Situation) -> GpuView | None:
    return next((g for g in s.gpus if g.cc is not None), None) or next(iter(s.gpus), None)


def gpu(s: Situation) -> str | None:
    found = _first_gpu(s)
    return found.name if found and found.name else None


def cc(s: Situation) -> str | None:
    found = _first_gpu(s)
    return _v(found.cc) if found else None


def cc_digits(s: Situation) -> str | None:
    found = _first_gpu(s)
    return f"{found.cc.major}{found.cc.minor}" if found and found.cc else None


def archs(s: Situation) -> str | None:
    found = s.build_archs
    return " ".join(t.name for t in found[0].targets) if found and found[0].targets else None


def oldest_arch(s: Situation) -> str | None:
    found = s.build_archs
    if not found or not found[0].targets:
        return None
    return min(found[0].targets, key=lambda t: t.cc).name


def _gpu_architecture(s: Situation) -> Architecture | None:
    found = _first_gpu(s)
    return s.kb.architecture_of_cc(found.cc) if found and found.cc else None


def gpu_arch(s: Situation) -> str | None:
    arch = _gpu_architecture(s)
    return arch.name if arch else None


def gpu_last_cuda(s: Situation) -> str | None:
    arch = _gpu_architecture(s)
    return _v(arch.last_cuda) if arch and arch.last_cuda else None


def disable_require_ok(s: Situation) -> str | None:
    """Known (as "") only when the driver's CUDA has the required major: minor-version
    compatibility then runs the image although the start gate refuses it."""
    required, have = s.facts.required_cuda, s.driver_cuda
    if required is None or have is None:
        return None
    return "" if required.value.major == have.major >= 11 else None


def needed_major(s: Situation) -> str | None:
    needed = _needed(s)
    return str(needed.major) if needed else None


def missing_cuda(s: Situation) -> str | None:
    fact = s.facts.missing_library
    match = (
        re.search(
            r"lib(?:cudart|cublas|cublasLt|cufft|curand|cusparse|cusolver|nvrtc)\.so\.(\d{1,2}(?:\.\d)?)",
            str(fact.value),
        )
        if fact
        else None
    )
    return match[1] if match else None


def missing_major(s: Situation) -> str | None:
    cuda = missing_cuda(s)
    return cuda.split(".")[0] if cuda else None


def other_process(s: Situation) -> str | None:
    fact = s.facts.other_process
    return f"{fact.value[1]} (PID {fact.value[0]})" if fact else None


def _oom(part: str) -> Value:
    def value(s: Situation) -> str | None:
        fact = s.facts.oom_memory
        if fact is None or not fact.value.held_elsewhere:
            return None
        mib = float(getattr(fact.value, part))
        return f"{mib / 1024:.2f} GiB" if mib >= 1024 else f"{mib:.0f} MiB"

    return value


def wheel_asked(s: Situation) -> str | None:
    """The variant pip was asked for, with the pinned release when there is one (2.6.0+cu121)."""
    fact, pinned = s.facts.wheel_variant, s.facts.wheel_torch
    if fact is None:
        return None
    return f"{fact.value} of torch {pinned.value}" if pinned is not None and release_variants(s) else str(fact.value)


def wheel_below(s: Situation) -> str | None:
    """The newest published torch CUDA variant at or below the one asked for (cu122 -> cu121)."""
    fact = s.facts.wheel_variant
    digits = fact.value.removeprefix("cu") if fact else ""
    if not digits.isdigit() or len(digits) < 2:
        return None
    asked = Version.of(int(digits[:-1]), int(digits[-1]))
    published = release_variants(s)
    if published:  # the variants of the pinned release: the newest at or below the one asked
        cudas = [(c, v) for v in published if (c := _cu(v)) is not None and c <= asked]
        return max(cudas)[1] if cudas else None
    below = [w for w in s.kb.torch_wheels if w.cuda is not None and w.cuda.truncate(2) <= asked]
    return max(below, key=lambda w: w.cuda or asked).variant if below else None


def _cu(variant: str) -> Version | None:
    digits = variant.removeprefix("cu")
    return Version.of(int(digits[:-1]), int(digits[-1])) if digits.isdigit() and len(digits) >= 2 else None


def _fact(name: str, index: int | None = None) -> Value:
    def value(s: Situation) -> str | None:
        fact = getattr(s.facts, name)
        if fact is None:
            return None
        return str(fact.value[index] if index is not None else fact.value)

    return value


VALUES: dict[str, Value] = {
    "driver": lambda s: _v(s.driver),
    "driver_cuda": lambda s: _v(s.driver_cuda, 2),
    "driver_branch": lambda s: str(driver_branch(s.driver)) if s.driver else None,
    "needed_cuda": lambda s: _v(_needed(s), 2),
    "needed_major": needed_major,
    "min_driver": min_driver,
    "native_driver": native_driver,
    "vllm": lambda s: "" if "vllm" in s.facts.mentions else None,
    "driver_package": driver_package,
    "wheel_for_driver": wheel_for_driver,
    "wheel_for_gpu": wheel_for_gpu,
    "engine_build_for_gpu": engine_build_for_gpu,
    "wheel_for_host": wheel_for_host,
    "gpu": gpu,
    "cc": cc,
    "cc_digits": cc_digits,
    "archs": archs,
    "oldest_arch": oldest_arch,
    "gpu_arch": gpu_arch,
    "gpu_last_cuda": gpu_last_cuda,
    "gpu_last_branch": gpu_last_branch,
    "gpu_last_branch_cuda": gpu_last_branch_cuda,
    "required": _fact("required"),
    "disable_require_ok": disable_require_ok,
    "reload_modules": lambda s: RELOAD_MODULES,
    "missing_library": _fact("missing_library"),
    "missing_cuda": missing_cuda,
    "missing_major": missing_major,
    "old_library": _fact("old_library"),
    "cudnn_found": _fact("cudnn", 0),
    "cudnn_built": _fact("cudnn", 1),
    "toolkit_cuda": lambda s: _v(s.facts.toolkit_cuda.value, 2) if s.facts.toolkit_cuda else None,
    "torch_cuda": lambda s: _v(s.facts.torch_cuda.value, 2) if s.facts.torch_cuda else None,
    "other_process": other_process,
    # out of memory while this process holds little: what it holds, the GPU's total, what is free
    "oom_own": _oom("own"),
    "oom_total": _oom("total"),
    "oom_free": _oom("free"),
    "wheel_asked": wheel_asked,
    "wheel_below": wheel_below,
    "nvcc_arch": lambda s: (
        f"compute_{s.facts.nvcc_arch.value.major}{s.facts.nvcc_arch.value.minor}" if s.facts.nvcc_arch else None
    ),
}


def placeholders(template: str) -> list[str]:
    return _PLACEHOLDER.findall(template)


def render(templates: list[str], s: Situation) -> list[str]:
    """The templates whose every value is known, filled in. A template starting with "else:"
    is used only when the one just before it was left out."""
    cache: dict[str, str | None] = {}

    def value(name: str) -> str | None:
        if name not in cache:
            cache[name] = VALUES[name](s)
        return cache[name]

    out: list[str] = []
    previous_used = False
    for template in templates:
        fallback = template.startswith("else:")
        body = template.removeprefix("else:").strip()
        use = not (fallback and previous_used) and all(value(n) is not None for n in placeholders(body))
        if use:
            text = _PLACEHOLDER.sub(lambda m: value(m[1]) or "", body)
            if text not in out:
                out.append(text)
        # an "else:" line keeps the chain going: used if no line of its group was used
        previous_used = use or (fallback and previous_used)
    return out
