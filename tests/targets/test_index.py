"""targets/index.py: which wheel variant a PyTorch index serves."""

from __future__ import annotations

import pytest

from gpu_preflight.targets.index import index_url_variant

# --- variants and index URLs --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://download.pytorch.org/whl/cu121", "cu121"),
        ("https://download.pytorch.org/whl/cu121/", "cu121"),
        ("https://download.pytorch.org/whl/nightly/cu128", "cu128"),
        ("https://download.pytorch.org/whl/test/cu126", "cu126"),
        ("https://download.pytorch.org/whl/cpu", "cpu"),
        ("https://download.pytorch.org/whl/rocm6.2", "rocm6.2"),
        ("https://download.pytorch.org/whl/xpu", "xpu"),
        ("https://download.pytorch.org/whl/cu111/torch_stable.html", "cu111"),
        ("  https://download.pytorch.org/whl/CU118  ", "cu118"),
        ("https://user:secret@mirror.example/pytorch/whl/cu124/simple", "cu124"),
        ("https://download.pytorch.org/whl/torch_stable.html", None),
        ("https://download.pytorch.org/whl", None),
        ("https://download.pytorch.org/whl/cu62", None),
        ("https://pypi.org/simple", None),
        ("https://example.com/cu121", None),
        ("", None),
        ("not a url", None),
        ("http://[::1", None),
    ],
)
def test_index_url_variant(url: str, expected: str | None) -> None:
    assert index_url_variant(url) == expected
