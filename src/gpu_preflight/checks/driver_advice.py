"""Driver fixes worded for this host: the branch to move to and the commands of its OS.

Checks state the driver they need (fixes.DriverFix: a floor and its branch). Which branch to
install is a separate question: the oldest branch NVIDIA still maintains as production or
long-term support that reaches the floor, never a short-lived or dead one (R520 for CUDA 11.8
is long out of support), and never past the last branch a GPU here is supported by. How to
install it depends on the OS (driver_install.toml): apt on Ubuntu, dnf module streams on RHEL,
the Windows host's driver under WSL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from gpu_preflight.checks.context import CheckContext
from gpu_preflight.checks.fixes import DriverFix
from gpu_preflight.core.findings import Finding
from gpu_preflight.core.host import Gpu, Host
from gpu_preflight.core.versions import Version
from gpu_preflight.knowledge import KnowledgeBase
from gpu_preflight.knowledge.driver_lifecycle import lifecycle, recommended_branch

OPEN_MODULES_FROM_CC = Version.of(7, 5)  # open GPU kernel modules: Turing and newer only (driver guide)
NOT_ON_LINUX = (("windows",), ("wsl",))  # the driver comes from nvidia.com on Windows: no branch advice


@dataclass(frozen=True)
class DriverChoice:
    """The branch to install for a floor, and why that one."""

    branch: int
    life: str = ""  # "long-term support, supported until Jun 2028"
    note: str = ""  # "R520 itself is no longer maintained"

    @property
    def named(self) -> str:
        return f"R{self.branch}" + (f" ({self.life})" if self.life else "")

    @property
    def words(self) -> str:
        return f"R{self.branch}" + (f", {self.life}" if self.life else "") + (f"; {self.note}" if self.note else "")


def choose_branch(kb: KnowledgeBase, gpus: Sequence[Gpu], floor_branch: int, today: date) -> DriverChoice:
    """The oldest maintained production/long-term branch >= the floor's that every GPU here is
    still supported by; else the newest branch these GPUs take (Kepler ends at R470)."""
    cap = _last_branch_for(kb, gpus)
    candidate = recommended_branch(kb.driver_branches, floor_branch, today)
    if candidate is None or (cap is not None and candidate.branch > cap):
        fits = [b for b in kb.driver_branches if b.branch >= floor_branch and (cap is None or b.branch <= cap)]
        candidate = fits[-1] if fits else None
    floor_row = next((b for b in kb.driver_branches if b.branch == floor_branch), None)
    floor_dead = floor_row is not None and lifecycle(floor_row).ended(today)
    if candidate is None or candidate.branch == floor_branch:
        if floor_dead:
            return DriverChoice(floor_branch, note="no longer maintained, and the newest branch these GPUs take")
        return DriverChoice(floor_branch, lifecycle(floor_row).words if floor_row else "")
    note = f"R{floor_branch} itself is no longer maintained" if floor_dead else ""
    return DriverChoice(candidate.branch, lifecycle(candidate).words, note)


@dataclass(frozen=True)
class InstallAdvice:
    """How to install a branch on this host's OS: commands where sourced, else where to read."""

    system: str  # "Ubuntu", "RHEL 8/9 family", "" when the OS is not known
    commands: tuple[str, ...]
    note: str = ""  # what to do when there is no command, or the other flavour's command

    def line(self) -> str:
        said = " && ".join(self.commands)
        if not self.system:
            return f"Ubuntu: {said}; other systems: the NVIDIA driver installation guide"
        if not said:
            return f"{self.system}: {self.note}"
        return f"{self.system}: {said}" + (f" ({self.note})" if self.note else "")


def install_advice(kb: KnowledgeBase, host: Host, branch: int, gpus: Sequence[Gpu]) -> InstallAdvice:
    """How to install ``branch`` on this host's OS (driver_install.toml)."""
    ids = host.os_ids()
    install = kb.driver_install(ids, host.platform.get("os_version")) if ids else None
    if install is None:  # the OS is not known (a snapshot, an XML dump): the common case and the guide
        ubuntu = kb.driver_install(("ubuntu",))
        return InstallAdvice("", ubuntu.commands(branch, open_modules=True) if ubuntu else ())
    takes_open = _takes_open_modules(kb, gpus)
    commands = install.commands(branch, open_modules=takes_open is not False)
    if not commands:
        return InstallAdvice(install.name, (), f"{install.hint or 'see'} ({install.guide})")
    other = ""
    if takes_open is None and install.proprietary:
        other = f"GPUs before Turing: {' && '.join(install.commands(branch, open_modules=False))}"
    return InstallAdvice(install.name, commands, other)


def branch_for(ctx: CheckContext, fix: DriverFix) -> DriverChoice:
    """The branch to install for ``fix`` on this host: the fix's own where the driver comes from
    nvidia.com (Windows, WSL), else the recommended one (choose_branch)."""
    if fix.platform == "windows" or ctx.host.os_ids()[:1] in NOT_ON_LINUX:
        return DriverChoice(fix.branch)
    return choose_branch(ctx.kb, ctx.visible_gpus, fix.branch, ctx.today)


def word_driver_fix(ctx: CheckContext, fix: DriverFix) -> DriverFix:
    why = f" {fix.reason}" if fix.reason else ""
    choice = branch_for(ctx, fix)
    where = install_advice(ctx.kb, ctx.host, choice.branch, ctx.visible_gpus).line()
    return fix.reworded(
        f"Install NVIDIA driver {fix.exact}{why} ({choice.words}; {where}), then reboot{fix.compat_note}."
    )


def word_driver_fixes(ctx: CheckContext, findings: list[Finding]) -> list[Finding]:
    """The findings with each DriverFix worded for this host (once per distinct fix)."""
    worded: dict[str, DriverFix] = {}

    def word(fix: str) -> str:
        if not isinstance(fix, DriverFix):
            return fix
        if fix not in worded:
            worded[fix] = word_driver_fix(ctx, fix)
        return worded[fix]

    return [
        replace(f, fix=[word(fix) for fix in f.fix]) if any(isinstance(x, DriverFix) for x in f.fix) else f
        for f in findings
    ]


def _takes_open_modules(kb: KnowledgeBase, gpus: Sequence[Gpu]) -> bool | None:
    """True: every GPU takes the open kernel modules; False: one needs the proprietary ones;
    None: no GPU's compute capability is known."""
    known = [cc for g in gpus if (cc := Version.parse_or_none(g.compute_capability)) is not None]
    return all(cc >= OPEN_MODULES_FROM_CC for cc in known) if known else None


def _last_branch_for(kb: KnowledgeBase, gpus: Sequence[Gpu]) -> int | None:
    """The last driver branch every GPU here is supported by (None: no limit known)."""
    last = []
    for gpu in gpus:
        cc = Version.parse_or_none(gpu.compute_capability)
        arch = kb.architecture_of_cc(cc) if cc else None
        if arch is not None and arch.last_driver_branch is not None:
            last.append(arch.last_driver_branch)
    return min(last) if last else None
