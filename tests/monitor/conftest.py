"""Fixtures for the monitor's tests; the helpers live in support/monitor.py."""

from __future__ import annotations

import pytest

from support.monitor import fake_nvml_env


@pytest.fixture
def fake_nvml(monkeypatch):
    """Point NvmlSource's helper process at the fake bindings; returns a scenario setter."""

    def use(scenario: str = "ok") -> None:
        for key, value in fake_nvml_env(scenario).items():
            monkeypatch.setenv(key, value)

    use()
    return use
