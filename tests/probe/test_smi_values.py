"""nvidia-smi's "no value" spellings: one rule for the XML and the CSV readers."""

from __future__ import annotations

import pytest

from gpu_preflight.probe.smi_values import smi_value


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        "N/A",
        "n/a",
        "[N/A]",
        "Not Supported",
        "[Not Supported]",
        "Unknown Error",
        "[Unknown Error]",
        "[Insufficient Permissions]",
        "GPU is lost",
        "ERR!",
        "[Requested functionality has been deprecated]",
        "[Function Not Found]",  # a message newer drivers added: CSV brackets every message
        " [N/A] ",
        "[]",
    ],
)
def test_no_value(raw: str | None) -> None:
    assert smi_value(raw) is None


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("  NVIDIA A100-SXM4-40GB ", "NVIDIA A100-SXM4-40GB"),
        ("Disabled", "Disabled"),
        ("0", "0"),
        ("30.37 W", "30.37 W"),
        ("GPU-5f3c-[x]", "GPU-5f3c-[x]"),  # brackets inside a value are the value's
    ],
)
def test_value_is_stripped_text(raw: str, value: str) -> None:
    assert smi_value(raw) == value
