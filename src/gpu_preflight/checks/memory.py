"""``doctor --model``: the fit plan's findings (out-of-memory, unsupported-dtype) per GPU."""

from __future__ import annotations

from collections.abc import Iterator

from gpu_preflight.checks.context import CheckContext
from gpu_preflight.core.findings import Finding


def check_model_memory(ctx: CheckContext) -> Iterator[Finding]:
    if ctx.model_plan is None:
        return
    from gpu_preflight.fit import fit_findings

    for finding in fit_findings(ctx.model_plan, ctx.host):
        if finding.code != "fit-no-gpu":  # the driver and GPU checks already say there is none
            yield finding
