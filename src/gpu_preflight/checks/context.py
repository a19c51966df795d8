"""What every check is handed: the host, the targets, the knowledge base (loaded on first use)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from gpu_preflight.core.findings import Finding
from gpu_preflight.core.host import Host
from gpu_preflight.core.visible_devices import resolve_visible_devices


@dataclass
class CheckContext:
    host: Host
    db: str | None = None
    targets: tuple = ()  # TorchTarget / CudaTarget; empty: judge what is installed
    model_plan: object = None  # a fit.MemoryPlan for --model
    images: tuple = ()  # images.ImageFacts of --image / --dockerfile / --image-config
    require_cuda: tuple = ()  # --require-cuda values (already validated)
    container_mode: str | None = None  # "cdi": containers get GPUs through CDI (no NVIDIA_REQUIRE_* gate)
    _kb: object = field(default=None, repr=False)

    @property
    def kb(self):
        """The knowledge base, loaded on first use."""
        if self._kb is None:
            from gpu_preflight.knowledge import load_knowledge

            self._kb = load_knowledge(self.db)
        return self._kb

    @property
    def visible_gpus(self) -> list:
        """The GPUs CUDA programs will see: all, or those CUDA_VISIBLE_DEVICES keeps, in its order."""
        value = self.host.env.get("CUDA_VISIBLE_DEVICES")
        if value is None:
            return list(self.host.gpus)
        return resolve_visible_devices(value, self.host.gpus).visible


Check = Callable[[CheckContext], Iterable[Finding]]
