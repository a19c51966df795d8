"""The CUDA toolkit's own version: ``nvcc --version``, ``version.json`` and ``version.txt``.

Of the five things called "CUDA version" (the driver's version, the driver's highest CUDA, a
framework's CUDA runtime, the toolkit on disk, a container's requirement; docs/architecture.md,
"Data flow") this is the toolkit on disk, which says nothing about what the driver supports or
what a framework bundles.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

# "Cuda compilation tools, release 13.0, V13.0.88" - the same in every format since CUDA 5;
# 11.0+ add a fifth line "Build cuda_13.0.r13.0/compiler.36424714_0".
_RELEASE = re.compile(r"Cuda compilation tools,\s*release\s+([0-9]+\.[0-9]+),\s*V([0-9]+(?:\.[0-9]+){1,3})")
_BUILD = re.compile(r"^Build\s+(\S+)\s*$", re.MULTILINE)
# "Built on Wed_Aug_20_01:58:59_PM_PDT_2025", "..._Pacific_Daylight_Time_2024" on Windows.
_BUILT_ON = re.compile(r"^Built on\s+(\S+)\s*$", re.MULTILINE)
_VERSION_TXT = re.compile(r"^\s*CUDA Version\s+([0-9]+(?:\.[0-9]+){1,3})\s*$", re.MULTILINE)
_DOTTED = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,9}){1,3}")
# Runfile installs write the SDK version with a date as third part: "11.8.20220929".
_DATE_STAMP = re.compile(r"(?:19|20)[0-9]{6}")


@dataclass(frozen=True)
class NvccInfo:
    release: str  # "13.0": what "CUDA 13.0" means
    version: str  # "13.0.88": the compiler's own full version
    build: str | None = None  # "cuda_13.0.r13.0/compiler.36424714_0"; absent before CUDA 11.0
    built_on: str | None = None  # "Wed_Aug_20_01:58:59_PM_PDT_2025", as printed


def parse_nvcc_version(text: str) -> NvccInfo | None:
    """What ``nvcc --version`` printed, or None when it is not that output."""
    if not isinstance(text, str):
        return None
    text = text.replace("\r", "")
    match = _RELEASE.search(text)
    if not match:
        return None
    build = _BUILD.search(text)
    built_on = _BUILT_ON.search(text)
    return NvccInfo(
        release=match.group(1),
        version=match.group(2),
        build=build.group(1) if build else None,
        built_on=built_on.group(1) if built_on else None,
    )


def parse_cuda_version_json(data: str | bytes | dict[str, Any]) -> str | None:
    """The SDK version in ``$CUDA_HOME/version.json`` (CUDA 11.1+), e.g. ``"12.4.1"``.

    Accepts the file's text or the already-loaded object. Returns None when the document has
    no usable ``cuda.version``; a date-stamped version (``"11.8.20220929"``, written by runfile
    installs) gives the release only, ``"11.8"``, because the date is not a patch level.
    Raises ValueError (json.JSONDecodeError) for text that is not JSON.
    """
    document = json.loads(data) if isinstance(data, (str, bytes, bytearray)) else data
    sdk = document.get("cuda") if isinstance(document, dict) else None
    version = sdk.get("version") if isinstance(sdk, dict) else None
    if not isinstance(version, str) or not _DOTTED.fullmatch(version.strip()):
        return None
    parts = version.strip().split(".")
    if len(parts) >= 3 and _DATE_STAMP.fullmatch(parts[2]):
        parts = parts[:2]
    return ".".join(parts)


def parse_cuda_version_txt(text: str) -> str | None:
    """The version in ``$CUDA_HOME/version.txt`` (CUDA <= 11.0): ``"CUDA Version 10.2.89"``.
    Later ``CUDA Patch Version 10.2.1`` lines name patches, not the base version."""
    if not isinstance(text, str):
        return None
    match = _VERSION_TXT.search(text.replace("\r", ""))
    return match.group(1) if match else None
