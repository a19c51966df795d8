"""Is the knowledge base older than what this host and its targets name?

Offline, a release's date is known only when the knowledge base holds it, and then the data is
not older than it. What the base can see is the other case: a release *newer than anything it
knows* (driver branch R650 when its newest is R620, torch 2.16 when its newest is 2.14, CUDA
13.6 when its table ends at 13.5). Such a release came out after the data was compiled, so the
data is stale for this host by an amount that cannot be told without the network: the finding
says that, names each release, the data's date and its newest source, and never guesses a date.
"""

from __future__ import annotations

from collections.abc import Iterator

from gpu_preflight.checks.context import CheckContext
from gpu_preflight.core.findings import Finding, Severity
from gpu_preflight.core.versions import Version
from gpu_preflight.knowledge.sources import newest_source


def check_data_age(ctx: CheckContext) -> Iterator[Finding]:
    newer = list(dict.fromkeys(_newer_than_the_base(ctx)))
    if not newer:
        return
    kb = ctx.kb
    data_date = kb.meta.date
    source = newest_source(kb.sources)
    newest = f"; its newest source is dated {source.date} ({source.key})" if source else ""
    yield Finding(
        code="data-age",
        severity=Severity.WARN,
        title=f"The knowledge base (data of {data_date}) predates {_join(newer)}",
        detail=(
            f"{'These releases' if len(newer) > 1 else 'This release'} came out after its data was compiled"
            f"{newest}. How much older it is cannot be told offline (no release date is known for a release "
            "the base does not hold); verdicts that involve these releases rest on the rules of their family "
            "(a CUDA major's driver floor, a branch's nearest known CUDA), not on rows of their own."
        ),
        evidence={"data_date": data_date, "newest_source_date": source.date if source else None, "newer": newer},
        fix=[
            "Update gpu-preflight (pip install -U gpu-preflight) for newer facts, or point --db / "
            "$GPU_PREFLIGHT_DB at updated data files."
        ],
    )


def _newer_than_the_base(ctx: CheckContext) -> Iterator[str]:
    """Each release the host or the targets name that is newer than the newest of its kind here."""
    kb, host = ctx.kb, ctx.host
    driver = Version.parse_or_none(host.driver.version)
    newest_branch = max(b.branch for b in kb.driver_branches)
    # A Linux driver's branch is its first number; Windows numbers run above their branch.
    if driver is not None and ctx.driver_platform == "linux" and driver.major > newest_branch:
        yield f"driver {driver} (R{driver.major}; newest branch known: R{newest_branch})"
    newest_cuda = max(r.version.truncate(2) for r in kb.toolkit_releases)
    cudas = [(Version.parse_or_none(host.driver.cuda), "the driver's CUDA")]
    cudas += [(Version.parse_or_none(t.version), "toolkit") for t in host.toolkits]
    cudas += [(t.cuda, "target CUDA") for t in ctx.targets if hasattr(t, "cuda") and isinstance(t.cuda, Version)]
    for cuda, what in cudas:
        if cuda is not None and cuda.truncate(2) > newest_cuda:
            yield f"{what} {cuda.truncate(2)} (newest CUDA known: {newest_cuda})"
    newest_torch = max(r.version for r in kb.torch_releases)
    torches = [f.version for f in host.frameworks if f.name == "torch"]
    torches += [v for t in ctx.targets if (v := getattr(t, "torch_version", None))]
    for text in torches:
        torch = Version.parse_or_none(text.split("+")[0])
        if torch is not None and torch.truncate(2) > newest_torch.truncate(2):
            yield f"torch {torch.truncate(2)} (newest torch known: {newest_torch.truncate(2)})"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" and {items[-1]}"
