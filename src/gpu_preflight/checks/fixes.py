"""Fix texts a person can act on, shared by the checks."""

from __future__ import annotations

from gpu_preflight.versions import Version

RELOAD_MODULES = "sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia && sudo modprobe nvidia"


def install_driver(minimum: Version, reason: str = "") -> str:
    """``Install NVIDIA driver >= 580.65.06 (branch R580; Ubuntu: nvidia-driver-580), then reboot``."""
    branch = minimum.major
    exact = f">= {minimum}" if len(minimum.parts) > 1 else f"from branch R{branch} or newer"
    why = f" {reason}" if reason else ""
    return f"Install NVIDIA driver {exact}{why} (branch R{branch}; Ubuntu: sudo apt install nvidia-driver-{branch}), then reboot."


def torch_wheel_command(torch_version: str, variant: str) -> str:
    return f"pip install torch=={torch_version} --index-url https://download.pytorch.org/whl/{variant}"
