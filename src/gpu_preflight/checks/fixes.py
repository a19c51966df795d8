"""Fix texts a person can act on, shared by the checks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from gpu_preflight.core.host import Gpu
from gpu_preflight.core.versions import Version, driver_branch

if TYPE_CHECKING:
    from gpu_preflight.knowledge import KnowledgeBase

RELOAD_MODULES = "sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia && sudo modprobe nvidia"


def install_driver(
    minimum: Version,
    reason: str = "",
    minor_compat: Version | None = None,
    branch: int | None = None,
    platform: str = "linux",
) -> str:
    """``Install NVIDIA driver >= 580.65.06 (branch R580; Ubuntu: nvidia-driver-580), then reboot``.
    ``branch`` defaults to the branch of ``minimum`` read as a Linux driver (or a bare branch such as
    615); a Windows floor must say its branch (Windows 551.78 is R550)."""
    branch = branch or driver_branch(minimum)
    exact = f">= {minimum}" if len(minimum.parts) > 1 else f"from branch R{branch} or newer"
    why = f" {reason}" if reason else ""
    floor = (
        f"; any driver >= {minor_compat} runs it through minor-version compatibility"
        if minor_compat and minor_compat < minimum
        else ""
    )
    where = "from nvidia.com/drivers" if platform == "windows" else f"Ubuntu: sudo apt install nvidia-driver-{branch}"
    return f"Install NVIDIA driver {exact}{why} (branch R{branch}; {where}), then reboot{floor}."


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


def torch_wheel_command(torch_version: str, variant: str) -> str:
    return f"pip install torch=={torch_version} --index-url https://download.pytorch.org/whl/{variant}"
