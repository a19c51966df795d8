"""Read plain ``nvidia-smi`` output: the table, ``nvidia-smi --version``, one-line errors.

The XML (``-q -x``) is the better source; the table is what users paste into issues and what
some hosts only let us see. Layouts changed over the years (pre-450 tables have no ``MIG M.``
row, 525+ widen every column, Windows shows ``Driver-Model`` where Linux shows
``Persistence-M``, 610 renames ``Driver Version``/``CUDA Version`` to ``KMD Version``/
``CUDA UMD Version``), so parsing keys on cell contents, not on column positions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.host import Driver, Gpu, Host, MigDevice

SOURCE = "nvidia-smi"

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_VERSION = r"([0-9]{1,9}(?:\.[0-9]{1,9}){0,3})"
_SMI = re.compile(r"NVIDIA-SMI\s+" + _VERSION)
_DRIVER = re.compile(r"\bDriver Version:\s*" + _VERSION)
_KMD = re.compile(r"\bKMD Version:\s*" + _VERSION)
_CUDA = re.compile(r"\bCUDA (?:UMD )?Version:\s*" + _VERSION)

_BUS_ID = re.compile(r"[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-9A-Fa-f]")
_MEMORY = re.compile(r"([0-9]{1,9})MiB\s*/\s*([0-9]{1,9})MiB")
# First cell of a GPU's first row: index, (possibly truncated) name, then the persistence
# mode (Linux: On/Off) or the driver model (Windows: WDDM/TCC/MCDM).
_GPU_CELL = re.compile(r"\s*([0-9]{1,4})\s+(.+?)\s+(On|Off|WDDM|TCC|MCDM|N/A)\s*")
_MIG_IDS = re.compile(r"\s*([0-9]{1,4})\s+([0-9]{1,4}|N/A)\s+([0-9]{1,4}|N/A)\s+([0-9]{1,4})\s*")
_WINDOWS_DRIVER_MODELS = ("WDDM", "TCC", "MCDM")


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
    nvml_version: str | None = None  # only in `nvidia-smi --version`
    # "windows": the table has a Driver-Model column (native Windows); "wsl": the NVIDIA-SMI
    # binary's version differs from the driver's (WSL2 ships a Linux nvidia-smi that talks to
    # the Windows driver); None: nothing says (most likely Linux).
    platform_hint: str | None = None


# One-line failures of nvidia-smi, first match wins. Class names and the design.md cause each
# supports:
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


def parse_smi_banner(text: str) -> SmiBanner:
    """The versions in the ``| NVIDIA-SMI ... Driver Version: ... CUDA Version: ... |`` line.

    Raises UsageError when the text has no such banner.
    """
    lines = _lines(text)
    banner = _find_banner(lines)
    if banner is None:
        raise UsageError("nvidia-smi output: no 'NVIDIA-SMI ... Driver Version' banner found")
    return banner


def parse_smi_version_output(text: str) -> SmiBanner:
    """What ``nvidia-smi --version`` printed (drivers 525+ know the flag)::

        NVIDIA-SMI version  : 610.57.04
        NVML version        : 610.57
        DRIVER version      : Deprecated, see "KMD version" instead
        CUDA version        : Deprecated, see "CUDA UMD version" instead
        KMD version         : 610.57.04
        CUDA UMD version    : 13.3

    Raises UsageError when no driver version is found.
    """
    fields: dict[str, str] = {}
    for line in _lines(text):
        key, sep, value = line.partition(":")
        if sep:
            # Keys are "CUDA Version" on 590/595 but "CUDA version" on 610: compare in lower case.
            fields[" ".join(key.split()).casefold()] = value.strip()

    def version(key: str) -> str | None:
        match = re.fullmatch(_VERSION, fields.get(key, ""))
        return match.group(1) if match else None

    kmd = version("kmd version")
    driver = kmd or version("driver version")
    if driver is None:
        raise UsageError("nvidia-smi --version output: no driver version found")
    return SmiBanner(
        smi_version=version("nvidia-smi version"),
        driver_version=driver,
        cuda_version=version("cuda umd version") or version("cuda version"),
        kmd_version=kmd,
        nvml_version=version("nvml version"),
    )


def parse_smi_table(text: str) -> Host:
    """The GPUs of a plain ``nvidia-smi`` table, as far as the table shows them.

    Names are as printed, truncated ones included (``NVIDIA GeForce RTX 2080 ...``); compute
    capability, brand and UUID are not in the table. A fragment without the banner still gives
    its GPU rows (the driver is then unknown). Raises UsageError when no GPU row and no banner
    is found.
    """
    lines = _lines(text)
    banner = _find_banner(lines)
    gpus: list[Gpu] = []
    by_index: dict[int, Gpu] = {}
    section = "gpus"
    has_driver_model_column = False
    current: Gpu | None = None
    row_after_identity = 0

    for line in lines:
        if "MIG devices:" in line:
            section = "mig"
            continue
        if "Processes:" in line:
            section = "processes"
            continue
        cells = _cells(line)
        if cells is None:  # a +----+ border or text outside the table
            current = None
            continue
        if section == "gpus":
            if "Driver-Model" in cells[0]:
                has_driver_model_column = True
            identity = _GPU_CELL.fullmatch(cells[0])
            bus_id = _BUS_ID.search(cells[1]) if len(cells) > 1 else None
            if identity and bus_id:
                mode = identity.group(3)
                current = Gpu(
                    index=int(identity.group(1)),
                    name=identity.group(2),
                    pci_bus_id=bus_id.group(0),
                    driver_model=mode if mode in _WINDOWS_DRIVER_MODELS else None,
                )
                gpus.append(current)
                by_index.setdefault(current.index, current)
                row_after_identity = 0
                continue
            if current is None or len(cells) < 3:
                continue
            row_after_identity += 1
            if row_after_identity == 1:
                memory = _MEMORY.search(cells[1])
                if memory:
                    current.memory_used_mib, current.memory_total_mib = int(memory.group(1)), int(memory.group(2))
            elif row_after_identity == 2:
                # The "MIG M." row (450+): last cell holds Enabled / Disabled / N/A.
                mig = cells[2].split()
                if mig and mig[-1] in ("Enabled", "Disabled"):
                    current.mig_mode = mig[-1]
        elif section == "mig" and len(cells) >= 2:
            ids = _MIG_IDS.fullmatch(cells[0])
            memory = _MEMORY.search(cells[1])
            owner = by_index.get(int(ids.group(1))) if ids else None
            if owner is not None:
                owner.mig_devices.append(
                    MigDevice(
                        index=int(ids.group(4)),
                        gpu_instance_id=_int_or_none(ids.group(2)),
                        compute_instance_id=_int_or_none(ids.group(3)),
                        memory_total_mib=int(memory.group(2)) if memory else None,
                    )
                )

    if banner is None and not gpus:
        raise UsageError("nvidia-smi output: neither a banner nor a GPU row found")
    native_windows = has_driver_model_column or any(g.driver_model for g in gpus)
    wsl = banner is not None and banner.platform_hint == "wsl"
    driver = Driver(
        version=banner.driver_version if banner else None,
        cuda=banner.cuda_version if banner else None,
        source=SOURCE,
        # Under WSL2 the driver is the Windows one, so Windows' driver tables apply there too.
        platform="windows" if native_windows or wsl else "linux",
    )
    return Host(driver=driver, gpus=gpus, source=SOURCE)


def classify_smi_error(text: str) -> str | None:
    """The class of a one-line nvidia-smi failure (see SMI_ERRORS), or None when the text is
    not one of them (normal output included)."""
    text = "\n".join(_lines(text))
    for name, pattern in SMI_ERRORS:
        if pattern.search(text):
            return name
    return None


def _lines(text: str) -> list[str]:
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


def _cells(line: str) -> list[str] | None:
    """The cells of a ``| a | b | c |`` table row, or None for anything else."""
    stripped = line.strip()
    if not (stripped.startswith("|") and stripped.endswith("|")):
        return None
    inner = stripped[1:-1]
    if set(inner) <= set("-=+| "):  # |-----+-----| and |=====+=====| rules
        return None
    return inner.split("|")


def _int_or_none(value: str) -> int | None:
    return int(value) if value.isdigit() else None
