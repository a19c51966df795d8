"""What every check is handed: the host, the targets, the knowledge base (loaded on first use)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from gpu_preflight.core.findings import Finding
from gpu_preflight.core.host import Gpu, Host
from gpu_preflight.core.visible_devices import resolve_visible_devices

if TYPE_CHECKING:  # annotations only: images and fit load when a check needs them, not before
    from gpu_preflight.fit.plan import MemoryPlan
    from gpu_preflight.images.resolve import ImageFacts
    from gpu_preflight.knowledge import KnowledgeBase
    from gpu_preflight.targets.model import CudaTarget, EngineTarget, TorchTarget


@dataclass
class CheckContext:
    host: Host
    db: str | None = None
    targets: tuple[TorchTarget | CudaTarget, ...] = ()  # empty: judge what is installed
    engines: tuple[EngineTarget, ...] = ()  # inference engines asked for (checks/engines.py)
    model_plan: MemoryPlan | None = None  # for --model
    images: tuple[ImageFacts, ...] = ()  # --image / --dockerfile / --image-config
    require_cuda: tuple[str, ...] = ()  # --require-cuda values (already validated)
    container_mode: str | None = None  # "cdi": containers get GPUs through CDI (no NVIDIA_REQUIRE_* gate)
    today: date = field(default_factory=date.today)  # what "still maintained" is measured against
    _kb: KnowledgeBase | None = field(default=None, repr=False)

    @property
    def kb(self) -> KnowledgeBase:
        """The knowledge base, loaded on first use."""
        if self._kb is None:
            from gpu_preflight.knowledge import load_knowledge

            self._kb = load_knowledge(self.db)
        return self._kb

    @property
    def visible_gpus(self) -> list[Gpu]:
        """The GPUs CUDA programs will see: all, or those CUDA_VISIBLE_DEVICES keeps, in its order."""
        value = self.host.env.get("CUDA_VISIBLE_DEVICES")
        if value is None:
            return list(self.host.gpus)
        return resolve_visible_devices(value, self.host.gpus).visible

    @property
    def driver_platform(self) -> str:
        """The platform whose driver tables apply: Linux unless the host says Windows (WSL included)."""
        return self.host.driver.platform or "linux"


Check = Callable[[CheckContext], Iterable[Finding]]
