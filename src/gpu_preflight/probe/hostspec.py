"""Which machine to judge: the live probe, a snapshot, an nvidia-smi XML dump, and what-if
``--assume-*`` values applied on top of any of them (docs/architecture.md, "Command-line flags":
the HOST flags)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.host import Gpu, Host
from gpu_preflight.core.limits import MAX_HOST_GPUS, MAX_TIMEOUT_S
from gpu_preflight.core.readers import load_json, read_input
from gpu_preflight.core.units import check_seconds, parse_memory_mib
from gpu_preflight.core.versions import Version, VersionError

if TYPE_CHECKING:
    from gpu_preflight.knowledge import KnowledgeBase


@dataclass(frozen=True)
class HostSpec:
    snapshot: str | None = None
    nvidia_smi_xml: str | None = None
    assume_driver: str | None = None
    assume_gpus: tuple[str, ...] = ()
    python: str | None = None
    deep: bool = False
    timeout: float = 15.0
    probe_live: bool = True  # False: without a snapshot or dump, start from an empty what-if host

    @property
    def describes_another_host(self) -> bool:
        """A snapshot, a dump or a what-if value: the machine judged is not (only) this one."""
        return bool(self.snapshot or self.nvidia_smi_xml or self.assume_driver or self.assume_gpus)


def resolve_host(spec: HostSpec, db: str | None = None) -> Host:
    if spec.snapshot and spec.nvidia_smi_xml:
        raise UsageError("--snapshot and --nvidia-smi-xml each describe a whole host: give one")
    check_seconds(spec.timeout, "--timeout", MAX_TIMEOUT_S)
    # Parse the what-if values first: a typo should not cost a probe.
    assumed_driver = _parse_driver(spec.assume_driver) if spec.assume_driver is not None else None
    if len(spec.assume_gpus) > MAX_HOST_GPUS:
        raise UsageError(f"--assume-gpu given {len(spec.assume_gpus)} times: at most {MAX_HOST_GPUS} GPUs")
    assumed_gpus = [_split_gpu(text) for text in spec.assume_gpus]

    host = _base_host(spec)
    if not (assumed_driver or assumed_gpus or any(g.compute_capability is None for g in host.gpus)):
        return host  # nothing to look up: the knowledge base is not loaded
    from gpu_preflight.knowledge import load_knowledge

    kb = load_knowledge(db)
    if assumed_driver:
        host.driver.version = str(assumed_driver)
        cuda = kb.max_cuda_for_driver(assumed_driver)
        host.driver.cuda = str(cuda.truncate(2)) if cuda else None
        host.driver.source = "assumed"
        host.driver.kernel_module = None  # a what-if driver has no separately loaded module
    if assumed_gpus:
        host.gpus = [_assumed_gpu(kb, index, name, memory) for index, (name, memory) in enumerate(assumed_gpus)]
    fill_compute_capability(kb, host)
    return host


def _base_host(spec: HostSpec) -> Host:
    if spec.snapshot:
        data = read_input(spec.snapshot, "--snapshot")
        return Host.from_dict(load_json(data, f"--snapshot {spec.snapshot}"), f"--snapshot {spec.snapshot}")
    if spec.nvidia_smi_xml:
        from gpu_preflight.probe.smi_xml import parse_smi_xml

        data = read_input(spec.nvidia_smi_xml, "--nvidia-smi-xml")
        return parse_smi_xml(data, origin=f"--nvidia-smi-xml {spec.nvidia_smi_xml}")
    if not spec.probe_live:
        return Host(source="assumed")
    from gpu_preflight.probe import ProbeOptions, probe_host

    return probe_host(ProbeOptions(python=spec.python, deep=spec.deep, timeout=spec.timeout))


def _parse_driver(text: str) -> Version:
    if not text.strip():
        raise UsageError("--assume-driver is empty: give a driver version (examples: 550.54.15, 535)")
    if len(text) > 64:
        raise UsageError(f"--assume-driver {text[:40]!r}...: not a driver version (examples: 550.54.15, 535)")
    try:
        version = Version.parse(text)
    except VersionError:
        raise UsageError(f"--assume-driver {text!r}: not a driver version (examples: 550.54.15, 535)") from None
    if not 100 <= version.major <= 9999 or len(version.parts) > 4:
        raise UsageError(f"--assume-driver {text!r}: not a driver version (examples: 550.54.15, 535)")
    return version


def _split_gpu(text: str) -> tuple[str, int | None]:
    name, sep, memory = text.rpartition(":")
    if not sep:
        name, memory = text, ""
    name = " ".join(name.split())
    if not name or len(name) > 200 or not name.isprintable():
        raise UsageError(f"--assume-gpu {text[:80]!r}: expected NAME[:MEMORY], e.g. 'Tesla T4:16GiB'")
    try:
        return name, (parse_memory_mib(memory) if memory else None)
    except UsageError as exc:
        raise UsageError(f"--assume-gpu {text[:80]!r}: {exc}") from None


def _assumed_gpu(kb: KnowledgeBase, index: int, name: str, memory_mib: int | None) -> Gpu:
    product = kb.gpu_product(name=name)
    if product is None:
        raise UsageError(f"--assume-gpu {name!r}: unknown GPU product (see 'preflight db')")
    return Gpu(
        index=index,
        name=name,  # as the user wrote it; the product may be a family row ("RTX 50xx")
        compute_capability=str(product.compute_capability),
        compute_capability_source="knowledge-base",
        memory_total_mib=memory_mib or product.memory_mib,
        memory_used_mib=0,
        brand=product.brand,
        architecture=product.architecture,
        assumed=True,
    )


def fill_compute_capability(kb: KnowledgeBase, host: Host) -> None:
    """XML dumps and old drivers do not report the compute capability; the product does."""
    for gpu in host.gpus:
        if gpu.compute_capability is None:
            product = kb.gpu_product(name=gpu.name, pci_device_id=gpu.pci_device_id)
            if product is not None:
                gpu.compute_capability = str(product.compute_capability)
                gpu.compute_capability_source = "knowledge-base"
