"""Plumbing shared by the two NVML helpers (``probe/nvml.py``, one query; ``monitor/nvml.py``, one
sample per request): importing the bindings, starting the helper child, calling NVML and reading
what it returns.

The bindings (``pynvml``, from the ``nvidia-ml-py`` distribution) ship no type information, so a
module of them is ``Any`` here; both helpers take it as an argument so that tests can hand them a
fake. ``$GPU_PREFLIGHT_NVML_MODULE`` names another module for a helper child to import instead of
``pynvml``, for tests of the whole process path.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import Any

from gpu_preflight.core.units import MIB

MODULE_ENV = "GPU_PREFLIGHT_NVML_MODULE"


def import_bindings() -> Any:
    """The NVML bindings a helper child uses; ImportError when they are not installed."""
    return importlib.import_module(os.environ.get(MODULE_ENV) or "pynvml")


def helper_environment() -> dict[str, str]:
    """The environment for a helper child (``python -m gpu_preflight....``): this one, with the
    directory holding this package first on PYTHONPATH, so the child imports this very copy even
    when the package is not installed (a source checkout, a zipapp's extraction)."""
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))


def as_text(value: Any) -> str:
    """An NVML string as text: old bindings return bytes, new ones str; exceptions as their message."""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def call_or_none(function: Callable[..., Any] | None, *args: Any) -> Any:
    """One NVML call; ``None`` when it fails. "Not Supported" is routine (no ECC on GeForce, no
    utilisation in MIG mode, no MIG on most GPUs), and a field that cannot be read is unknown,
    not an error. ``function`` may be None: a function missing from old bindings (found with
    ``getattr(nvml, name, None)``)."""
    if function is None:
        return None
    try:
        return function(*args)
    except Exception:  # noqa: BLE001 - NVMLError and its many subclasses; a function missing from old bindings
        return None


def cuda_version(encoded: int) -> str:
    """``nvmlSystemGetCudaDriverVersion``'s 12040 as "12.4"."""
    return f"{encoded // 1000}.{encoded % 1000 // 10}"


def mib(byte_count: Any) -> int:
    """Bytes (an NVML memory field) as whole MiB, rounded down."""
    return int(byte_count) // MIB
