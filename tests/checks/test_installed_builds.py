"""An installed framework as a build to judge (checks/build.py build_for_framework)."""

from __future__ import annotations

from gpu_preflight.checks.build import build_for_framework
from gpu_preflight.core.host import Framework
from gpu_preflight.knowledge import load_knowledge


def test_a_conda_torch_is_not_judged_by_the_pip_wheels_architectures():
    # conda's torch builds come from other build scripts than the pip wheels (cuda-facts §7: the
    # conda channel's packages carried other architectures), so the wheel table does not describe them
    kb = load_knowledge()
    pip = build_for_framework(
        kb, Framework("torch", "2.5.1", cuda="12.4", variant="cu124", installer="pip"), "linux-x86_64"
    )
    conda = build_for_framework(
        kb, Framework("torch", "2.5.1", cuda="12.4", variant="cu124", installer="conda"), "linux-x86_64"
    )
    assert pip is not None and pip.archs is not None
    assert conda is not None and conda.archs is None
    assert any("installed by conda" in note and "--deep" in note for note in conda.notes)
