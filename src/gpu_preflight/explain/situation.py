"""What the log and the HOST together say about the stack, and the named conditions
(``when = "..."`` in signatures.toml) that judge it.

A HOST, when given, is the machine the user will fix, so its driver and GPUs come first; the
log fills what the host does not say. The knowledge base is loaded only when a condition or a
fix needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from gpu_preflight.core.host import Driver, Gpu, Host
from gpu_preflight.core.versions import Version
from gpu_preflight.explain.facts import Fact, LogFacts
from gpu_preflight.knowledge.arch_list import ArchList

if TYPE_CHECKING:
    from gpu_preflight.knowledge import KnowledgeBase
    from gpu_preflight.knowledge.model import GpuProduct


@dataclass(frozen=True)
class GpuView:
    name: str | None
    cc: Version | None
    line: int | None  # where the log names it; None when it comes from the HOST
    product: GpuProduct | None = None  # when the knowledge base knows the name


class Situation:
    def __init__(self, facts: LogFacts, host: Host | None = None, db: str | None = None) -> None:
        self.facts = facts
        self.host = host
        self.db = db

    @cached_property
    def kb(self) -> KnowledgeBase:
        from gpu_preflight.knowledge import load_knowledge

        return load_knowledge(self.db)

    # --- the stack, host first ----------------------------------------------------------------

    @cached_property
    def driver(self) -> Version | None:
        if self.host is not None and self.host.driver.version:
            return Version.parse_or_none(self.host.driver.version)
        return self.facts.driver.value if self.facts.driver else None

    @cached_property
    def driver_cuda(self) -> Version | None:
        if self.host is not None and self.host.driver.cuda:
            return Version.parse_or_none(self.host.driver.cuda)
        if self.facts.driver_cuda and (self.host is None or not self.host.driver.version):
            return self.facts.driver_cuda.value
        return self.kb.max_cuda_for_driver(self.driver) if self.driver else None

    @cached_property
    def needed_cuda(self) -> Fact[Version] | None:
        """The CUDA the failing software needs from the driver: a container's requirement, the
        torch build, the image, in that order (the toolkit only builds; the others run)."""
        facts = self.facts
        return facts.required_cuda or facts.torch_cuda or facts.image_cuda

    @cached_property
    def gpus(self) -> list[GpuView]:
        if self.host is not None and self.host.gpus:
            return [self._host_gpu(g) for g in self.host.gpus]
        views, seen = [], set()
        for gpu in self.facts.gpus:
            product = self.kb.gpu_product(name=_trim_name(gpu.name)) if gpu.name else None
            cc = gpu.cc or (product.compute_capability if product else None)
            key = (gpu.name, cc)
            if key not in seen:
                seen.add(key)
                views.append(GpuView(gpu.name, cc, gpu.line, product))
        return views

    def _host_gpu(self, gpu: Gpu) -> GpuView:
        product = self.kb.gpu_product(name=gpu.name, pci_device_id=gpu.pci_device_id)
        cc = Version.parse_or_none(gpu.compute_capability) or (product.compute_capability if product else None)
        return GpuView(gpu.name, cc, None, product)

    @cached_property
    def build_archs(self) -> tuple[ArchList, int | None] | None:
        """The architectures the build has: as the log lists them, else the official torch
        wheel's the log names, else those of the HOST's torch (--deep's list, or its wheel's)."""
        if self.facts.archs is not None:
            return self.facts.archs.value, self.facts.archs.line
        torch = self.facts.torch
        if torch is not None and "+cu" in str(torch.value):
            wheel = self.kb.torch_wheel(str(torch.value))
            if wheel is not None and wheel.archs is not None:
                return wheel.archs, torch.line
        if self.host is not None:
            from gpu_preflight.checks.build import build_for_framework

            for framework in (f for f in self.host.frameworks if f.name == "torch"):
                build = build_for_framework(self.kb, framework, self.host.wheel_platform())
                if build is not None and build.archs is not None:
                    return build.archs, None
        return None

    def as_host(self) -> Host:
        """The HOST, or one pieced together from the log (for the shared fix helpers)."""
        if self.host is not None:
            return self.host
        gpus = [
            Gpu(index=i, name=g.name or "GPU", compute_capability=str(g.cc) if g.cc else None)
            for i, g in enumerate(self.gpus)
        ]
        return Host(
            driver=Driver(
                version=str(self.driver) if self.driver else None,
                cuda=str(self.driver_cuda) if self.driver_cuda else None,
                source="log",
            ),
            gpus=gpus,
            source="log",
        )

    def arch_verdict(self) -> tuple[str, list[int]] | None:
        """("older" | "newer", evidence lines) when a GPU here has no code in the build.

        "older": the build's targets go above the GPU but skip it (the architecture was
        dropped); "newer": the GPU is past everything the build has.
        """
        for gpu in self.gpus:
            if gpu.cc is None:
                continue
            lines = [gpu.line] if gpu.line is not None else []
            archs = self.build_archs
            if archs is not None:
                arch_list, line = archs
                if not arch_list.targets or arch_list.covers(gpu.cc):
                    continue
                top = max(t.cc for t in arch_list.targets)
                return ("older" if gpu.cc < top else "newer"), lines + ([line] if line is not None else [])
            if self.facts.min_cc is not None and gpu.cc < self.facts.min_cc.value:
                return "older", lines + [self.facts.min_cc.line]
            built = self.facts.torch_cuda
            arch = self.kb.architecture_of_cc(gpu.cc) if built is not None else None
            if built is not None and arch is not None and not self.kb.cuda_supports_cc(built.value, gpu.cc):
                dropped = arch.removed_in_cuda is not None and built.value.truncate(2) >= arch.removed_in_cuda
                return ("older" if dropped else "newer"), lines + [built.line]
        return None


def _trim_name(name: str) -> str:
    """Log spellings the product table does not know: "NVIDIA GeForce RTX 3080 Laptop GPU GPU"."""
    name = " ".join(name.split())
    while name.upper().endswith(" GPU"):
        name = name[:-4]
    return name


# --- conditions ----------------------------------------------------------------------------------
# Each returns the lines that show it (empty: the condition does not hold).

Condition = Callable[[Situation, str | None], list[int]]


def _lines(*facts: Fact[Any] | None) -> list[int]:
    return [f.line for f in facts if f is not None]


def driver_older_than_build(s: Situation, _: str | None) -> list[int]:
    needed = s.needed_cuda
    if needed is None:
        return []
    cuda: Version = needed.value.truncate(2)
    if s.driver is not None:
        from gpu_preflight.checks.runtime import judge_runtime

        verdict = judge_runtime(s.kb, cuda, s.driver)
        too_old = verdict.status == "too-old"
    elif s.driver_cuda is not None:
        have = s.driver_cuda
        too_old = cuda.major > have.major or (cuda.major < 11 and cuda > have)
    else:
        return []
    return _lines(needed, s.facts.driver, s.facts.driver_cuda) if too_old else []


def gpu_older_than_build(s: Situation, _: str | None) -> list[int]:
    verdict = s.arch_verdict()
    return (verdict[1] or [0]) if verdict and verdict[0] == "older" else []


def gpu_arch_dropped(s: Situation, by_cuda: str | None) -> list[int]:
    """A GPU the log names has an architecture that CUDA has since dropped (Kepler to Volta):
    a build without code for it left it out; a build older than such a GPU is long gone.
    ``by_cuda`` ("12.0"): only architectures that CUDA release or an older one dropped."""
    latest = Version.parse_or_none(by_cuda) if by_cuda else None
    named = [(g.cc, g.line) for g in s.gpus]
    if not named:  # no tool printed the GPU in use: a product the text names
        for seen in s.facts.mentioned_gpus:
            product = s.kb.gpu_product(name=seen.name)
            named.append((product.compute_capability if product else None, seen.line))
    for cc, line in named:
        arch = s.kb.architecture_of_cc(cc) if cc is not None else None
        if cc is None or arch is None or arch.removed_in_cuda is None or cc >= Version.of(8, 0):
            continue
        if latest is None or arch.removed_in_cuda <= latest:
            return [line] if line is not None else [0]
    return []


def build_covers_every_newer_gpu(s: Situation, _: str | None) -> list[int]:
    """The log names no GPU, but the build has code (SASS of the major, or PTX the driver compiles
    for newer GPUs) for every GPU the knowledge base knows from its oldest target up, Jetsons
    aside (their builds are JetPack's): a GPU it has no code for can only be older than that."""
    found = s.build_archs
    if found is None or not found[0].targets or any(g.cc is not None for g in s.gpus):
        return []
    archs, line = found
    oldest = min(t.cc for t in archs.targets)
    newer = [
        p.compute_capability
        for p in s.kb.gpu_products
        if p.product_class != "embedded" and p.compute_capability >= oldest
    ]
    return [line if line is not None else 0] if newer and all(archs.covers(cc) for cc in newer) else []


def gpu_newer_than_build(s: Situation, _: str | None) -> list[int]:
    verdict = s.arch_verdict()
    return (verdict[1] or [0]) if verdict and verdict[0] == "newer" else []


def gpu_recent_arch(s: Situation, _: str | None) -> list[int]:
    """A GPU in the log is of an architecture that arrived within the last two CUDA majors (with
    CUDA 13 the newest, Blackwell and later): a build that refuses it is older than the GPU."""
    newest = max((a.first_cuda for a in s.kb.architectures), default=None)
    if newest is None:
        return []
    since = Version.of(max(newest.major - 1, 0), 0)
    for gpu in s.gpus:
        arch = s.kb.architecture_of_cc(gpu.cc) if gpu.cc is not None else None
        if arch is not None and arch.first_cuda >= since:
            return [gpu.line] if gpu.line is not None else [0]
    return []


def driver_lacks_symbol(s: Situation, _: str | None) -> list[int]:
    """A program asked libcuda for a driver-API function it does not have: the driver predates it."""
    return _lines(s.facts.driver_symbol)


def cpu_build(s: Situation, _: str | None) -> list[int]:
    return _lines(s.facts.cpu_build)


def no_gpu_visible(s: Situation, _: str | None) -> list[int]:
    facts = s.facts
    if facts.no_gpu_collected and facts.cuda_available and facts.cuda_available.value is False and not facts.cpu_build:
        return _lines(facts.cuda_available, facts.no_gpu_collected)
    return []


def kernel_module_differs(s: Situation, _: str | None) -> list[int]:
    module = s.facts.kernel_module
    library = s.facts.driver
    if s.host is not None and s.host.driver.kernel_module and s.host.driver.version:
        differs = Version.parse_or_none(s.host.driver.kernel_module) != Version.parse_or_none(s.host.driver.version)
        return (_lines(module, library) or [0]) if differs else []
    if module and library and module.value != library.value:
        return _lines(module, library)
    return []


def docker_run_without_gpu(s: Situation, _: str | None) -> list[int]:
    runs = s.facts.docker_runs
    if runs and not any(run.value for run in runs):
        return [run.line for run in runs]
    return []


def smi_error(s: Situation, value: str | None) -> list[int]:
    fact = s.facts.smi_error
    return [fact.line] if fact is not None and fact.value == value else []


def cuda_error(s: Situation, value: str | None) -> list[int]:
    line = s.facts.cuda_errors.get(int(value)) if value and value.isdigit() else None
    return [line] if line is not None else []


def cuda_versions_differ(s: Situation, _: str | None) -> list[int]:
    """Two of: the driver's CUDA (nvidia-smi), the toolkit (nvcc), torch's bundled runtime, the image's CUDA."""
    facts = s.facts
    found = [f for f in (facts.driver_cuda, facts.toolkit_cuda, facts.torch_cuda, facts.image_cuda) if f is not None]
    if len({f.value.truncate(2) for f in found}) >= 2:
        return _lines(*found)
    return []


def several_toolkits(s: Situation, _: str | None) -> list[int]:
    """The log lists CUDA toolkits of two or more versions side by side (/usr/local/cuda-X.Y)."""
    return sorted(s.facts.toolkit_dirs.values()) if len(s.facts.toolkit_dirs) >= 2 else []


def smi_banner_works(s: Situation, _: str | None) -> list[int]:
    """nvidia-smi printed its banner: the driver is loaded and reports the newest CUDA it supports."""
    facts = s.facts
    return _lines(facts.driver) if facts.driver is not None and facts.driver_cuda is not None else []


def in_container(s: Situation, _: str | None) -> list[int]:
    return _lines(s.facts.container)


def oom_held_elsewhere(s: Situation, _: str | None) -> list[int]:
    fact = s.facts.oom_memory
    return [fact.line] if fact is not None and fact.value.held_elsewhere else []


def memory_nearly_full(s: Situation, _: str | None) -> list[int]:
    """A failing library reported the GPU's memory under 5% free."""
    fact = s.facts.free_fraction
    return [fact.line] if fact is not None and fact.value < 0.05 else []


def nvcc_rejects_arch(s: Situation, direction: str | None) -> list[int]:
    """nvcc refused a GPU architecture: "older" when the architecture was dropped by a CUDA
    release (a toolkit too new for that GPU), "newer" when it never was (a toolkit too old)."""
    fact = s.facts.nvcc_arch
    if fact is None:
        return []
    arch = s.kb.architecture_of_cc(fact.value)
    dropped = arch is not None and arch.removed_in_cuda is not None
    toolkit = s.facts.toolkit_cuda
    if dropped and arch is not None and arch.removed_in_cuda is not None and toolkit is not None:
        dropped = toolkit.value.truncate(2) >= arch.removed_in_cuda
    return [fact.line] if ("older" if dropped else "newer") == direction else []


def wheel_variant_unknown(s: Situation, _: str | None) -> list[int]:
    """pip was asked for a torch CUDA variant that was never published (cu122: a number read off
    nvidia-smi's "CUDA Version"), judged only within the range of variants the knowledge base lists."""
    fact = s.facts.wheel_variant
    if fact is None:
        return []
    published = release_variants(s)
    if published:  # torch==2.6.0+cu121: that release was published for other CUDA variants only
        return [] if fact.value in published else [fact.line]
    known = {w.variant for w in s.kb.torch_wheels if w.cuda is not None}
    lowest = min((w.cuda for w in s.kb.torch_wheels if w.cuda is not None), default=None)
    asked = _variant_cuda(fact.value)
    if asked is None or lowest is None or asked < lowest or fact.value in known:
        return []
    return [fact.line]


def release_variants(s: Situation) -> tuple[str, ...]:
    """The CUDA variants published for the torch release pinned beside the asked variant (empty
    when the log pins none or the knowledge base does not list that release)."""
    pinned = s.facts.wheel_torch
    release = s.kb.torch_release(pinned.value) if pinned is not None else None
    return tuple(v for v in release.variants if v.startswith("cu")) if release is not None else ()


def _variant_cuda(variant: str) -> Version | None:
    digits = variant.removeprefix("cu")
    return Version.of(int(digits[:-1]), int(digits[-1])) if digits.isdigit() and len(digits) >= 2 else None


def tensorflow_at_least(s: Situation, version: str | None) -> list[int]:
    """The log shows TensorFlow at or above ``version`` (e.g. 2.11: no GPU on native Windows)."""
    fact = s.facts.versions.get("tensorflow")
    have = Version.parse_or_none(str(fact.value).split("+")[0]) if fact is not None else None
    floor = Version.parse_or_none(version or "")
    return [fact.line] if fact is not None and have is not None and floor is not None and have >= floor else []


def _requirement_outcomes(s: Situation) -> tuple[bool, bool, int] | None:
    """The log's NVIDIA_REQUIRE_CUDA judged against the HOST, as the container runtime would:
    (start refused, starts only through a forward-compatibility clause on an ineligible GPU).

    A GPU's NVML brand changes with the driver (Tesla T4 is "Tesla" on old drivers, "NVIDIA" on
    new ones): a real host's reported brand is used; for a GPU known only by name every brand
    the product has shown counts, and the most favourable outcome is taken.
    """
    fact = s.facts.require_expression
    if fact is None or s.host is None or s.driver is None:
        return None
    from gpu_preflight.core.errors import UsageError
    from gpu_preflight.images.nvidia_require import (
        DeviceFacts,
        brand_id,
        evaluate,
        requirements_from_env,
    )

    try:
        requirements = requirements_from_env({"NVIDIA_REQUIRE_CUDA": str(fact.value)})
    except UsageError:
        return None
    refused = needs_compat = False
    host_brands = {g.name: g.brand for g in s.host.gpus if not g.assumed}  # assumed: typical brand only
    for gpu in s.gpus or [GpuView(None, None, None)]:
        reported = host_brands.get(gpu.name) if gpu.name is not None else None
        brands: list[str | None] = (
            [reported] if reported else list(gpu.product.brands) if gpu.product is not None else []
        )
        outcomes = [
            evaluate(
                requirements,
                [DeviceFacts(cuda=s.driver_cuda, driver=s.driver, arch=gpu.cc, brand=brand_id(b) if b else None)],
            )
            for b in brands or [None]
        ]
        passing = [o for o in outcomes if o.satisfied]
        if not passing:
            refused = True
        elif all(o.exceptions for o in passing) and not (
            gpu.product is not None and gpu.product.forward_compat_eligible
        ):
            needs_compat = True
    return refused, needs_compat, fact.line


def requirement_fails_on_host(s: Situation, _: str | None) -> list[int]:
    outcome = _requirement_outcomes(s)
    return [outcome[2]] if outcome and outcome[0] else []


def requirement_needs_compat_on_host(s: Situation, _: str | None) -> list[int]:
    """The image starts only through a forward-compatibility clause, on a GPU that cannot use it."""
    outcome = _requirement_outcomes(s)
    return [outcome[2]] if outcome and not outcome[0] and outcome[1] else []


CONDITIONS: dict[str, Condition] = {
    "requirement_fails_on_host": requirement_fails_on_host,
    "requirement_needs_compat_on_host": requirement_needs_compat_on_host,
    "driver_older_than_build": driver_older_than_build,
    "gpu_older_than_build": gpu_older_than_build,
    "gpu_newer_than_build": gpu_newer_than_build,
    "build_covers_every_newer_gpu": build_covers_every_newer_gpu,
    "cpu_build": cpu_build,
    "driver_lacks_symbol": driver_lacks_symbol,
    "no_gpu_visible": no_gpu_visible,
    "kernel_module_differs": kernel_module_differs,
    "docker_run_without_gpu": docker_run_without_gpu,
    "smi_error": smi_error,
    "cuda_error": cuda_error,
    "cuda_versions_differ": cuda_versions_differ,
    "smi_banner_works": smi_banner_works,
    "several_toolkits": several_toolkits,
    "in_container": in_container,
    "gpu_arch_dropped": gpu_arch_dropped,
    "gpu_recent_arch": gpu_recent_arch,
    "oom_held_elsewhere": oom_held_elsewhere,
    "memory_nearly_full": memory_nearly_full,
    "nvcc_rejects_arch": nvcc_rejects_arch,
    "tensorflow_at_least": tensorflow_at_least,
    "wheel_variant_unknown": wheel_variant_unknown,
}


def parse_condition(text: str) -> tuple[str, str | None]:
    """``"cuda_error = 804"`` -> ("cuda_error", "804"); ``"cpu_build"`` -> ("cpu_build", None)."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if name not in CONDITIONS:
        raise ValueError(f"unknown condition {name!r} (known: {', '.join(sorted(CONDITIONS))})")
    return name, (value.strip() if sep else None)


def holds(s: Situation, condition: tuple[str, str | None]) -> list[int]:
    name, value = condition
    return CONDITIONS[name](s, value)
