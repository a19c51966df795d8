"""Extension-build toolchain checks (checks/toolchain.py), from real cases:

* GCC 14 with nvcc 12.4: nvcc's crt/host_config.h stops with "gcc versions later than 13 are
  not supported!" (host_compilers.toml, CUDA 12.4 row; build notes quoting the error);
* CUDA_HOME=/usr/local/cuda-11.8 while PATH has 12.4's nvcc (torch.utils.cpp_extension builds
  with CUDA_HOME's nvcc, a shell with PATH's);
* nvcc 12.x with torch cu130: torch.utils.cpp_extension raises "The detected CUDA version (12.4)
  mismatches the version that was used to compile PyTorch (13.0)"; with cu126 it only warns;
* a snapshot without compiler info: nothing is claimed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gpu_preflight.checks.context import CheckContext
from gpu_preflight.checks.diagnose import diagnose
from gpu_preflight.checks.toolchain import check_toolchain, nvcc_host_compilers, torch_build_toolkit
from gpu_preflight.core.findings import Finding, Severity
from gpu_preflight.core.host import Compiler, Host, Toolkit
from gpu_preflight.probe.hostspec import HostSpec, resolve_host

from support.scenarios import RTX4090, host, installed_torch

GCC14 = Compiler("gcc", "14.2.0", "/usr/bin/x86_64-linux-gnu-gcc-14", ["PATH"])
GXX14 = Compiler("gcc", "14.2.0", "/usr/bin/x86_64-linux-gnu-g++-14", ["PATH"])
GCC13 = Compiler("gcc", "13.3.0", "/usr/bin/x86_64-linux-gnu-gcc-13", ["PATH"])
GCC11 = Compiler("gcc", "11.4.0", "/usr/bin/x86_64-linux-gnu-gcc-11", ["PATH"])


def toolkit(version: str, *found_via: str, source: str = "version.json") -> Toolkit:
    root = f"/usr/local/cuda-{'.'.join(version.split('.')[:2])}"
    return Toolkit(version, root, source, nvcc=f"{root}/bin/nvcc", found_via=list(found_via))


def machine(toolkits: list[Toolkit], compilers: list[Compiler] | None, *frameworks, driver: str = "580.95.05") -> Host:
    base = host(driver, RTX4090, frameworks=tuple(frameworks))
    base.toolkits = toolkits
    base.compilers = compilers
    return base


def findings(h: Host) -> list[Finding]:
    return list(check_toolchain(CheckContext(host=h)))


def only(found: list[Finding], code: str) -> Finding:
    matching = [f for f in found if f.code == code]
    assert len(matching) == 1, [(f.code, f.title) for f in found]
    return matching[0]


# --- the host compiler ------------------------------------------------------------------------------


def test_gcc_14_with_nvcc_12_4_fails_with_nvccs_own_error() -> None:
    found = findings(machine([toolkit("12.4.1", "PATH", "/usr/local/cuda")], [GCC14, GXX14]))
    finding = only(found, "host-compiler-unsupported")
    # a warning: running a model never compiles (doctor --strict fails on it)
    assert finding.severity == Severity.WARN and finding.cause == "host-compiler-unsupported"
    assert "gcc versions later than 13 are not supported!" in finding.detail
    assert finding.evidence["supported_max"] == 13 and finding.evidence["compiler_version"] == "14.2.0"
    # gcc and g++ of one release are one finding, naming both
    assert finding.evidence["compilers"] == [GCC14.path, GXX14.path]
    assert any("NVCC_CCBIN=g++-13" in fix and "CC=gcc-13" in fix for fix in finding.fix)
    assert any("CUDA 12.8 to 12.9 and later accept GCC 14" in fix for fix in finding.fix)


def test_gcc_13_with_nvcc_12_4_passes_the_major_only_check() -> None:
    # host_config.h compares __GNUC__ only: 13.3 is fine where the bound is 13
    finding = only(findings(machine([toolkit("12.4.1", "PATH")], [GCC13])), "host-compiler")
    assert finding.severity == Severity.PASS


def test_the_compiler_a_variable_names_is_judged_not_the_one_on_path() -> None:
    named = Compiler("gcc", "13.2.0", "/opt/gcc-13/bin/gcc", ["NVCC_CCBIN"])
    assert nvcc_host_compilers([GCC14, named]) == [named]
    found = findings(machine([toolkit("12.4.1", "PATH")], [GCC14, named]))
    assert [f.severity for f in found if f.code.startswith("host-compiler")] == [Severity.PASS]


def test_nvcc_11_4_0_is_judged_by_the_narrower_rule_when_its_patch_is_unknown() -> None:
    # nvcc --version says 11.4.48 for CUDA 11.4.0: torch special-cases it to gcc < 11
    gcc11 = findings(machine([toolkit("11.4.48", "PATH", source="nvcc")], [GCC11], driver="470.57.02"))
    assert only(gcc11, "host-compiler-unsupported").severity == Severity.WARN
    patched = findings(machine([toolkit("11.4.2", "PATH")], [GCC11], driver="470.57.02"))
    assert only(patched, "host-compiler").severity == Severity.PASS


def test_a_toolkit_newer_than_the_table_is_judged_and_says_so() -> None:
    gcc16 = Compiler("gcc", "16.1.1", "/usr/bin/gcc", ["PATH"])
    finding = only(
        findings(machine([toolkit("13.4.1", "PATH")], [gcc16], driver="610.43")), "host-compiler-unsupported"
    )
    assert finding.severity == Severity.WARN and "unconfirmed" in finding.detail


def test_clang_above_the_range_names_nvccs_clang_error() -> None:
    clang21 = Compiler("clang", "21.1.0", "/usr/bin/clang-21", ["NVCC_CCBIN"])
    finding = only(findings(machine([toolkit("13.0.2", "PATH")], [clang21])), "host-compiler-unsupported")
    assert "clang version must be less than 21" in finding.detail
    assert any("CUDA 13.1 to 13.2 and later accept Clang 21" in fix for fix in finding.fix)


def test_no_compiler_found_is_said_without_failing() -> None:
    finding = only(findings(machine([toolkit("12.4.1", "PATH")], [])), "host-compiler")
    assert finding.severity == Severity.INFO


# --- several toolkits ---------------------------------------------------------------------------------


def test_cuda_home_11_8_and_path_12_4_name_which_tool_uses_which() -> None:
    h = machine([toolkit("11.8.0", "CUDA_HOME"), toolkit("12.4.1", "PATH", "LD_LIBRARY_PATH")], [GCC11])
    finding = only(findings(h), "toolkit-env-mismatch")
    assert finding.severity == Severity.WARN and finding.cause == "toolchain-mismatch"
    assert "CUDA_HOME -> CUDA 11.8.0 at /usr/local/cuda-11.8: torch.utils.cpp_extension" in finding.detail
    assert "PATH -> CUDA 12.4.1 at /usr/local/cuda-12.4" in finding.detail
    assert finding.evidence["LD_LIBRARY_PATH"]["path"] == "/usr/local/cuda-12.4"
    # torch's _find_cuda_home: CUDA_HOME before PATH
    assert torch_build_toolkit(h.toolkits) == (h.toolkits[0], "CUDA_HOME")


def test_one_toolkit_reached_several_ways_is_no_mismatch() -> None:
    found = findings(machine([toolkit("12.4.1", "CUDA_HOME", "PATH", "LD_LIBRARY_PATH")], [GCC13]))
    assert not [f for f in found if f.code == "toolkit-env-mismatch"]


def test_the_fix_points_at_the_toolkit_of_torchs_major() -> None:
    torch = installed_torch("2.9.1+cu126", "cu126", "12.6")
    h = machine([toolkit("11.8.0", "CUDA_HOME"), toolkit("12.6.3", "PATH")], [GCC11], torch)
    assert "export CUDA_HOME=/usr/local/cuda-12.6 " in only(findings(h), "toolkit-env-mismatch").fix[0]


# --- nvcc against torch -----------------------------------------------------------------------------


def test_nvcc_12_with_torch_cu130_fails_as_cpp_extension_does() -> None:
    torch = installed_torch("2.9.1+cu130", "cu130", "13.0")
    finding = only(findings(machine([toolkit("12.4.1", "PATH")], [GCC13], torch)), "extension-cuda-mismatch")
    assert finding.severity == Severity.WARN and finding.cause == "toolchain-mismatch"
    assert "The detected CUDA version (12.4) mismatches the version that was used to compile PyTorch (13.0)" in (
        finding.detail
    )
    assert any("Install a CUDA 13.x toolkit" in fix for fix in finding.fix)
    # torch 2.9.1's nearest CUDA 12 wheel to nvcc 12.4 is cu126
    assert any(
        fix.endswith("pip install torch==2.9.1 --index-url https://download.pytorch.org/whl/cu126")
        for fix in finding.fix
    )


def test_nvcc_12_4_with_torch_cu126_differs_in_the_minor_only() -> None:
    torch = installed_torch("2.9.1+cu126", "cu126", "12.6")
    found = findings(machine([toolkit("12.4.1", "PATH")], [GCC13], torch))
    finding = only(found, "extension-cuda")
    assert finding.severity == Severity.INFO and "minor version mismatch" in finding.detail
    assert not [f for f in found if f.severity >= Severity.WARN]


# --- what a host document without compilers gets ---------------------------------------------------------


def test_a_snapshot_without_compiler_info_claims_nothing(tmp_path: Path) -> None:
    torch = installed_torch("2.9.1+cu130", "cu130", "13.0")
    document = machine([toolkit("11.8.0", "CUDA_HOME"), toolkit("12.4.1", "PATH")], None, torch).to_dict()
    assert "compilers" not in document  # written only when known
    path = tmp_path / "old-snapshot.json"
    path.write_text(json.dumps(document))
    loaded = resolve_host(HostSpec(snapshot=str(path)))
    assert loaded.compilers is None
    codes = {f.code for f in diagnose(loaded).findings}
    assert not codes & {"host-compiler", "host-compiler-unsupported", "toolkit-env-mismatch", "extension-cuda-mismatch"}


def test_compilers_round_trip_through_the_host_document() -> None:
    h = machine([toolkit("12.4.1", "PATH")], [GCC14, Compiler("other", None, "/opt/nvidia/hpc_sdk/bin/nvc++", ["CXX"])])
    again = Host.from_dict(json.loads(json.dumps(h.to_dict())))
    assert again.compilers == h.compilers
    empty = machine([toolkit("12.4.1", "PATH")], [])
    assert Host.from_dict(empty.to_dict()).compilers == []


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"kind": "gcc", "path": "/usr/bin/gcc", "version": "fourteen"}, "$.compilers[0].version"),
        ({"version": "14.2.0"}, "$.compilers[0]"),
        ("gcc", "$.compilers[0]"),
    ],
)
def test_a_malformed_compiler_entry_is_one_clear_error(bad: object, message: str) -> None:
    from gpu_preflight.core.errors import UsageError

    document = machine([toolkit("12.4.1", "PATH")], []).to_dict()
    document["compilers"] = [bad]
    with pytest.raises(UsageError, match=message.replace("$", r"\$").replace("[", r"\[").replace("]", r"\]")):
        Host.from_dict(document)
