"""doctor, scenario by scenario: one row per host + targets, the verdict the facts demand.

Every expectation is derived from /work/shared/reference/cuda-facts.md (cited per row as
"facts §N ..."), not from what the code happens to print. Hosts are built from the Host
dataclasses with ``source="snapshot"`` (no live probe); what-ifs go through HostSpec
(``--assume-driver`` / ``--assume-gpu`` on top of a snapshot). A row whose expectation the code
does not meet yet carries ``bug=...`` and runs as ``xfail(strict=True)``: fix the code, then
drop the ``bug``.

Finding keys are a code *or* a cause id: F("no-kernel-image", "fail", 0) is any failing finding
on GPU 0 whose code or cause is no-kernel-image.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from gpu_preflight.checks.diagnose import diagnose
from gpu_preflight.core.findings import CAUSES
from gpu_preflight.core.host import Container, Driver, Host
from gpu_preflight.knowledge import load_knowledge
from gpu_preflight.knowledge.driver_lifecycle import recommended_branch

from support.scenarios import (
    A100,
    B200,
    B300,
    GB10,
    GTX1080,
    H100,
    K80,
    P100,
    RTX3080,
    RTX3090,
    RTX4090,
    RTX5090,
    T4,
    V100,
    F,
    FixHas,
    FixNot,
    FixOrder,
    NotSays,
    Says,
    Scenario,
    WhatIf,
    describe,
    host,
    installed_torch,
    run_doctor,
    verify,
)


def _aarch64(base: Host) -> Host:
    """The same host on an Arm CPU (GH200, GB200, DGX Spark): its wheels are linux-aarch64 ones."""
    base.platform = {**base.platform, "machine": "aarch64"}
    return base


NO_DRIVER_BEYOND_470 = r"nvidia-driver-(?!470\b)\d+"  # Kepler: R470 is the last branch


def maintained(floor_branch: int) -> str:
    """The package a driver fix must name for a floor on branch ``floor_branch``: the oldest
    production or long-term branch still maintained today that reaches it (the rule is tested
    with fixed dates in test_driver_advice.py), never the floor's own short-lived or dead branch."""
    chosen = recommended_branch(load_knowledge().driver_branches, floor_branch, date.today())
    assert chosen is not None, f"no maintained branch >= R{floor_branch} in the knowledge base"
    return rf"nvidia-driver-{chosen.branch}\b"


ANY_FAIL = "*"

SCENARIOS: list[Scenario] = [
    # ============================ driver vs CUDA runtime ============================
    # facts §1b: CUDA 12.4 Update 1 needs >= 550.54.15 (R550); §1c: any 12.x runs on >= 525.60.13
    # through minor-version compatibility, with limits (§9.2: no newer-PTX JIT) -> a warning, not a pass.
    Scenario(
        "cuda12.4-on-r535-is-minor-compat-warning",
        host("535.104.05", A100),
        "warn",
        cuda=("12.4",),
        must=(F("driver-runtime", "warn"),),
        must_not=(F("driver-too-old"), F(ANY_FAIL, "fail")),
        checks=(FixHas("driver-runtime", r"550\.54\.15"), FixHas("driver-runtime", maintained(550))),
    ),
    # facts §7 + [PYPI_LOGS]: the default PyPI wheel of torch 2.5.1 bundles CUDA 12.4 -> on R535 it
    # runs through 12.x minor-version compatibility (§1c); RTX 4090 (8.9) runs its sm_86 SASS (§4).
    Scenario(
        "torch2.5.1-default-wheel-on-r535-warns",
        host("535.104.05", RTX4090),
        "warn",
        torch=("2.5.1",),
        must=(F("driver-runtime", "warn"), F("arch-coverage", "pass")),
        must_not=(F("driver-too-old"), F("no-kernel-image"), F(ANY_FAIL, "fail")),
    ),
    # facts §1c: 13.x needs >= 580, and 12.x minor compatibility stops below 580 (R575 max CUDA 12.9,
    # §2); §9.2 "R535/R570/R575 cannot run CUDA 13 code without cuda-compat on a datacenter GPU";
    # §6: forward compat is not available on GeForce (error 804).
    Scenario(
        "cuda13.0-on-r575-geforce-fails",
        host("575.57.08", RTX4090),
        "fail",
        cuda=("13.0",),
        must=(F("driver-too-old", "fail"),),
        checks=(
            FixHas("driver-too-old", maintained(580)),
            FixHas("driver-too-old", r"[Rr]eboot"),
            FixNot(r"install cuda-compat"),
            Says("driver-too-old", r"804"),
        ),
    ),
    # facts §6: forward compatibility (cuda-compat) crosses majors on datacenter GPUs; §9.2. The
    # driver upgrade is still the first fix; the compat package is the alternative.
    Scenario(
        "cuda13.0-on-r575-datacenter-offers-forward-compat",
        host("575.57.08", A100),
        "fail",
        cuda=("13.0",),
        must=(F("driver-too-old", "fail"),),
        checks=(FixOrder("driver-too-old", maintained(580), r"cuda-compat-13-0"),),
    ),
    # facts §1b: CUDA 12.4.1 >= 550.54.15 -> native.
    Scenario(
        "cuda12.4-native-on-550.54.15",
        host("550.54.15", A100),
        "pass",
        cuda=("12.4",),
        must=(F("driver-runtime", "pass"),),
        must_not=(F("driver-runtime", "warn"),),
    ),
    # facts §1b: CUDA 12.4 GA (12.4.0) needs >= 550.54.14 -> an exact 12.4.0 runtime is native there.
    Scenario(
        "cuda12.4.0-ga-native-on-550.54.14",
        host("550.54.14", A100),
        "pass",
        cuda=("12.4.0",),
        must=(F("driver-runtime", "pass"),),
    ),
    # facts §1b: 12.4.1 needs 550.54.15 > 550.54.14; §1c: 12.x minor compat from 525.60.13 -> warn.
    Scenario(
        "cuda12.4.1-on-550.54.14-minor-compat",
        host("550.54.14", A100),
        "warn",
        cuda=("12.4.1",),
        must=(F("driver-runtime", "warn"),),
        must_not=(F("driver-too-old"),),
        checks=(FixHas("driver-runtime", r"550\.54\.15"),),
    ),
    # facts §1c: the exact Linux floor of 12.x minor-version compatibility is 525.60.13.
    Scenario(
        "cuda12.1-below-12x-minor-compat-floor-fails",
        host("525.60.11", A100),
        "fail",
        cuda=("12.1",),
        must=(F("driver-too-old", "fail"),),
        checks=(FixHas("driver-too-old", maintained(525)),),
    ),
    # facts §1b: CUDA 12.0 GA (12.0.0) needs >= 525.60.13 -> native (12.0.1 would need 525.85.12).
    Scenario(
        "cuda12.0.0-native-on-525.60.13",
        host("525.60.13", A100),
        "pass",
        cuda=("12.0.0",),
        must=(F("driver-runtime", "pass"),),
        must_not=(F("driver-too-old"),),
    ),
    # facts §1b: 12.0.1 needs 525.85.12 > 525.60.13; §1c 12.x floor 525.60.13 -> minor compat, a warning.
    Scenario(
        "cuda12.0.1-on-525.60.13-minor-compat",
        host("525.60.13", A100),
        "warn",
        cuda=("12.0.1",),
        must=(F("driver-runtime", "warn"),),
        must_not=(F("driver-too-old"),),
        checks=(FixHas("driver-runtime", r"525\.85\.12"),),
    ),
    # facts §1c: 11.x minor-version compatibility from 450.80.02; §7: 2.1 cu118 has sm_86.
    Scenario(
        "torch2.1.0-cu118-on-r470-minor-compat",
        host("470.82.01", RTX3090),
        "warn",
        torch=("2.1.0+cu118",),
        must=(F("driver-runtime", "warn"), F("arch-coverage", "pass")),
        must_not=(F("driver-too-old"), F(ANY_FAIL, "fail")),
    ),
    # facts §1c: "CUDA 11.0 was released with an earlier driver, but by upgrading to ... 450.80.02
    # minor version compatibility is possible" -> 450.51.06 is below the 11.x floor; 11.2 needs R460.
    Scenario(
        "cuda11.2-below-11x-minor-compat-floor-fails",
        host("450.51.06", A100),
        "fail",
        cuda=("11.2",),
        must=(F("driver-too-old", "fail"),),
        checks=(FixHas("driver-too-old", maintained(460)),),
    ),
    # facts §1b: CUDA 11.0.3 >= 450.51.06 (11.0.2 GA: 450.51.05) -> native.
    Scenario(
        "cuda11.0-native-on-450.51.06",
        host("450.51.06", A100),
        "pass",
        cuda=("11.0",),
        must=(F("driver-runtime", "pass"),),
    ),
    # facts §1b: CUDA 10.2.89 >= 440.33; §1c: minor-version compatibility exists for 11.x+ only
    # (§9.2 "Since CUDA 11") -> 10.2 on R418 fails and no minor-compat path may be offered.
    Scenario(
        "cuda10.2-on-r418-fails-no-minor-compat",
        host("418.87.01", V100),
        "fail",
        cuda=("10.2",),
        must=(F("driver-too-old", "fail"),),
        must_not=(F("driver-runtime", "warn"),),
        checks=(
            FixHas("driver-too-old", r"440\.33"),
            FixHas("driver-too-old", maintained(440)),
            FixNot(r"minor-version"),
        ),
    ),
    # facts §1b: CUDA 10.1 >= 418.39; 10.x has no minor-version compatibility even within 10.x.
    Scenario(
        "cuda10.1-on-r410-fails-no-minor-compat",
        host("410.104", V100),
        "fail",
        cuda=("10.1",),
        must=(F("driver-too-old", "fail"),),
        checks=(FixHas("driver-too-old", maintained(418)),),
    ),
    # facts §1b: CUDA 10.1 >= 418.39 -> native.
    Scenario(
        "cuda10.1-native-on-418.39",
        host("418.39", V100),
        "pass",
        cuda=("10.1",),
        must=(F("driver-runtime", "pass"),),
    ),
    # facts §1b: CUDA 12.8 Update 1 >= 570.124.06 -> an exact 12.8.1 runtime is native there.
    Scenario(
        "cuda12.8.1-native-on-570.124.06",
        host("570.124.06", RTX5090),
        "pass",
        cuda=("12.8.1",),
        must=(F("driver-runtime", "pass"),),
    ),
    # facts §2: R565 reports CUDA 12.7 (no 12.7 toolkit exists); §1b 12.6.3 >= 560.35.05 -> native.
    Scenario(
        "r565-runs-cuda12.6-natively",
        host("565.57.01", RTX4090),
        "pass",
        cuda=("12.6",),
        must=(F("driver-runtime", "pass"),),
    ),
    # facts §1b: 12.8 needs R570 (12.8.1: 570.124.06); §1c: 12.x minor compat from 525.60.13 -> warn.
    Scenario(
        "r565-cuda12.8-minor-compat",
        host("565.57.01", RTX4090),
        "warn",
        cuda=("12.8",),
        must=(F("driver-runtime", "warn"),),
        must_not=(F("driver-too-old"),),
        checks=(FixHas("driver-runtime", maintained(570)),),
    ),
    # facts §1c: any 13.x runs on >= 580 through minor-version compatibility (warning); §1b 13.2.2
    # needs 595.71.05 (R595) natively.
    Scenario(
        "cuda13.2-on-r580-13x-minor-compat",
        host("580.95.05", RTX4090),
        "warn",
        cuda=("13.2",),
        must=(F("driver-runtime", "warn"),),
        must_not=(F("driver-too-old"), F(ANY_FAIL, "fail")),
        checks=(FixHas("driver-runtime", maintained(595)),),
    ),
    # facts §1b: 13.0 Update 2 >= 580.95.05; §7 2.9 cu130 = 7.5;...;12.0+PTX covers a T4 (7.5).
    Scenario(
        "torch2.9.0-cu130-on-580.95.05-t4-runs",
        host("580.95.05", T4),
        ("pass", "warn"),
        torch=("2.9.0+cu130",),
        must=(F("arch-coverage", "pass"),),
        must_not=(F("driver-too-old"), F(ANY_FAIL, "fail")),
    ),
    # facts §1b Windows column: CUDA 11.8 GA >= 520.06 on Windows (Linux: 520.61.05).
    Scenario(
        "windows-cuda11.8-native-on-520.06",
        host("520.06", RTX3090, platform="windows"),
        "pass",
        cuda=("11.8",),
        must=(F("driver-runtime", "pass"),),
    ),
    # facts §1b: 12.4.1 Windows >= 551.78; §1c Windows 12.x minor compat >= 527.41 / 528.33 -> warn.
    Scenario(
        "windows-cuda12.4-on-536.40-minor-compat",
        host("536.40", RTX3080, platform="windows"),
        "warn",
        cuda=("12.4",),
        must=(F("driver-runtime", "warn"),),
        must_not=(F("driver-too-old"),),
        checks=(FixHas("driver-runtime", r"551\.78"),),
    ),
    # facts §1b: Windows 551.78 is in branch R550 (CUDA 12.4 Update 1 row: Branch R550). There is no
    # R551 branch nor an Ubuntu package nvidia-driver-551; and an apt command does not fit Windows.
    Scenario(
        "windows-driver-fix-names-branch-r550",
        host("536.40", RTX3080, platform="windows"),
        "warn",
        cuda=("12.4",),
        checks=(FixHas("driver-runtime", r"551\.78"), FixNot(r"R551|nvidia-driver-551|apt install")),
    ),
    # facts §1b: Windows drivers 536.25 / 536.67 are listed under Branch R535 (CUDA 12.2 rows):
    # Windows numbering runs ahead of the branch, there is no R536.
    Scenario(
        "windows-driver-named-by-its-branch",
        host("536.40", RTX3080, platform="windows"),
        "pass",
        must=(F("driver", "pass"),),
        checks=(Says("driver", r"\bR535\b"), NotSays("driver", r"\bR536\b")),
    ),
    # facts §9.5: "From 2.11 a plain `pip install torch` needs an R580+ driver" (default wheel CUDA 13.0);
    # §1b 12.9.1 >= 575.57.08 / 12.8.1 >= 570.124.06 -> 2.11.0's cu128/cu129 wheels run on 575.57.08.
    # The driver upgrade comes before the wheel change.
    Scenario(
        "torch2.11.0-default-cu130-on-r575-fails",
        host("575.57.08", RTX4090),
        "fail",
        torch=("2.11.0",),
        must=(F("driver-too-old", "fail"),),
        checks=(
            FixOrder(
                "driver-too-old",
                maintained(580),
                r"pip install torch==2\.11\.0 --index-url https://download\.pytorch\.org/whl/cu12[6-9]\b",
            ),
        ),
    ),
    # facts §1b: 12.4.1 needs 550.54.15, 11.8 needs 520.61.05; §1c 12.x floor 525.60.13 > 520.61.05
    # -> cu124 fails on R520; 2.4 ships cu118 (§7), which runs natively: the alternative wheel.
    Scenario(
        "torch2.4.1-cu124-on-r520-driver-then-wheel",
        host("520.61.05", RTX3090),
        "fail",
        torch=("2.4.1+cu124",),
        must=(F("driver-too-old", "fail"),),
        checks=(
            FixOrder(
                "driver-too-old",
                maintained(550),
                r"pip install torch==2\.4\.1 --index-url https://download\.pytorch\.org/whl/cu118\b",
            ),
        ),
    ),
    # facts §1c: 12.x needs >= 525.60.13 (R470 reports 11.4, §2); §6: GeForce has no forward compat (804).
    Scenario(
        "torch2.1.0-cu121-on-r470-geforce-no-forward-compat",
        host("470.82.01", RTX3090),
        "fail",
        torch=("2.1.0+cu121",),
        must=(F("driver-too-old", "fail"),),
        checks=(
            FixHas("driver-too-old", maintained(525)),
            FixNot(r"install cuda-compat"),
            Says("driver-too-old", r"804"),
        ),
    ),
    # facts §6: T4 is a datacenter GPU (§4) -> cuda-compat-13-0 is a real option on R535; §1c 13.x
    # needs R580 natively; driver upgrade listed first.
    Scenario(
        "torch2.9.0-cu130-on-r535-t4-forward-compat",
        host("535.104.05", T4),
        "fail",
        torch=("2.9.0+cu130",),
        must=(F("driver-too-old", "fail"),),
        checks=(FixOrder("driver-too-old", maintained(580), r"cuda-compat-13-0"),),
    ),
    # ============================ GPU CC vs compiled architectures ============================
    # facts §4 binary rule: SASS for X.y runs on X.z with z >= y -> sm_86 runs on 8.9 (RTX 4090);
    # §7: 2.0 cu117 = 3.7;5.0;6.0;7.0;7.5;8.0;8.6. The tricky "sm_89 on an sm_86-only wheel is fine".
    Scenario(
        "sm89-on-sm86-only-wheel-is-fine",
        host("535.104.05", RTX4090),
        "pass",
        torch=("2.0.1+cu117",),
        must=(F("arch-coverage", "pass"),),
        must_not=(F("no-kernel-image"), F("gpu-too-old"), F("arch-ptx"), F(ANY_FAIL, "fail")),
    ),
    # facts §3/§7: sm_120 needs CUDA 12.8 (first Blackwell wheels: 2.7 cu128); 2.6 cu124 tops out at
    # sm_90 without PTX; sm_90 SASS cannot run on 12.0 (§4). The tricky "sm_120 with a cu124 wheel fails".
    Scenario(
        "sm120-with-cu124-wheel-no-kernel-image",
        host("570.124.06", RTX5090),
        "fail",
        torch=("2.6.0+cu124",),
        must=(F("no-kernel-image", "fail", 0),),
        must_not=(F("gpu-too-old"),),
        checks=(
            FixHas(
                "no-kernel-image",
                r"pip install torch==\S+ --index-url https://download\.pytorch\.org/whl/cu1(2[89]|3\d)\b",
            ),
        ),
    ),
    # facts §7: 2.7 cu128 has sm_120; §1b 12.8.1 >= 570.124.06.
    Scenario(
        "sm120-with-cu128-wheel-runs",
        host("570.124.06", RTX5090),
        "pass",
        torch=("2.7.0+cu128",),
        must=(F("arch-coverage", "pass"), F("driver-runtime", "pass")),
    ),
    # facts §7 2.13 note + [B300_3P]: no sm_103 SASS, B300 (10.3) runs the sm_100 cubins.
    Scenario(
        "sm103-b300-runs-sm100-sass",
        host("595.71.05", B300),
        "pass",
        torch=("2.13.0+cu130",),
        must=(F("arch-coverage", "pass"),),
        must_not=(F("no-kernel-image"), F("arch-ptx")),
    ),
    # facts §4: GB10 is 12.1; sm_120 SASS runs on 12.1 (same major); §7 2.8 cu129 has 12.0+PTX;
    # §1b 12.9.1 >= 575.57.08.
    Scenario(
        "sm121-gb10-runs-sm120-sass",
        host("580.95.05", GB10),
        "pass",
        torch=("2.8.0+cu129",),
        must=(F("arch-coverage", "pass"),),
        must_not=(F("no-kernel-image"), F("arch-ptx")),
    ),
    # facts §4: "Newer majors need PTX JIT": sm_86 SASS does not run on 9.0; §7 1.13 = up to 8.6, no PTX.
    Scenario(
        "sm90-h100-with-torch1.13-no-kernel-image",
        host("535.104.05", H100),
        "fail",
        torch=("1.13.1+cu117",),
        must=(F("no-kernel-image", "fail", 0),),
        must_not=(F("gpu-too-old"),),
        checks=(
            FixHas(
                "no-kernel-image", r"pip install torch==\S+ --index-url https://download\.pytorch\.org/whl/cu1\d\d\b"
            ),
        ),
    ),
    # facts §4: sm_120 SASS does NOT run on 10.x and sm_90 SASS not on 10.0: a B200 (10.0) gets
    # nothing from an sm_90 + sm_120 build (new GPU for the build's 10.x gap -> no-kernel-image).
    Scenario(
        "sm100-b200-not-covered-by-sm90-or-sm120",
        host("570.124.06", B200, frameworks=(installed_torch("2.7.0", "cu128", "12.8", ["sm_90", "sm_120"]),)),
        "fail",
        must=(F("no-kernel-image", "fail", 0),),
    ),
    # A source build (2.7.0a0+git...) has no wheel on download.pytorch.org: the wheel fix must name an
    # official release of that series (§7: 2.7 ships cu118/cu126/cu128; cu128 has sm_100).
    Scenario(
        "source-build-fix-names-an-official-release",
        host("570.124.06", B200, frameworks=(installed_torch("2.7.0a0+git1234", None, "12.8", ["sm_90", "sm_120"]),)),
        "fail",
        must=(F("no-kernel-image", "fail", 0),),
        checks=(
            FixHas(
                "no-kernel-image",
                r"pip install torch==2\.7\.(\d+|\*) --index-url https://download\.pytorch\.org/whl/cu12[89]\b",
            ),
            FixNot(r"torch==\S*a0"),
        ),
    ),
    # A torch conda installed (conda-meta lists pytorch): its fix removes it with conda before pip
    # installs the wheel, so that conda's and pip's copies do not mix in one environment.
    Scenario(
        "conda-torch-fix-removes-it-with-conda-first",
        host(
            "575.57.08",
            RTX5090,
            frameworks=(
                installed_torch("2.5.1", "cu124", "12.4", ["sm_50", "sm_60", "sm_70", "sm_80", "sm_90"], "conda"),
            ),
        ),
        "fail",
        must=(F("no-kernel-image", "fail", 0),),
        checks=(FixHas("no-kernel-image", r"conda remove pytorch, then pip install torch==\S+ --index-url "),),
    ),
    # facts §4: PTX of a lower arch JIT-compiles for a newer major (a warning: start-up cost, needs a
    # driver that knows the PTX ISA); 12.2 runtime on 535.104.05 is native (§1b 12.2.2).
    Scenario(
        "ptx-jit-covers-newer-major-with-warning",
        host(
            "535.104.05",
            H100,
            driver_cuda="12.2",
            frameworks=(installed_torch("2.2.0", "cu122", "12.2", ["sm_80", "compute_80"]),),
        ),
        "warn",
        must=(F("arch-ptx", "warn", 0),),
        must_not=(F("no-kernel-image"), F(ANY_FAIL, "fail")),
    ),
    # facts §9.2/[MVC_DETAIL]: under minor-version compatibility there is no JIT of newer PTX
    # ("PTX-only apps fail on older drivers") -> a 12.4 build whose only code for 9.0 is PTX fails on R535.
    Scenario(
        "ptx-jit-blocked-under-minor-compat",
        host(
            "535.104.05",
            H100,
            driver_cuda="12.2",
            frameworks=(installed_torch("2.4.0", "cu124", "12.4", ["sm_80", "compute_80"]),),
        ),
        "fail",
        must=(F("ptx-too-new", "fail", 0),),
    ),
    # facts §7: the official 2.1.0+cu118 wheel compiles up to 9.0 (no PTX), judged from the knowledge
    # base for an installed wheel (no --deep): nothing runs on an RTX 5090 (12.0, §4).
    Scenario(
        "installed-official-cu118-wheel-on-blackwell",
        host("570.124.06", RTX5090, frameworks=(installed_torch("2.1.0+cu118", "cu118", "11.8"),)),
        "fail",
        must=(F("no-kernel-image", "fail", 0),),
    ),
    # The same wheel named by a requirements file (a plain pin + the PyTorch cu118 index, as pip resolves it).
    Scenario(
        "requirements-file-cu118-index-on-blackwell",
        host("570.124.06", RTX5090),
        "fail",
        requirements=("--index-url https://download.pytorch.org/whl/cu118\ntorch==2.1.0\n",),
        must=(F("no-kernel-image", "fail", 0),),
        checks=(FixHas("no-kernel-image", r"--index-url https://download\.pytorch\.org/whl/cu1(2[89]|3\d)\b"),),
    ),
    # A product the knowledge base does not know and no CC reported: architecture checks cannot run
    # for it (a warning), and nothing may be claimed about its kernels.
    Scenario(
        "unknown-gpu-product-warns",
        host("550.54.15", ("Mystery Accelerator 9000", None, None)),
        "warn",
        torch=("2.4.1+cu121",),
        must=(F("gpu-unknown", "warn", 0),),
        must_not=(F("no-kernel-image"), F("gpu-too-old"), F(ANY_FAIL, "fail")),
    ),
    # facts §7: 2.7 cu128 = sm_75..sm_120, "cu128 had NO sm_50/60/70"; cu126 keeps Pascal (§9.5) ->
    # old GPU dropped by the build = gpu-too-old; fix: the cu126 wheel of the same release.
    Scenario(
        "pascal-on-cu128-wheel-gpu-too-old",
        host("570.124.06", GTX1080),
        "fail",
        torch=("2.7.0+cu128",),
        must=(F("gpu-too-old", "fail", 0),),
        must_not=(F("no-kernel-image"),),
        checks=(
            FixHas("gpu-too-old", r"pip install torch==2\.7\.0 --index-url https://download\.pytorch\.org/whl/cu126\b"),
        ),
    ),
    # facts §9.4/§9.5: the 2.11 default wheel is cu130 with no sm_50-sm_70; V100 is 7.0; cu126 keeps 7.0.
    Scenario(
        "volta-on-default-torch2.11-gpu-too-old",
        host("580.95.05", V100),
        "fail",
        torch=("2.11.0",),
        must=(F("gpu-too-old", "fail", 0),),
        must_not=(F("no-kernel-image"),),
        checks=(
            FixHas(
                "gpu-too-old", r"pip install torch==2\.11\.0 --index-url https://download\.pytorch\.org/whl/cu126\b"
            ),
        ),
    ),
    # facts §7 2.11: "Volta (sm_70) removed from cu128/cu129".
    Scenario(
        "volta-on-torch2.11-cu128-gpu-too-old",
        host("575.57.08", V100),
        "fail",
        torch=("2.11.0+cu128",),
        must=(F("gpu-too-old", "fail", 0),),
    ),
    # facts §3: CUDA 13.0 removed sm_50-sm_72 (Maxwell, Pascal, Volta): a CUDA major dropped the GPU.
    Scenario(
        "pascal-cuda13-major-dropped-gpu-too-old",
        host("580.95.05", P100),
        "fail",
        cuda=("13.0",),
        must=(F("gpu-too-old", "fail", 0),),
        must_not=(F("no-kernel-image"), F("driver-too-old")),
        checks=(Says("gpu-too-old", r"12\.\d"),),
    ),
    # facts §3: sm_120 first targetable by CUDA 12.8 -> a CUDA 11.8 runtime has no code for an RTX 5090.
    Scenario(
        "blackwell-with-cuda11.8-no-kernel-image",
        host("570.124.06", RTX5090),
        "fail",
        cuda=("11.8",),
        must=(F("no-kernel-image", "fail", 0),),
        must_not=(F("gpu-too-old"),),
    ),
    # facts §3: CUDA 12.0 removed sm_35/sm_37; §5: Kepler's last driver is R470 -> "upgrade the
    # driver" is not a fix for a K80 (the driver-too-old verdict stands, but no newer branch).
    Scenario(
        "kepler-cuda12-gpu-too-old-and-no-driver-upgrade",
        host("470.82.01", K80),
        "fail",
        cuda=("12.1",),
        must=(F("gpu-too-old", "fail", 0), F("driver-too-old", "fail")),
        checks=(FixNot(NO_DRIVER_BEYOND_470),),
    ),
    # facts §5: Kepler ends at R470 while cuda-compat-12-x ships an R525+ user-mode driver; [GITLAB_182]
    # "K80 can't run CUDA >=11.5 images even with cuda-compat"; §3 CUDA 12 cannot target 3.7.
    Scenario(
        "kepler-cuda12-no-forward-compat-offer",
        host("470.82.01", K80),
        "fail",
        cuda=("12.1",),
        checks=(FixNot(r"install cuda-compat-12"),),
    ),
    # facts §7: 2.0 cu118 keeps sm_37; §1c 11.x minor compat >= 450.80.02 -> runs on R470 with a warning.
    Scenario(
        "kepler-cu118-wheel-runs-through-minor-compat",
        host("470.82.01", K80),
        "warn",
        torch=("2.0.1+cu118",),
        must=(F("arch-coverage", "pass"), F("driver-runtime", "warn")),
        must_not=(F("gpu-too-old"), F("driver-too-old"), F(ANY_FAIL, "fail")),
    ),
    # facts §7: 2.1 cu121 has no sm_37, cu118 has; cu118 runs on R470 via 11.x minor compat (§1c), and
    # a K80 cannot use a driver newer than R470 (§5): the wheel fix must not demand one.
    Scenario(
        "kepler-wheel-fix-needs-no-impossible-driver",
        host("470.82.01", K80),
        "fail",
        torch=("2.1.0+cu121",),
        must=(F("gpu-too-old", "fail", 0),),
        checks=(
            FixHas("gpu-too-old", r"pip install torch==2\.1\.0 --index-url https://download\.pytorch\.org/whl/cu118\b"),
            FixNot(r"needs driver >= ?(4[89]\d|[5-9]\d\d)"),
            FixNot(NO_DRIVER_BEYOND_470),
        ),
    ),
    # ============================ driver branch vs GPU architecture ============================
    # facts §5: Kepler last driver R470, dropped in R495 -> on R535 (what-if) the GPU is unsupported;
    # fix: the R470 branch, never a newer driver.
    Scenario(
        "whatif-kepler-on-r535-driver-dropped-gpu",
        WhatIf(host("470.82.01", K80), assume_driver="535.104.05"),
        "fail",
        torch=("2.0.1+cu118",),
        must=(F("gpu-too-old", "fail", 0),),
        checks=(FixHas("gpu-too-old", r"nvidia-driver-470\b"), FixNot(NO_DRIVER_BEYOND_470)),
    ),
    # facts §5/§9.4: Pascal's last branch is R580; R590 dropped it.
    Scenario(
        "pascal-on-r590-driver-dropped-gpu",
        host("590.44.01", GTX1080),
        "fail",
        torch=("2.7.0+cu126",),
        must=(F("gpu-too-old", "fail", 0),),
        checks=(FixHas("gpu-too-old", maintained(580)),),
    ),
    # facts §5: R580 is the last (still supported) branch for Pascal; 2.7 cu126 has sm_60 (§7).
    Scenario(
        "pascal-on-r580-last-branch-ok",
        host("580.95.05", GTX1080),
        "pass",
        torch=("2.7.0+cu126",),
        must=(F("arch-coverage", "pass"),),
        must_not=(F("gpu-too-old"), F(ANY_FAIL, "fail")),
    ),
    # facts §5: Blackwell (RTX 50, CC 12.0) first driver R570 (a lower bound) -> R535 cannot drive an
    # RTX 5090 at all; a wheel change alone does not fix it. §3/§7: cu121 also lacks sm_120.
    Scenario(
        "whatif-blackwell-on-r535-needs-r570-driver",
        WhatIf(host("535.104.05", RTX3090), assume_gpus=("NVIDIA GeForce RTX 5090",)),
        "fail",
        torch=("2.4.1+cu121",),
        must=(F("no-kernel-image", "fail", 0), F("driver-too-old", "fail", 0)),
        checks=(FixHas("driver-too-old", r"nvidia-driver-(5[7-9]\d|[6-9]\d\d)\b"),),
    ),
    # facts §5: Ada Lovelace first driver R520 (520.61.05, CUDA 11.8) -> R515 cannot drive an RTX 4090.
    Scenario(
        "ada-on-r515-needs-r520-driver",
        host("515.65.01", RTX4090),
        "fail",
        torch=("2.0.1+cu117",),
        must=(F("driver-too-old", "fail", 0),),
        checks=(FixHas("driver-too-old", r"nvidia-driver-(5[2-9]\d|[6-9]\d\d)\b"),),
    ),
    # ============================ mixed GPUs, judged per device ============================
    # facts §4/§7: 2.5.1 cu124 has sm_86 (RTX 3090) but nothing for 12.0 (RTX 5090) -> GPU 0 fails,
    # GPU 1 works; keep it with CUDA_VISIBLE_DEVICES=1.
    Scenario(
        "mixed-5090-3090-cu124-keep-gpu1",
        host("550.54.15", RTX5090, RTX3090),
        "fail",
        torch=("2.5.1+cu124",),
        must=(F("no-kernel-image", "fail", 0), F("mixed-gpus", "info")),
        must_not=(F(ANY_FAIL, "fail", 1), F("no-kernel-image", device=None)),
        checks=(FixHas("mixed-gpus", r"CUDA_VISIBLE_DEVICES=1\b"),),
    ),
    # same facts, the unsupported GPU in the middle: keep 0 and 2.
    Scenario(
        "mixed-three-gpus-keep-0-and-2",
        host("570.124.06", RTX3090, RTX5090, RTX4090),
        "fail",
        torch=("2.6.0+cu124",),
        must=(F("no-kernel-image", "fail", 1), F("mixed-gpus", "info")),
        must_not=(F(ANY_FAIL, "fail", 0), F(ANY_FAIL, "fail", 2)),
        checks=(FixHas("mixed-gpus", r"CUDA_VISIBLE_DEVICES=0,2\b"),),
    ),
    # facts §7 2.9 cu130 = 7.5+ (no sm_70): V100 fails, A100 works (what-if GPUs and driver).
    Scenario(
        "whatif-mixed-v100-a100-cu130-keep-gpu1",
        WhatIf(host("535.104.05", T4), assume_driver="580.95.05", assume_gpus=("Tesla V100", "NVIDIA A100")),
        "fail",
        torch=("2.9.0+cu130",),
        must=(F("gpu-too-old", "fail", 0), F("mixed-gpus", "info")),
        must_not=(F(ANY_FAIL, "fail", 1),),
        checks=(FixHas("mixed-gpus", r"CUDA_VISIBLE_DEVICES=1\b"),),
    ),
    # facts §7: 2.7 cu128 covers both 8.6 and 12.0 -> nothing to hide.
    Scenario(
        "mixed-all-covered-no-visible-devices-advice",
        host("570.124.06", RTX5090, RTX3090),
        "pass",
        torch=("2.7.0+cu128",),
        must=(F("arch-coverage", "pass"),),
        must_not=(F("mixed-gpus"), F(ANY_FAIL, "fail")),
    ),
    # facts §9.4: no Volta in cu130 -> both V100s fail, there is no working subset to keep.
    Scenario(
        "mixed-none-covered-no-visible-devices-advice",
        host("580.95.05", V100, V100),
        "fail",
        torch=("2.11.0+cu130",),
        must=(F("gpu-too-old", "fail", 0), F("gpu-too-old", "fail", 1)),
        must_not=(F("mixed-gpus"),),
    ),
    # ============================ CUDA_VISIBLE_DEVICES ============================
    # An empty value (or -1) hides every GPU from CUDA: nothing can run on a GPU (cause no-driver,
    # "no GPU visible to this process" in the cause taxonomy, docs/architecture.md).
    Scenario(
        "cuda-visible-devices-empty-hides-all",
        host("570.124.06", RTX5090, RTX3090, env={"CUDA_VISIBLE_DEVICES": ""}),
        "fail",
        torch=("2.7.0+cu128",),
        must=(F("no-driver", "fail"),),
        checks=(FixHas("no-driver", r"CUDA_VISIBLE_DEVICES"),),
    ),
    Scenario(
        "cuda-visible-devices-minus-one-hides-all",
        host("570.124.06", RTX3090, env={"CUDA_VISIBLE_DEVICES": "-1"}),
        "fail",
        must=(F("no-driver", "fail"),),
    ),
    # Reordering hides nothing: an info finding with the mapping, no failure.
    Scenario(
        "cuda-visible-devices-reorders",
        host("570.124.06", RTX5090, RTX3090, env={"CUDA_VISIBLE_DEVICES": "1,0"}),
        "pass",
        torch=("2.7.0+cu128",),
        must=(F("visible-devices", "info"),),
        must_not=(F(ANY_FAIL, "fail"),),
    ),
    # CUDA stops at the first entry it cannot resolve: a warning naming the GPUs that do exist.
    Scenario(
        "cuda-visible-devices-unknown-entry-stops-list",
        host("570.124.06", RTX5090, RTX3090, env={"CUDA_VISIBLE_DEVICES": "0,7"}),
        "warn",
        must=(F("visible-devices", "warn"),),
        checks=(FixHas("visible-devices", r"CUDA_VISIBLE_DEVICES=0\b"),),
    ),
    # facts §4/§7 (as mixed-5090-3090 above), but CUDA_VISIBLE_DEVICES=1 already hides the RTX 5090:
    # the build runs on every GPU CUDA will see -> no failure for the hidden GPU 0.
    Scenario(
        "cuda-visible-devices-already-hides-unsupported-gpu",
        host("570.124.06", RTX5090, RTX3090, env={"CUDA_VISIBLE_DEVICES": "1"}),
        "pass",
        torch=("2.5.1+cu124",),
        must=(F("visible-devices", "info"),),
        must_not=(F("no-kernel-image", "fail", 0), F(ANY_FAIL, "fail")),
    ),
    # The same, selecting the GPU by UUID (CUDA accepts GPU-<uuid> entries).
    Scenario(
        "cuda-visible-devices-uuid-hides-unsupported-gpu",
        host("570.124.06", RTX5090, RTX3090, env={"CUDA_VISIBLE_DEVICES": "GPU-00000001-scenario"}, uuids=True),
        "pass",
        torch=("2.5.1+cu124",),
        must=(F("visible-devices", "info"),),
        must_not=(F(ANY_FAIL, "fail"),),
    ),
    # CUDA_VISIBLE_DEVICES=1,2 hides GPU 0 but keeps GPU 2, another RTX 5090: GPU 2 fails, hidden
    # GPU 0 is not judged, and the value that keeps the working GPUs is 1.
    Scenario(
        "cuda-visible-devices-partial-then-keep-working-subset",
        host("570.124.06", RTX5090, RTX3090, RTX5090, env={"CUDA_VISIBLE_DEVICES": "1,2"}),
        "fail",
        torch=("2.5.1+cu124",),
        must=(F("no-kernel-image", "fail", 2), F("mixed-gpus", "info")),
        must_not=(F(ANY_FAIL, "fail", 0), F(ANY_FAIL, "fail", 1)),
        checks=(FixHas("mixed-gpus", r"CUDA_VISIBLE_DEVICES=1\b"),),
    ),
    # Only the unsupported GPU is visible: the failure stands.
    Scenario(
        "cuda-visible-devices-keeps-only-unsupported-gpu",
        host("570.124.06", RTX5090, RTX3090, env={"CUDA_VISIBLE_DEVICES": "0"}),
        "fail",
        torch=("2.5.1+cu124",),
        must=(F("no-kernel-image", "fail", 0),),
    ),
    # ============================ cpu-only builds ============================
    # A +cpu wheel has no CUDA at all; the fix is the CUDA wheel of the same release that this driver
    # runs (2.4: cu118/cu121 natively on R535, §7 + §1b).
    Scenario(
        "cpu-only-wheel-target-fails",
        host("535.104.05", RTX4090),
        "fail",
        torch=("2.4.1+cpu",),
        must=(F("cpu-only-build", "fail"),),
        must_not=(F("no-kernel-image"), F("driver-too-old")),
        checks=(
            FixHas(
                "cpu-only-build",
                r"pip install torch==2\.4\.1 --index-url https://download\.pytorch\.org/whl/cu1(18|21|24)\b",
            ),
        ),
    ),
    Scenario(
        "cpu-only-installed-build-found",
        host("535.104.05", RTX4090, frameworks=(installed_torch("2.4.1+cpu", "cpu", None),)),
        ("warn", "fail"),
        must=(F("cpu-only-build"),),
    ),
    Scenario(
        "cpu-only-installed-fix-names-cuda-wheel",
        host("535.104.05", RTX4090, frameworks=(installed_torch("2.4.1+cpu", "cpu", None),)),
        ("warn", "fail"),
        checks=(
            FixHas(
                "cpu-only-build", r"pip install torch==2\.4\.1 --index-url https://download\.pytorch\.org/whl/cu1\d\d\b"
            ),
        ),
    ),
    # ============================ no driver, driver/library mismatch ============================
    Scenario(
        "no-driver-at-all",
        host(None),
        "fail",
        torch=("2.4.1+cu121",),
        must=(F("no-driver", "fail"),),
        must_not=(F("driver-too-old"), F("no-kernel-image")),
    ),
    Scenario(
        "driver-loaded-but-no-gpu-visible",
        host("550.54.15"),
        "fail",
        torch=("2.4.1+cu121",),
        must=(F("no-driver", "fail"),),
    ),
    # facts §1b: what the CUDA 12.4 toolkit builds needs 550.54.15 (12.4.1) natively.
    Scenario(
        "no-driver-with-toolkit-names-its-driver",
        host(None, toolkits=("12.4.131",)),
        "fail",
        must=(F("no-driver", "fail"),),
        checks=(FixHas("no-driver", r"550\.54\.1[45]"), FixHas("no-driver", maintained(550))),
    ),
    # facts §6 error 803 / the cause taxonomy (docs/architecture.md): user-space libraries differ from the kernel module
    # (driver upgraded without reboot) -> reboot or reload the modules.
    Scenario(
        "driver-library-mismatch-after-upgrade",
        host("550.120", RTX4090, kernel_module="550.54.15"),
        "fail",
        torch=("2.4.1+cu121",),
        must=(F("driver-library-mismatch", "fail"),),
        must_not=(F("no-driver"),),
        checks=(FixHas("driver-library-mismatch", r"[Rr]eboot"),),
    ),
    Scenario(
        "nvml-says-driver-library-mismatch",
        host(None, errors=(("nvml", "Failed to initialize NVML: Driver/library version mismatch"),)),
        "fail",
        must=(F("driver-library-mismatch", "fail"),),
        must_not=(F("no-driver"),),
    ),
    # ============================ toolkit (nvcc) vs driver ============================
    # facts §1b 12.4.1 >= 550.54.15; §1c minor compat: what nvcc 12.4 builds runs on R535 with limits
    # (its PTX cannot be JIT-compiled by the older driver, [MVC_DETAIL]).
    Scenario(
        "nvcc-12.4-newer-than-r535",
        host("535.104.05", RTX4090, toolkits=("12.4.131",)),
        "warn",
        must=(F("toolkit-newer-than-driver", "warn"),),
        checks=(FixHas("toolkit-newer-than-driver", maintained(550)),),
    ),
    # facts §1c: 13.x needs R580; nvcc still compiles, nothing it builds runs here.
    Scenario(
        "nvcc-13.0-cannot-run-on-r535",
        host("535.104.05", RTX4090, toolkits=("13.0.88",)),
        ("warn", "fail"),
        must=(F("toolkit-newer-than-driver"), F("driver-too-old")),
        checks=(FixHas("toolkit-newer-than-driver", maintained(580)),),
    ),
    # facts §1b 12.2.2 >= 535.104.05 -> nvcc 12.2 matches the driver.
    Scenario(
        "nvcc-12.2-on-r535-fine",
        host("535.104.05", RTX4090, toolkits=("12.2.140",)),
        "pass",
        must=(F("toolkit", "pass"),),
        must_not=(F("toolkit-newer-than-driver"),),
    ),
    # ============================ "CUDA version" confusion ============================
    # facts §9.1/§9.5: nvidia-smi's 12.2 is the driver's maximum, torch's cu121 is its bundled runtime,
    # nvcc 11.8 only compiles: three different numbers and nothing wrong (info, status pass).
    Scenario(
        "three-cuda-versions-are-not-a-problem",
        host(
            "535.104.05",
            RTX4090,
            driver_cuda="12.2",
            toolkits=("11.8.89",),
            frameworks=(installed_torch("2.4.1+cu121", "cu121", "12.1"),),
        ),
        "pass",
        must=(F("cuda-version-confusion", "info"), F("driver-runtime", "pass")),
        must_not=(F(ANY_FAIL, "fail"), F(ANY_FAIL, "warn")),
    ),
    Scenario(
        "equal-cuda-versions-no-confusion-note",
        host("535.104.05", RTX4090, driver_cuda="12.2", toolkits=("12.2.140",)),
        "pass",
        must_not=(F("cuda-version-confusion"),),
    ),
    # ============================ what-ifs (--assume-driver / --assume-gpu) ============================
    # facts §1b 12.1 >= 530.30.02: R470 fails; "would driver 550 fix this?" -> yes.
    Scenario(
        "whatif-baseline-r470-fails",
        WhatIf(host("470.82.01", RTX3090)),
        "fail",
        torch=("2.4.1+cu121",),
        must=(F("driver-too-old", "fail"),),
    ),
    Scenario(
        "whatif-driver-550-fixes-it",
        WhatIf(host("470.82.01", RTX3090), assume_driver="550.54.15"),
        "pass",
        torch=("2.4.1+cu121",),
        must=(F("driver-runtime", "pass"),),
        must_not=(F("driver-too-old"),),
    ),
    # facts §9.4: a newer driver does not bring Volta back into a cu130 wheel (what-if driver only).
    Scenario(
        "whatif-driver-is-not-the-fix-for-dropped-arch",
        WhatIf(host("535.104.05", V100), assume_driver="595.71.05"),
        "fail",
        torch=("2.11.0",),
        must=(F("gpu-too-old", "fail", 0),),
        must_not=(F("driver-too-old"),),
    ),
    # --assume-gpu replaces the probed GPUs: the snapshot's 3090 is gone, only the assumed 5090 is judged.
    Scenario(
        "whatif-assume-gpu-replaces-probed",
        WhatIf(host("570.124.06", RTX3090), assume_gpus=("NVIDIA GeForce RTX 5090",)),
        "fail",
        torch=("2.6.0+cu124",),
        must=(F("no-kernel-image", "fail", 0),),
        must_not=(F("mixed-gpus"), F("arch-coverage")),
    ),
    # facts §5/§7/§1b: RTX 5090 on R570 with the cu128 wheel is the supported combination.
    Scenario(
        "whatif-5090-r570-cu128-passes",
        WhatIf(host("535.104.05", RTX3090), assume_driver="570.124.06", assume_gpus=("NVIDIA GeForce RTX 5090:32GiB",)),
        "pass",
        torch=("2.7.0+cu128",),
        must=(F("arch-coverage", "pass"), F("driver-runtime", "pass")),
    ),
    # facts §5: Pascal's last branch is R580 -> "would R590 help?" makes it worse (driver drops the GPU).
    Scenario(
        "whatif-pascal-upgrade-to-r590-drops-gpu",
        WhatIf(host("580.95.05", GTX1080), assume_driver="590.44.01"),
        "fail",
        torch=("2.7.0+cu126",),
        must=(F("gpu-too-old", "fail", 0),),
        checks=(FixHas("gpu-too-old", maintained(580)),),
    ),
    # ============ issue 14 §1: every input judged (what is unknown is said, the rest still judged) ============
    # pytorch/pytorch#43058 (fixtures/real/collect-env): torch 1.6.0 built for CUDA 10.2 on driver 418.67 and
    # two V100s. The release is not in the knowledge base, but its +cu102 label says CUDA 10.2: facts §1b
    # CUDA 10.2.89 needs >= 440.33, and §1c minor-version compatibility starts at 11.x -> a certain failure.
    Scenario(
        "torch1.6.0-cu102-on-418.67-judged-from-its-label",
        host("418.67", ("Tesla V100-PCIE-16GB", "7.0", "Tesla"), ("Tesla V100-PCIE-16GB", "7.0", "Tesla")),
        "fail",
        torch=("1.6.0+cu102",),
        must=(F("driver-too-old", "fail"), F("target-assumed", "warn")),
        must_not=(F("target-unknown"),),
        checks=(
            FixHas("driver-too-old", r">= 440\.33"),
            Says("target-assumed", r"local version label \+cu102 \(CUDA 10\.2\)"),
            Says("target-assumed", r"architecture list is unknown"),
            NotSays("driver-too-old", r"minor-version compatibility"),
        ),
    ),
    # A release newer than the knowledge base (2.16): judged as the newest known default wheel (facts §7:
    # 2.14's default is 13.0, itself unconfirmed) -> CUDA 13.0 needs >= 580 (§1c), R570 fails; said as unconfirmed.
    Scenario(
        "torch2.16-newer-than-the-base-judged-as-newest-default",
        host("570.124.06", RTX3080),
        "fail",
        torch=("2.16.0",),
        must=(F("driver-too-old", "fail"), F("target-assumed", "warn")),
        must_not=(F("target-unknown"),),
        checks=(Says("target-assumed", r"newer than the knowledge base.*unconfirmed"),),
    ),
    # ... and on an R580 driver the same assumption passes the runtime, but the warning stays: never silent.
    Scenario(
        "torch2.16-on-r580-still-says-it-was-assumed",
        host("580.95.05", RTX3080),
        "warn",
        torch=("2.16.0",),
        must=(F("driver-runtime", "pass"), F("target-assumed", "warn")),
        must_not=(F(ANY_FAIL, "fail"),),
    ),
    # An unpinned `torch` in requirements.txt: pip takes the newest release at build time; as of the base
    # that is 2.14's default (13.0, §7/§9.5: "from 2.11 a plain pip install torch needs an R580+ driver").
    Scenario(
        "unpinned-torch-in-requirements-is-the-default-wheel-at-build-time",
        host("570.124.06", RTX3080),
        "fail",
        requirements=("numpy\ntorch\n",),
        must=(F("driver-too-old", "fail"), F("target-assumed", "warn")),
        must_not=(F("target-unknown"),),
        checks=(
            FixHas(
                "target-assumed", r"pip install torch==2\.14\.\* --index-url https://download\.pytorch\.org/whl/cu130"
            ),
        ),
    ),
    # A range is judged by the newest release it admits: torch<2.5 -> 2.4, whose default is 12.1 (§7),
    # native on R570 (§1b 12.1 needs 530.30.02).
    Scenario(
        "ranged-torch-is-the-newest-release-it-admits",
        host("570.124.06", RTX3080),
        "warn",
        requirements=("torch<2.5\n",),
        must=(F("driver-runtime", "pass"), F("target-assumed", "warn")),
        checks=(FixHas("target-assumed", r"torch==2\.4\.\* --index-url https://download\.pytorch\.org/whl/cu121"),),
    ),
    # GH200 (aarch64): from 2.11 PyPI's default aarch64 wheel is a CUDA build (torch.toml [[default_wheel]]:
    # 13.0, derived) -> on R570 it fails like x86_64's, instead of "cannot be judged".
    Scenario(
        "gh200-aarch64-default-wheel-2.13-is-cuda-13",
        _aarch64(host("570.124.06", ("NVIDIA GH200 480GB", "9.0", "NVIDIA"))),
        "fail",
        torch=("2.13.0",),
        must=(F("driver-too-old", "fail"), F("arch-coverage", "pass")),
        must_not=(F("target-unknown"),),
    ),
    # #160162 / #168065: up to 2.10 a plain `pip install torch` on aarch64 (GH200) is the CPU-only build,
    # whatever the driver -> cpu-only-build, with a CUDA aarch64 wheel from download.pytorch.org as the fix.
    Scenario(
        "gh200-aarch64-default-wheel-2.8-is-cpu-only",
        _aarch64(host("580.95.05", ("NVIDIA GH200 480GB", "9.0", "NVIDIA"))),
        "fail",
        torch=("2.8.0",),
        must=(F("cpu-only-build", "fail"),),
        must_not=(F("target-unknown"),),
        checks=(FixHas("cpu-only-build", r"--index-url https://download\.pytorch\.org/whl/cu1\d\d"),),
    ),
    # facts §1c: a CUDA runtime newer than the driver table (13.5) still runs on the 13.x floor (>= 580) ...
    Scenario(
        "cuda13.5-newer-than-the-table-uses-the-13x-floor",
        host("570.124.06", RTX3080),
        "fail",
        cuda=("13.5",),
        must=(F("driver-too-old", "fail"),),
        checks=(
            Says("driver-too-old", r"no Linux driver floor for CUDA 13\.5.*>= 580"),
            FixHas("driver-too-old", r"R580"),
        ),
    ),
    Scenario(
        "cuda13.5-on-r590-runs-through-minor-compat",
        host("590.44.01", RTX3080),
        "warn",
        cuda=("13.5",),
        must=(F("driver-runtime", "warn"),),
        must_not=(F(ANY_FAIL, "fail"),),
        checks=(NotSays("driver-runtime", r"not in the knowledge base"),),
    ),
    # fixtures/real: GT 1030 (Pascal, CC 6.1, telegraf gt-1030.xml on 470.74) with nvcc 13.0.88. Facts §3 and
    # §9.4: CUDA 13.0 removed Pascal; the last toolkit for it is 12.x (12.9). A driver does not help.
    Scenario(
        "nvcc13.0-cannot-build-for-pascal-gt1030",
        host("470.74", ("NVIDIA GeForce GT 1030", "6.1", "GeForce"), toolkits=("13.0.88",)),
        "warn",
        must=(F("toolkit-gpu", "warn", 0), F("gpu-too-old", "warn", 0)),
        checks=(
            FixHas("toolkit-gpu", r"CUDA 12\.9 toolkit"),
            FixNot(r"580", key="toolkit-newer-than-driver"),
            Says("toolkit-gpu", r"cannot build for it at all"),
        ),
    ),
    # ======================== facts as of today (issue 14 §2) ========================
    # NVIDIA GPU Operator platform support: "HGX B200 requires a driver container version of 570.133.20 or
    # later" -> 570.124.06 (same R570 branch, the first Blackwell branch) must fail for a B200.
    Scenario(
        "hgx-b200-on-570.124.06-is-below-its-product-floor",
        host("570.124.06", B200),
        "fail",
        must=(F("gpu-driver-floor", "fail", 0), F("driver-too-old", "fail", 0)),
        must_not=(F("gpu", "pass", 0),),
        checks=(Says("gpu-driver-floor", r"570\.133\.20"), FixHas("gpu-driver-floor", r"570\.133\.20")),
    ),
    Scenario(
        "hgx-b200-on-570.133.20-meets-its-product-floor",
        host("570.133.20", B200),
        "pass",
        must=(F("gpu", "pass", 0),),
        must_not=(F("gpu-driver-floor"),),
    ),
    # The floor is NVIDIA's for HGX B200 only: a GB200 on the same driver is judged by its branch alone.
    Scenario(
        "gb200-on-570.124.06-has-no-product-floor",
        host("570.124.06", ("NVIDIA GB200", "10.0", "NVIDIA")),
        "pass",
        must_not=(F("gpu-driver-floor"),),
    ),
    # GPU Operator: RTX PRO 6000 Blackwell Server Edition "Driver versions 575.57.08 or later is required".
    Scenario(
        "rtx-pro-6000-server-on-570-is-below-its-product-floor",
        host("570.172.08", ("NVIDIA RTX PRO 6000 Blackwell Server Edition", "12.0", "NVIDIA RTX")),
        "fail",
        must=(F("gpu-driver-floor", "fail", 0),),
    ),
    # Export GPUs: an H20 (GH100, CC 9.0) named by a Kubernetes label resolves like an H100 would; torch
    # 2.7.0+cu128 carries sm_90 and 12.8.1 runs natively on 570.124.06 (facts §1b, §7).
    Scenario(
        "h20-what-if-runs-torch-2.7-cu128",
        WhatIf(host("570.124.06", T4), assume_gpus=("NVIDIA-H20",)),
        "pass",
        torch=("2.7.0+cu128",),
        must=(F("gpu", "pass", 0), F("arch-coverage", "pass")),
        must_not=(F("gpu-unknown"),),
    ),
    # --assume-gpu with an explicit compute capability: a product the base does not know is still judged
    # (CC 10.3 runs sm_100 cubins: same major, higher minor; 2.9 cu130 has sm_100, facts §7; 13.0 Update 2
    # runs natively on 580.95.05, facts §1b) ...
    Scenario(
        "unknown-gpu-with-explicit-cc-is-judged",
        WhatIf(host("580.95.05", T4), assume_gpus=("NEW GPU:96GiB:cc=10.3",)),
        "pass",
        torch=("2.9.0+cu130",),
        must=(F("gpu", "pass", 0), F("arch-coverage", "pass")),
        must_not=(F("gpu-unknown"),),
    ),
    # ... and by its architecture's driver window: CC 10.3 (Blackwell Ultra) arrived with CUDA 12.9 / R575.
    Scenario(
        "unknown-gpu-with-explicit-cc-needs-its-architectures-branch",
        WhatIf(host("570.124.06", T4), assume_gpus=("NEW GPU:96GiB:cc=10.3",)),
        "fail",
        must=(F("driver-predates-gpu", "fail", 0),),
    ),
    # A driver from a branch newer than every branch in the base: the data is stale for this host (by an
    # amount offline cannot date) - said once, as a warning.
    Scenario(
        "driver-newer-than-the-base-says-the-data-is-stale",
        host("650.12", H100),
        "warn",
        must=(F("data-age", "warn"),),
        checks=(Says("data-age", r"R650.*R620"),),
    ),
    # Extension builds (checks/toolchain.py; hosts whose document carries `compilers`). GCC 14 with
    # nvcc 12.4: host_config.h stops with "gcc versions later than 13 are not supported!"
    # (host_compilers.toml, CUDA 12.4 row: torch's CUDA_GCC_VERSIONS '12.4' < 14, spack).
    Scenario(
        "gcc-14-with-nvcc-12-4-stops-extension-builds",
        Host.from_dict(
            {
                **host("550.54.15", RTX4090, toolkits=("12.4.131",)).to_dict(),
                "compilers": [{"kind": "gcc", "version": "14.2.0", "path": "/usr/bin/gcc-14", "found_via": ["PATH"]}],
            }
        ),
        "warn",  # running a model never compiles: a warning (--strict fails)
        must=(F("host-compiler-unsupported", "warn"),),
        checks=(
            Says("host-compiler-unsupported", r"gcc versions later than 13 are not supported!"),
            FixHas("host-compiler-unsupported", r"NVCC_CCBIN=g\+\+-13"),
        ),
    ),
    # nvcc 12.4 with torch cu130: torch.utils.cpp_extension raises "The detected CUDA version (12.4)
    # mismatches the version that was used to compile PyTorch (13.0)"; with cu126 it only warns.
    Scenario(
        "nvcc-12-with-torch-cu130-cannot-build-extensions",
        Host.from_dict(
            {
                **host(
                    "580.95.05",
                    RTX4090,
                    toolkits=("12.4.131",),
                    frameworks=(installed_torch("2.9.1+cu130", "cu130", "13.0"),),
                ).to_dict(),
                "compilers": [{"kind": "gcc", "version": "13.3.0", "path": "/usr/bin/gcc-13", "found_via": ["PATH"]}],
            }
        ),
        "warn",
        must=(F("toolchain-mismatch", "warn"),),
        must_not=(F("host-compiler-unsupported"),),
        checks=(
            Says("toolchain-mismatch", r"mismatches the version that was used to compile PyTorch \(13\.0\)"),
            FixHas("toolchain-mismatch", r"whl/cu126$"),
        ),
    ),
    Scenario(
        "nvcc-12-4-with-torch-cu126-differs-in-the-minor-only",
        Host.from_dict(
            {
                **host(
                    "580.95.05",
                    RTX4090,
                    toolkits=("12.4.131",),
                    frameworks=(installed_torch("2.9.1+cu126", "cu126", "12.6"),),
                ).to_dict(),
                "compilers": [{"kind": "gcc", "version": "13.3.0", "path": "/usr/bin/gcc-13", "found_via": ["PATH"]}],
            }
        ),
        "pass",
        must=(F("extension-cuda", "info"), F("host-compiler", "pass")),
        must_not=(F("toolchain-mismatch"),),
    ),
]


def _params():
    seen: set[str] = set()
    for scenario in SCENARIOS:
        assert scenario.id not in seen, f"duplicate scenario id {scenario.id}"
        seen.add(scenario.id)
        marks = [pytest.mark.xfail(strict=True, reason=f"BUG: {scenario.bug}")] if scenario.bug else []
        yield pytest.param(scenario, id=scenario.id, marks=marks)


@pytest.mark.parametrize("scenario", list(_params()))
def test_scenario(scenario: Scenario, tmp_path) -> None:
    report = run_doctor(scenario.host, tmp_path, scenario.torch, scenario.cuda, scenario.requirements)
    problems = verify(scenario, report)
    assert not problems, "\n".join(problems) + "\n--- report ---\n" + describe(report)


# Cause ids the table need not demand, and where each is judged instead.
JUDGED_ELSEWHERE = {
    "container-requirement": "the image gate: tests/checks/test_image_gate.py",
    "forward-compat-unsupported": "the image gate: tests/checks/test_image_gate.py",
    "container-no-gpu": "test_container_without_gpu_access below (a container the host() rows cannot describe)",
    "out-of-memory": "doctor --model: tests/fit",
    "unsupported-dtype": "doctor --model: tests/fit",
    "missing-cuda-library": "explain only: a log shows it, a host document cannot",
    "cudnn-mismatch": "explain only",
    "driver-compat-mismatch": "explain only",
    "fabric-manager": "explain only",
    "runtime-library-too-old": "explain only",
}
CHECKS_DIR = Path(__file__).resolve().parents[2] / "src" / "gpu_preflight" / "checks"


def _causes_in_checks() -> set[str]:
    """Every cause id written in a check's source: what doctor can give (besides --model's)."""
    found: set[str] = set()
    for path in CHECKS_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in CAUSES:
                found.add(node.value)
    return found


def test_every_cause_doctor_gives_is_demanded_by_a_row() -> None:
    """A new cause in a check needs a row here that demands it (or a line in JUDGED_ELSEWHERE)."""
    demanded = {f.key for s in SCENARIOS for f in s.must if f.severity != "pass"} & CAUSES
    missing = _causes_in_checks() - demanded - JUDGED_ELSEWHERE.keys()
    assert not missing, f"no row demands {sorted(missing)}"
    assert not demanded & JUDGED_ELSEWHERE.keys(), "a cause the table demands is not judged elsewhere"
    assert demanded | JUDGED_ELSEWHERE.keys() == CAUSES, sorted(CAUSES - demanded - JUDGED_ELSEWHERE.keys())


def test_the_table_spans_every_verdict_and_the_what_ifs() -> None:
    statuses = {status for s in SCENARIOS for status in ((s.status,) if isinstance(s.status, str) else s.status)}
    assert statuses == {"pass", "warn", "fail"}
    whatifs = [s.host for s in SCENARIOS if isinstance(s.host, WhatIf)]
    assert any(w.assume_driver for w in whatifs) and any(w.assume_gpus for w in whatifs)
    assert any(s.requirements for s in SCENARIOS) and any(s.torch for s in SCENARIOS) and any(s.cuda for s in SCENARIOS)
    assert not [s.id for s in SCENARIOS if s.bug], "a known bug is waiting in the table"


def test_container_without_gpu_access() -> None:
    """A container started without --gpus has no /dev/nvidia* and no driver, although its image
    expects a GPU (NVIDIA_VISIBLE_DEVICES set): container-no-gpu, not a missing driver."""
    started_without_gpus = Host(
        driver=Driver(),
        container=Container(in_container=True, runtime="docker", nvidia_env={"NVIDIA_VISIBLE_DEVICES": "all"}),
        source="snapshot",
    )
    report = diagnose(started_without_gpus)
    assert report.status == "fail"
    (finding,) = [f for f in report.findings if f.cause == "container-no-gpu"]
    assert finding.severity.label == "fail" and not [f for f in report.findings if f.cause == "no-driver"]
    assert any("--gpus all" in fix for fix in finding.fix)
    # the same container whose image asks for no GPU: simply no driver
    started_without_gpus.container.nvidia_env = {}
    assert {f.cause for f in diagnose(started_without_gpus).findings} >= {"no-driver"}


def test_whatif_driver_is_marked_assumed(tmp_path) -> None:
    """--assume-driver replaces the probed driver and says so; no kernel module is carried over."""
    from support.scenarios import materialise

    resolved = materialise(
        WhatIf(host("470.82.01", RTX3090, kernel_module="470.82.01"), assume_driver="550.54.15"), tmp_path
    )
    assert resolved.driver.version == "550.54.15"
    assert resolved.driver.source == "assumed"
    assert resolved.driver.cuda == "12.4"  # facts §2: R550 -> CUDA 12.4
    assert resolved.driver.kernel_module is None
    assert [g.name for g in resolved.gpus] == [RTX3090[0]]


# ============================ inference engines as targets (checks/engines.py) ============================
# Engine targets travel in Targets.engines (``--engine-pkg``, engine lines of ``--requirements``):
# these rows run through _run_engine_doctor, which collects them as the CLI does.


@dataclass(frozen=True)
class EngineRow:
    scenario: Scenario
    engine_pkg: tuple[str, ...] = ()


ENGINE_SCENARIOS: list[EngineRow] = [
    EngineRow(
        # engines.toml vLLM 0.10.2..0.11 (VLLM_ASCEND_4917, VLLM_DOCS_CUDA128): torch 2.8.0, CUDA 12.8,
        # compute capability 7.0 or higher; a GTX 1080 is CC 6.1 (facts §4: Pascal)
        Scenario(
            "engine-vllm-requirements-pin-on-gtx1080",
            host("580.95.05", GTX1080),
            "fail",
            requirements=("vllm==0.11.0\n",),
            must=(F("engine-gpu-too-old", "fail", 0), F("gpu-too-old", "fail", 0)),
            must_not=(F("arch-missing", None, 0),),
            checks=(Says("engine-gpu-too-old", r"compute capability >= 7\.0"), FixHas("engine-gpu-too-old", "Ollama")),
        )
    ),
    EngineRow(
        # VLLM_RN_0200: the default vLLM 0.20 wheel is CUDA 13.0; facts §2: R575's highest CUDA is 12.9
        # and CUDA 13.x needs >= 580; VLLM_ISSUE_42756: a cu129 wheel is still published
        Scenario(
            "engine-vllm-default-wheel-on-cuda-12.9-driver",
            host("575.57.08", RTX4090),
            "fail",
            must=(F("driver-too-old", "fail"),),
            checks=(FixHas("driver-runtime", r"\+cu129"), FixHas("driver-runtime", r">= 580")),
        ),
        engine_pkg=("vllm==0.20.0",),
    ),
    EngineRow(
        # the same host with the cu129 build of the same release: CUDA 12.9 runs natively on R575
        Scenario(
            "engine-vllm-cu129-build-on-cuda-12.9-driver",
            host("575.57.08", RTX4090),
            ("pass", "warn"),
            must=(F("driver-runtime", "pass"), F("arch-coverage", "pass")),
            must_not=(F("driver-too-old"),),
        ),
        engine_pkg=("vllm==0.20.0+cu129",),
    ),
    EngineRow(
        # a release newer than any row: judged by the newest rule, and the report says unconfirmed
        Scenario(
            "engine-vllm-unknown-newer-release",
            host("580.95.05", H100),
            "warn",
            must=(F("engine-release", "warn"), F("driver-runtime", "pass")),
            checks=(Says("engine-release", "unconfirmed"),),
        ),
        engine_pkg=("vllm==0.31.0",),
    ),
    EngineRow(
        # OLLAMA_V03215: 'compute capability 5.0 through 6.2 require driver version 570 or newer'
        Scenario(
            "engine-ollama-pascal-below-its-driver-floor",
            host("560.35.03", GTX1080),
            "fail",
            must=(F("engine-driver", "fail"), F("driver-too-old", "fail")),
            checks=(FixHas("engine-driver", r"570"),),
        ),
        engine_pkg=("ollama==0.32.15",),
    ),
    EngineRow(
        # OLLAMA_V0120: the CUDA 13 runner is PTX from 7.5 only; the CUDA 12.8 runner (sm_61) loads instead
        Scenario(
            "engine-ollama-picks-the-runner-that-covers-pascal",
            host("575.57.08", GTX1080),
            ("pass", "warn"),
            must=(F("arch-coverage", "pass"),),
            must_not=(F("gpu-too-old"), F("no-kernel-image")),
            checks=(Says("engine-release", "cuda_v12 build"),),
        ),
        engine_pkg=("ollama==0.12.3",),
    ),
    EngineRow(
        # SGLANG_PR_24162 / SGLANG_TRACKS: SGLang's default build is CUDA 13 from 0.5.11 and a cu129
        # build stays on the sgl-project index; facts §2: R575 reaches CUDA 12.9 only
        Scenario(
            "engine-sglang-cuda-13-default-on-cuda-12.9-driver",
            host("575.57.08", H100),
            "fail",
            must=(F("driver-too-old", "fail"),),
            checks=(FixHas("driver-runtime", r"sgl_kernel \+cu129"),),
        ),
        engine_pkg=("sglang==0.5.12",),
    ),
]


def _run_engine_doctor(row: EngineRow, tmp_path: Path):
    from dataclasses import replace

    from gpu_preflight.targets.engine_files import requirements_engines
    from gpu_preflight.targets.engines import collect_engine_targets
    from gpu_preflight.targets.model import Targets
    from gpu_preflight.targets.specs import collect_targets

    from support.scenarios import materialise

    files = []
    for n, text in enumerate(row.scenario.requirements):
        path = tmp_path / f"requirements-{n}.txt"
        path.write_text(text)
        files.append(str(path))
    base = collect_targets(requirements=files) if files else Targets()
    targets = replace(base, engines=collect_engine_targets(row.engine_pkg) + requirements_engines(files))
    return diagnose(materialise(row.scenario.host, tmp_path), targets)


@pytest.mark.parametrize("row", ENGINE_SCENARIOS, ids=[r.scenario.id for r in ENGINE_SCENARIOS])
def test_engine_scenario(row: EngineRow, tmp_path) -> None:
    report = _run_engine_doctor(row, tmp_path)
    problems = verify(row.scenario, report)
    assert not problems, "\n".join(problems) + "\n--- report ---\n" + describe(report)
