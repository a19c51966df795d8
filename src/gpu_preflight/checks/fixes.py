"""Fix texts a person can act on, shared by the checks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from gpu_preflight.core.host import Gpu, Host
from gpu_preflight.core.versions import Version, driver_branch

if TYPE_CHECKING:
    from gpu_preflight.knowledge import KnowledgeBase

RELOAD_MODULES = "sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia && sudo modprobe nvidia"


class DriverFix(str):
    """A fix that asks for a driver: its words, plus the floor they name, so that one place
    (driver_advice.py) can word it for this host and the plan can combine several into one step."""

    minimum: Version
    branch: int
    platform: str
    reason: str
    minor_compat: Version | None

    def __new__(
        cls, text: str, *, minimum: Version, branch: int, platform: str, reason: str, minor_compat: Version | None
    ) -> DriverFix:
        fix = super().__new__(cls, text)
        fix.minimum, fix.branch, fix.platform = minimum, branch, platform
        fix.reason, fix.minor_compat = reason, minor_compat
        return fix

    # Immutable like str: a copy (dataclasses.asdict deep-copies findings) is the object itself.
    def __copy__(self) -> DriverFix:
        return self

    def __deepcopy__(self, memo: object) -> DriverFix:
        return self

    def __reduce__(self) -> tuple[type[str], tuple[str]]:
        return (str, (str(self),))  # pickled as the plain text

    def reworded(self, text: str) -> DriverFix:
        return DriverFix(
            text,
            minimum=self.minimum,
            branch=self.branch,
            platform=self.platform,
            reason=self.reason,
            minor_compat=self.minor_compat,
        )

    @property
    def exact(self) -> str:
        """``>= 580.65.06``, or ``from branch R580 or newer`` for a bare branch floor."""
        return f">= {self.minimum}" if len(self.minimum.parts) > 1 else f"from branch R{self.branch} or newer"

    @property
    def compat_note(self) -> str:
        if self.minor_compat and self.minor_compat < self.minimum:
            return f"; any driver >= {self.minor_compat} runs it through minor-version compatibility"
        return ""


def install_driver(
    minimum: Version,
    reason: str = "",
    minor_compat: Version | None = None,
    branch: int | None = None,
    platform: str = "linux",
) -> DriverFix:
    """``Install NVIDIA driver >= 580.65.06 (branch R580), then reboot``, worded for the host
    later (driver_advice.word_driver_fixes). ``branch`` defaults to the branch of ``minimum`` read
    as a Linux driver (or a bare branch such as 615); a Windows floor must say its branch
    (Windows 551.78 is R550)."""
    branch = branch or driver_branch(minimum)
    fix = DriverFix("", minimum=minimum, branch=branch, platform=platform, reason=reason, minor_compat=minor_compat)
    why = f" {reason}" if reason else ""
    return fix.reworded(f"Install NVIDIA driver {fix.exact}{why} (branch R{branch}), then reboot{fix.compat_note}.")


def branch_blocker(kb: KnowledgeBase, gpus: Iterable[Gpu], branch: int) -> str | None:
    """Why no driver of ``branch`` can serve this host's GPUs (Kepler ends at R470; Maxwell,
    Pascal and Volta at R580), or None when nothing stands in the way."""
    for gpu in gpus:
        cc = Version.parse_or_none(gpu.compute_capability)
        arch = kb.architecture_of_cc(cc) if cc else None
        if arch and arch.last_driver_branch is not None and branch > arch.last_driver_branch:
            return (
                f"no driver upgrade fixes this: GPU {gpu.index} ({gpu.name}, {arch.name}) is supported "
                f"up to branch R{arch.last_driver_branch}, and this needs R{branch} or newer"
            )
    return None


def torch_wheel_command(torch_version: str, variant: str, host: Host | None = None) -> str:
    """The pip command for an official torch wheel; where conda installed this host's torch, it
    is removed with conda first, so that conda's and pip's copies do not mix in one environment."""
    command = f"pip install torch=={torch_version} --index-url https://download.pytorch.org/whl/{variant}"
    installed = next((f for f in host.frameworks if f.name == "torch"), None) if host else None
    return f"conda remove pytorch, then {command}" if installed and installed.installer == "conda" else command
