"""Read plain ``nvidia-smi`` output: the banner line of its table, and its one-line failures.

The XML (``-q -x``) is the source a probe reads; plain output is what users paste into issues and
logs (``preflight explain``), and what a failed ``nvidia-smi -q -x`` prints. The banner changed
over the years (no ``CUDA Version`` before 410, 610 renames ``Driver Version``/``CUDA Version``
to ``KMD Version``/``CUDA UMD Version``), so it is read by field names, not positions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gpu_preflight.core.errors import UsageError

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_VERSION = r"([0-9]{1,9}(?:\.[0-9]{1,9}){0,3})"
_SMI = re.compile(r"NVIDIA-SMI\s+" + _VERSION)
_DRIVER = re.compile(r"\bDriver Version:\s*" + _VERSION)
_KMD = re.compile(r"\bKMD Version:\s*" + _VERSION)
_CUDA = re.compile(r"\bCUDA (?:UMD )?Version:\s*" + _VERSION)


@dataclass(frozen=True)
class SmiBanner:
    """The versions nvidia-smi reports about itself and the driver.

    ``driver_version`` is always the driver's (``Driver Version``, or ``KMD Version`` on 610+),
    never the ``NVIDIA-SMI`` binary's: under WSL2 they differ (NVIDIA-SMI 555.42.06, driver
    555.85). ``cuda_version`` is the driver's highest supported CUDA (``CUDA Version`` /
    ``CUDA UMD Version``), not an installed toolkit.
    """

    smi_version: str | None = None
    driver_version: str | None = None
    cuda_version: str | None = None
    kmd_version: str | None = None  # only where nvidia-smi prints "KMD Version" (610+)
    # "wsl": the NVIDIA-SMI binary's version differs from the driver's (WSL2 ships a Linux
    # nvidia-smi that talks to the Windows driver); None: the banner alone does not say.
    platform_hint: str | None = None


# One-line failures of nvidia-smi, first match wins. Class names and the cause each supports
# (docs/architecture.md, "Cause taxonomy"):
#   driver-library-mismatch  user-space NVML differs from the loaded kernel module -> driver-library-mismatch
#   no-driver                no kernel driver to talk to, or no NVML library       -> no-driver
#   no-devices               the driver runs but this process sees no GPU          -> no-driver
#   gpu-lost                 a GPU stopped answering (fell off the bus, Xid 79...) -> none yet (hardware)
#   nvml-init-failed         NVML failed to start for another reason (in containers "Unknown
#                            Error" usually means device cgroup access was lost)   -> none yet
SMI_ERRORS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("driver-library-mismatch", re.compile(r"^Failed to initialize NVML: Driver/library version mismatch", re.M)),
    ("no-driver", re.compile(r"^NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver", re.M)),
    ("no-driver", re.compile(r"^NVIDIA-SMI couldn't find libnvidia-ml\.so library", re.M)),
    ("no-devices", re.compile(r"^No devices were found", re.M)),
    (
        "gpu-lost",
        re.compile(
            r"^Unable to determine the device handle for GPU ?[0-9A-Fa-f:.]*: (?:Unknown Error|GPU is lost)", re.M
        ),
    ),
    ("gpu-lost", re.compile(r"GPU is lost\. Reboot the system", re.M)),
    ("nvml-init-failed", re.compile(r"^Failed to initialize NVML: ", re.M)),
)


def parse_smi_banner(text: str | bytes) -> SmiBanner:
    """The versions in the ``| NVIDIA-SMI ... Driver Version: ... CUDA Version: ... |`` line.

    Raises UsageError when the text has no such banner.
    """
    banner = _find_banner(_lines(text))
    if banner is None:
        raise UsageError("nvidia-smi output: no 'NVIDIA-SMI ... Driver Version' banner found")
    return banner


def classify_smi_error(text: str | bytes) -> str | None:
    """The class of a one-line nvidia-smi failure (see SMI_ERRORS), or None when the text is
    not one of them (normal output included)."""
    lines = "\n".join(_lines(text))
    for name, pattern in SMI_ERRORS:
        if pattern.search(lines):
            return name
    return None


def _lines(text: str | bytes) -> list[str]:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if not isinstance(text, str):
        raise UsageError(f"nvidia-smi output: expected text, got {type(text).__name__}")
    return [_ANSI.sub("", line).rstrip() for line in text.splitlines()]


def _find_banner(lines: list[str]) -> SmiBanner | None:
    for line in lines:
        smi = _SMI.search(line)
        if not smi:
            continue
        kmd = _KMD.search(line)
        driver = kmd or _DRIVER.search(line)
        if not driver:
            continue  # "NVIDIA-SMI has failed ..." and the like
        cuda = _CUDA.search(line)
        smi_version, driver_version = smi.group(1), driver.group(1)
        return SmiBanner(
            smi_version=smi_version,
            driver_version=driver_version,
            cuda_version=cuda.group(1) if cuda else None,  # absent before 410; "N/A" without libcuda
            kmd_version=kmd.group(1) if kmd else None,
            platform_hint="wsl" if smi_version != driver_version else None,
        )
    return None
