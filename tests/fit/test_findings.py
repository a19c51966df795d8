"""Findings from a plan: out-of-memory with fixes that were checked, unsupported-dtype, and
what makes the request fail (exit 1) or only warn."""

from __future__ import annotations

import re

import pytest

from gpu_preflight.core.findings import Severity, overall_status
from gpu_preflight.core.host import Host
from gpu_preflight.fit import fit_device, fit_findings, plan_memory, resolve_model
from gpu_preflight.fit.plan import with_settings

from support.fit_inputs import gpu, host

T4 = gpu("Tesla T4", 15360, cc="7.5")
A100 = gpu("NVIDIA A100-SXM4-80GB", 81920, cc="8.0")
H100 = gpu("NVIDIA H100 80GB HBM3", 81559, cc="9.0")


def _codes(findings):
    return [(f.code, f.severity.label, f.device) for f in findings]


def _flags(fix: str) -> dict:
    """'--dtype int8 --context 4096 (why)' -> {'dtype': 'int8', 'context': 4096}"""
    flags = {}
    for name, value in re.findall(r"--([a-z-]+) (\S+)", fix.split(" (")[0]):
        key = name.replace("-", "_").replace("tensor_parallel", "tensor_parallel")
        flags[key] = int(value) if value.isdigit() else float(value) if key == "gpu_memory_utilization" else value
    return flags


@pytest.fixture(scope="module")
def qwen7b():
    return resolve_model("Qwen2.5-7B-Instruct")


def test_fits_is_a_pass_finding_with_the_largest_context_and_batch():
    plan = plan_memory(resolve_model("VibeThinker-1.5B"), context=32768, dtype="bfloat16")
    findings = fit_findings(plan, host(H100))
    assert _codes(findings) == [("fit", "pass", 0)]
    assert "largest context at batch 1: 131072" in findings[0].detail
    assert overall_status(findings) == "pass"


def test_out_of_memory_fails_and_every_fix_makes_it_fit(qwen7b):
    plan = plan_memory(qwen7b, dtype="float16", context=32768, batch=4, engine="transformers")
    findings = fit_findings(plan, host(T4))
    oom = [f for f in findings if f.code == "fit-out-of-memory"]
    assert len(oom) == 1 and oom[0].severity == Severity.FAIL and oom[0].cause == "out-of-memory"
    assert oom[0].fix, "an out-of-memory finding names what would fit"
    for fix in oom[0].fix:
        candidate = with_settings(plan, **_flags(fix))
        assert fit_device(candidate, T4).fits, fix


def test_the_fixes_include_a_smaller_context_fp8_kv_and_int8():
    model = resolve_model("VibeThinker-1.5B")
    plan = plan_memory(model, dtype="float16", context=131072, batch=4, engine="vllm")
    oom = fit_findings(plan, host(T4))[0]
    assert oom.code == "fit-out-of-memory"
    text = "\n".join(oom.fix)
    assert "--context " in text and "--batch 2" in text and "--kv-cache-dtype fp8" in text
    assert oom.evidence["max_context"] == int(re.search(r"--context (\d+)", text).group(1))


def test_the_int8_fix_appears_when_only_smaller_weights_help(qwen7b):
    plan = plan_memory(qwen7b, dtype="float16", context=2048)
    oom = fit_findings(plan, host(T4))[0]
    assert any(fix.startswith("--dtype int8") for fix in oom.fix), oom.fix


def test_combined_fix_when_no_single_setting_is_enough(qwen7b):
    plan = plan_memory(qwen7b, dtype="float16", context=32768, batch=8)
    oom = fit_findings(plan, host(T4))[0]
    assert oom.fix and oom.fix[0].startswith("--dtype int8 --batch"), oom.fix
    assert fit_device(with_settings(plan, **_flags(oom.fix[0])), T4).fits


def test_tensor_parallel_is_offered_on_several_gpus(qwen7b):
    plan = plan_memory(qwen7b, dtype="float16", context=8192)
    findings = fit_findings(plan, host(T4, T4))
    assert all(f.severity == Severity.FAIL for f in findings)
    assert any(fix.startswith("--tensor-parallel 2") for fix in findings[0].fix)


def test_a_gpu_that_cannot_hold_it_only_warns_when_another_can(qwen7b):
    plan = plan_memory(qwen7b, dtype="float16", context=8192)
    findings = fit_findings(plan, host(T4, H100))
    assert _codes(findings) == [("fit-out-of-memory", "warn", 0), ("fit", "pass", 1)]
    assert "CUDA_VISIBLE_DEVICES=1" in findings[0].fix[-1]
    assert overall_status(findings) == "warn"


def test_memory_held_by_other_processes_is_named_as_a_fix():
    model = resolve_model("VibeThinker-1.5B")
    busy = gpu("Tesla T4", 15360, used_mib=12000, cc="7.5")
    findings = fit_findings(plan_memory(model, dtype="float16", context=8192, engine="transformers"), host(busy))
    assert any("other processes hold on GPU 0" in fix for fix in findings[0].fix)


def test_vllm_start_check_suggests_a_lower_utilization():
    model = resolve_model("VibeThinker-1.5B")
    busy = gpu("NVIDIA H100 80GB HBM3", 81559, used_mib=30000, cc="9.0")
    oom = fit_findings(plan_memory(model, context=32768), host(busy))[0]
    assert "refuses to start" in oom.detail
    assert oom.fix[0].startswith("--gpu-memory-utilization 0.63")


@pytest.mark.parametrize(
    "dtype, device, severity",
    [
        ("bfloat16", T4, "fail"),
        ("fp8", A100, "fail"),
        ("fp8", T4, "fail"),
        ("bfloat16", A100, None),
        ("fp8", H100, None),
        ("float16", T4, None),
    ],
)
def test_unsupported_dtype_by_compute_capability(dtype, device, severity):
    plan = plan_memory(resolve_model("VibeThinker-1.5B"), dtype=dtype, context=4096)
    found = [f for f in fit_findings(plan, host(device)) if f.code == "fit-unsupported-dtype"]
    if severity is None:
        assert not found
    else:
        assert found[0].severity.label == severity and found[0].cause == "unsupported-dtype"
        assert found[0].fix == ["--dtype float16"]


def test_a_bfloat16_checkpoint_left_on_auto_only_warns_on_a_t4():
    plan = plan_memory(resolve_model("VibeThinker-1.5B"), context=4096)  # dtype from the checkpoint
    findings = fit_findings(plan, host(T4))
    assert _codes(findings) == [("fit-unsupported-dtype", "warn", 0), ("fit", "pass", 0)]


def test_an_explicit_unsupported_dtype_on_one_gpu_warns_when_another_runs_it():
    plan = plan_memory(resolve_model("VibeThinker-1.5B"), dtype="bfloat16", context=4096)
    findings = fit_findings(plan, host(T4, H100))
    assert ("fit-unsupported-dtype", "warn", 0) in _codes(findings) and overall_status(findings) == "warn"


def test_no_gpu_fails_with_a_what_if_hint():
    findings = fit_findings(plan_memory(resolve_model("VibeThinker-1.5B"), context=1024), Host())
    assert _codes(findings) == [("fit-no-gpu", "fail", None)] and "--assume-gpu" in findings[0].detail


def test_context_beyond_the_model_fails():
    plan = plan_memory(resolve_model("Qwen2.5-0.5B-Instruct"), context=65536)
    findings = fit_findings(plan, host(H100))
    assert findings[0].code == "fit-context-too-long" and findings[0].fix == ["--context 32768"]


def test_tensor_parallel_wider_than_the_host_fails(qwen7b):
    findings = fit_findings(plan_memory(qwen7b, context=4096, tensor_parallel=4), host(H100, H100))
    assert findings[0].code == "fit-tensor-parallel" and findings[0].severity == Severity.FAIL


def test_unknown_memory_warns():
    findings = fit_findings(
        plan_memory(resolve_model("VibeThinker-1.5B"), context=1024), host(gpu("Tesla T4", None, cc="7.5"))
    )
    assert ("fit-memory-unknown", "warn", 0) in _codes(findings)
