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
        assume_driver(host, assumed_driver, kb)
    if assumed_gpus:
        host.gpus = [_assumed_gpu(kb, index, *assumed) for index, assumed in enumerate(assumed_gpus)]
    fill_compute_capability(kb, host)
    return host


def assume_driver(host: Host, driver: Version, kb: KnowledgeBase) -> None:
    """What-if: ``host`` with ``driver`` installed (--assume-driver, and the plan's check of its steps)."""
    host.driver.version = str(driver)
    cuda = kb.max_cuda_for_driver(driver, host.driver.platform or "linux")
    host.driver.cuda = str(cuda.truncate(2)) if cuda else None
    host.driver.source = "assumed"
    host.driver.kernel_module = None  # a what-if driver has no separately loaded module


def _base_host(spec: HostSpec) -> Host:
    if spec.snapshot or spec.nvidia_smi_xml or not spec.probe_live:
        host = _described_host(spec) if spec.snapshot or spec.nvidia_smi_xml else Host(source="assumed")
        if spec.python:
            _frameworks_of(host, spec)
        return host
    from gpu_preflight.probe import ProbeOptions, probe_host

    return probe_host(ProbeOptions(python=spec.python, deep=spec.deep, timeout=spec.timeout))


def _described_host(spec: HostSpec) -> Host:
    if spec.snapshot:
        data = read_input(spec.snapshot, "--snapshot")
        return Host.from_dict(load_json(data, f"--snapshot {spec.snapshot}"), f"--snapshot {spec.snapshot}")
    assert spec.nvidia_smi_xml is not None
    from gpu_preflight.probe.smi_xml import parse_smi_xml

    data = read_input(spec.nvidia_smi_xml, "--nvidia-smi-xml")
    return parse_smi_xml(data, origin=f"--nvidia-smi-xml {spec.nvidia_smi_xml}")


def _frameworks_of(host: Host, spec: HostSpec) -> None:
    """``--python PATH`` on a described host: that interpreter's frameworks replace the host's
    (an nvidia-smi dump has none), so "would this venv run on that machine?" can be asked."""
    from gpu_preflight.probe.frameworks import probe_frameworks

    host.frameworks = []
    probe_frameworks(host, spec.python, spec.timeout)
    if spec.deep:
        from gpu_preflight.probe import ProbeOptions
        from gpu_preflight.probe.deep import probe_torch_deep

        probe_torch_deep(host, spec.python, ProbeOptions(timeout=spec.timeout).deep_timeout)


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


ASSUME_GPU_FORM = "expected NAME[:MEMORY][:cc=MAJOR.MINOR], e.g. 'Tesla T4:16GiB' or 'NEW GPU:96GiB:cc=10.3'"


def _split_gpu(text: str) -> tuple[str, int | None, Version | None]:
    """``NAME[:MEMORY][:cc=X.Y]`` -> (name, MiB or None, compute capability or None); the
    trailing fields in either order, the name is what is left (it may itself hold a ':')."""
    rest, memory, cc = text, "", None
    for _ in range(2):
        head, sep, field = rest.rpartition(":")
        value = field.strip()
        if not sep:
            break
        if value.lower().startswith("cc="):
            if cc is not None:
                raise UsageError(f"--assume-gpu {text[:80]!r}: compute capability given twice; {ASSUME_GPU_FORM}")
            cc = _parse_cc(text, value[3:])
        elif not memory:
            memory = value
        else:
            break
        rest = head
    name = " ".join(rest.split())
    if not name or len(name) > 200 or not name.isprintable():
        raise UsageError(f"--assume-gpu {text[:80]!r}: {ASSUME_GPU_FORM}")
    try:
        return name, (parse_memory_mib(memory) if memory else None), cc
    except UsageError as exc:
        raise UsageError(f"--assume-gpu {text[:80]!r}: {exc}") from None


def _parse_cc(text: str, value: str) -> Version:
    """``10.3`` -> the compute capability a user states for a GPU the knowledge base lacks."""
    try:
        cc = Version.parse(value.strip()) if value.strip() and len(value) <= 8 else None
    except VersionError:
        cc = None
    if cc is None or len(cc.parts) != 2 or not 1 <= cc.major <= 99 or cc.parts[1] > 9:
        raise UsageError(f"--assume-gpu {text[:80]!r}: compute capability {value[:16]!r} is not MAJOR.MINOR (cc=10.3)")
    return cc


def _assumed_gpu(kb: KnowledgeBase, index: int, name: str, memory_mib: int | None, cc: Version | None = None) -> Gpu:
    """A what-if GPU: a known product, or any name with its compute capability (``cc=10.3``)."""
    product = kb.gpu_product(name=name)
    if cc is None:
        if product is None:
            raise UsageError(
                f"--assume-gpu {name!r}: unknown GPU product (see 'preflight db'); "
                f"give its compute capability: '{name}:cc=MAJOR.MINOR'"
            )
        cc, cc_source = product.compute_capability, "knowledge-base"
    else:
        cc_source = "assumed"  # the user's own word wins over the product's
    architecture = kb.architecture_of_cc(cc)
    return Gpu(
        index=index,
        name=name,  # as the user wrote it; the product may be a family row ("RTX 50xx")
        compute_capability=str(cc),
        compute_capability_source=cc_source,
        memory_total_mib=memory_mib or (product.memory_mib if product else None),
        memory_used_mib=0,
        brand=product.brand if product else None,
        architecture=product.architecture
        if product is not None and cc_source == "knowledge-base"
        else (architecture.name if architecture else None),
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
