"""`preflight fit`: a per-GPU memory plan for a model before it is downloaded or loaded.

    model = resolve_model("WeiboAI/VibeThinker-1.5B")         # directory, profile, cache or Hub
    plan = plan_memory(model, dtype="bfloat16", context=32768, batch=4, engine="vllm")
    findings = fit_findings(plan, host)                         # out-of-memory, unsupported-dtype...

The plan is host-independent; ``fit_devices(plan, host)`` gives each GPU's verdict. Facts
(dtype sizes, architecture families, engine rules, overheads, model profiles) are data in
rules.toml and models.toml beside this file.
"""

from gpu_preflight.fit.findings import fit_findings
from gpu_preflight.fit.plan import (
    Breakdown,
    DeviceFit,
    MemoryPlan,
    Settings,
    fit_device,
    fit_devices,
    plan_memory,
)
from gpu_preflight.fit.sources import Model, resolve_model

__all__ = [
    "Breakdown",
    "DeviceFit",
    "MemoryPlan",
    "Model",
    "Settings",
    "fit_device",
    "fit_devices",
    "fit_findings",
    "plan_memory",
    "resolve_model",
]
