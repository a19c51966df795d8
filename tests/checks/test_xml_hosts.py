"""doctor over every real ``nvidia-smi -q -x`` dump in shared/fixtures/real/nvidia-smi-xml as a
host (``HostSpec(nvidia_smi_xml=path)``), with two targets: torch 2.4.1+cu121 and a CUDA 12.4
runtime. Each file gets the status the facts give for its driver and GPUs:

* cu121 needs >= 530.30.02 natively, any 12.x runs on >= 525.60.13 (Linux; Windows 531.14 /
  528.33) through minor-version compatibility (a warning); 12.4 needs >= 550.54.15 (Windows
  551.78) natively (cuda-facts §1b, §1c). Below the 12.x floor: driver-too-old, fail.
* torch 2.4 cu121 compiles 5.0;6.0;7.0;7.5;8.0;8.6;9.0 without PTX (§7): no sm_37 (K80, GT 730
  Kepler: gpu-too-old) and nothing for CC 12.0 (RTX PRO 6000 Blackwell: no-kernel-image, §4).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gpu_preflight.checks.diagnose import diagnose
from gpu_preflight.probe.hostspec import HostSpec, resolve_host
from gpu_preflight.targets.specs import collect_targets

from support.paths import MISSING, REAL
from support.scenarios import F, describe

XML_DIR = REAL / "nvidia-smi-xml"
TORCH, CUDA = "2.4.1+cu121", "12.4"

TOO_OLD = (F("driver-too-old", "fail"),)

# file name -> (expected status, findings that must be present); the reason follows each row.
EXPECTED: dict[str, tuple[str, tuple[F, ...]]] = {
    "netdata__a100-sxm4-40gb__510.47.03__mig.xml": ("fail", TOO_OLD),  # 510 < 525.60.13
    "netdata__rtx-2080__516.59__windows-wddm.xml": ("fail", TOO_OLD),  # Windows 516.59 < 528.33
    "netdata__rtx-3060-laptop__515.65.01.xml": ("fail", TOO_OLD),  # 515 < 525.60.13
    # 535.86.05 >= 530.30.02 (cu121 native), < 550.54.15 (12.4 through minor compat)
    "netdata__rtx-4090__535.86.05.xml": ("warn", (F("driver-runtime", "warn"),)),
    "netdata__tesla-p100-pcie-16gb__510.47.03.xml": ("fail", TOO_OLD),
    "pai__2x-rtx-2080ti__410.73__ecc-unsupported.xml": ("fail", TOO_OLD),
    # R430 < 525.60.13, and K80 (3.7): no sm_37 in cu121, CUDA 12 cannot target 3.x (§3)
    "pai__4x-tesla-k80__430.26__cuda-version-not-found.xml": (
        "fail",
        TOO_OLD + tuple(F("gpu-too-old", "fail", i) for i in range(4)),
    ),
    "pai__gt-730__384.111__minimal-no-cuda-version.xml": ("fail", TOO_OLD),
    "pai__gtx-1070__384.66__no-cuda-version.xml": ("fail", TOO_OLD),
    "pai__v100-sxm3-32gb__410.104__retired-pages.xml": ("fail", TOO_OLD),
    "telegraf__2x-rtx-2070__590.44.01__v13.xml": ("pass", ()),  # R590 >= 550.54.15; sm_75 SASS
    "telegraf__2x-rtx-a5000__590.44.01__v13.xml": ("pass", ()),  # sm_86 SASS
    "telegraf__a100-sxm4-80gb__535.54.03__mig.xml": ("warn", (F("driver-runtime", "warn"),)),
    "telegraf__a10g__515.105.01.xml": ("fail", TOO_OLD),
    "telegraf__grid-p4-1q__513.46__vgpu.xml": ("fail", TOO_OLD),  # Windows 513.46 < 528.33
    "telegraf__gt-1030__470.74.xml": ("fail", TOO_OLD),  # R470: CUDA 11.4 at most
    # No <driver_version> in this trimmed dump, but nvidia-smi listed the GPU, so a driver was
    # loaded: the driver cannot be judged (warn), a GTX 1070 Ti (6.1) runs cu121's sm_60 SASS.
    "telegraf__gtx-1070-ti__trimmed-no-driver-version.xml": ("warn", ()),
    "telegraf__gtx-1660-ti__418.43.xml": ("fail", TOO_OLD),
    # 525.125.06: both 12.1 and 12.4 only through minor-version compatibility (>= 525.60.13)
    "telegraf__quadro-p2000__525.125.06.xml": ("warn", (F("driver-runtime", "warn"),)),
    "telegraf__quadro-p400__418.43.xml": ("fail", TOO_OLD),
    "telegraf__rtx-3060__570.124.04.xml": ("pass", ()),
    # Windows 536.40: 12.1 native (>= 531.14), 12.4 minor compat (< 551.78)
    "telegraf__rtx-3080__536.40__windows-wddm.xml": ("warn", (F("driver-runtime", "warn"),)),
    "telegraf__rtx-3080__595.58.03__v13.xml": ("pass", ()),
    "telegraf__rtx-3090__525.147.05.xml": ("warn", (F("driver-runtime", "warn"),)),
    "telegraf__rtx-4000-sff-ada__595.84__v13.xml": ("pass", ()),  # 8.9 runs sm_86 SASS (§4)
    # CC 12.0: cu121 has no code for it and CUDA 12.4 cannot target it (first: 12.8, §3)
    "telegraf__rtx-pro-6000-blackwell-maxq__590.44.01__v13.xml": ("fail", (F("no-kernel-image", "fail", 0),)),
    "telegraf__tesla-t4__512.78.xml": ("fail", TOO_OLD),
    "telegraf__tesla-t4__515.105.01.xml": ("fail", TOO_OLD),
    "tony__2x-tesla-p100-pcie-12gb__375.66__v8-no-cuda-version.xml": ("fail", TOO_OLD),
}

BUGS: dict[str, str] = {}  # file name -> the bug that makes it xfail (none open)


def _xml_files() -> list:
    if not XML_DIR.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=MISSING), id="no-shared-fixtures")]
    params = []
    for path in sorted(XML_DIR.glob("*.xml")):
        marks = [pytest.mark.xfail(strict=True, reason=f"BUG: {BUGS[path.name]}")] if path.name in BUGS else []
        params.append(pytest.param(path, id=path.stem, marks=marks))
    return params


def judge(path: Path):
    host = resolve_host(HostSpec(nvidia_smi_xml=str(path)))
    return host, diagnose(host, collect_targets(torch=[TORCH], cuda=[CUDA]))


@pytest.mark.parametrize("path", _xml_files())
def test_doctor_over_real_xml(path: Path) -> None:
    host, report = judge(path)
    assert report.status in ("pass", "warn", "fail")
    assert host.gpus, f"{path.name}: no GPU parsed"
    # Every GPU in the dump is resolved to a compute capability (by name or PCI id) and judged.
    for gpu in host.gpus:
        assert gpu.compute_capability, f"GPU {gpu.index} ({gpu.name}): no compute capability"
    assert not [f for f in report.findings if f.code == "gpu-unknown"], describe(report)
    if path.name not in EXPECTED:
        pytest.skip(f"{path.name}: a new fixture: add its expected status to EXPECTED")
    status, must = EXPECTED[path.name]
    problems = [f"status {report.status!r}, expected {status!r}"] if report.status != status else []
    problems += [f"missing {expected}" for expected in must if not any(expected.matches(f) for f in report.findings)]
    if status != "fail":
        problems += [f"unexpected no-driver {f.code}" for f in report.findings if f.cause == "no-driver"]
    assert not problems, "\n".join(problems) + "\n" + describe(report)
