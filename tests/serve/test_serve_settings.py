"""Settings derived from what was measured, and the gate that decides where (and whether) to
serve. Hosts are made by hand: a working driver + torch, with the GPUs each case needs."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.host import Driver, Framework, Gpu, Host
from gpu_preflight.fit import resolve_model
from gpu_preflight.serve import vllm
from gpu_preflight.serve.gate import Request, decide
from gpu_preflight.serve.machine import CpuFacts, read_cpu
from gpu_preflight.serve.settings import (
    batch_size,
    cpu_dtype,
    derive_cpu,
    derive_gpu,
    gpu_dtype,
    gpu_memory_share,
    parse_dtype,
    threads,
)

GIB = 2**30
H100 = Gpu(index=0, name="NVIDIA H100 80GB HBM3", compute_capability="9.0", memory_total_mib=81559, memory_used_mib=0)
T4 = Gpu(index=0, name="Tesla T4", compute_capability="7.5", memory_total_mib=15360, memory_used_mib=0)
TINY_GPU = Gpu(
    index=0, name="NVIDIA GeForce GT 1030", compute_capability="6.1", memory_total_mib=2048, memory_used_mib=0
)
BIG_CPU = CpuFacts(available_bytes=64 * GIB, flags=frozenset({"avx2"}))


@pytest.fixture(scope="module")
def vibe():
    return resolve_model("VibeThinker-1.5B")  # the built-in profile: config.json values, no download


def working_host(*gpus: Gpu) -> Host:
    return Host(
        driver=Driver(version="550.54.15", cuda="12.4", source="nvml", platform="linux"),
        gpus=[replace(g, index=i) for i, g in enumerate(gpus)],
        frameworks=[Framework(name="torch", version="2.4.1+cu121", cuda="12.1", variant="cu121")],
    )


@pytest.mark.parametrize(
    ("checkpoint", "cc", "dtype"),
    [
        ("bfloat16", "9.0", "bfloat16"),
        ("bfloat16", "7.5", "float16"),
        ("float32", "8.6", "bfloat16"),
        ("float32", "7.0", "float16"),
        ("float16", "9.0", "float16"),
        ("bfloat16", None, "float16"),
    ],
)
def test_gpu_dtype(checkpoint, cc, dtype):
    assert gpu_dtype(checkpoint, cc)[0] == dtype


@pytest.mark.parametrize(
    ("checkpoint", "flags", "dtype"),
    [
        ("bfloat16", {"avx512_bf16"}, "bfloat16"),
        ("bfloat16", {"amx_bf16"}, "bfloat16"),
        ("bfloat16", {"avx2"}, "float32"),
        ("float16", {"avx512_bf16"}, "float32"),
        ("float32", {"amx_bf16"}, "float32"),
    ],
)
def test_cpu_dtype(checkpoint, flags, dtype):
    assert cpu_dtype(checkpoint, frozenset(flags))[0] == dtype


def test_memory_share_follows_free_memory():
    assert gpu_memory_share(H100, None)[0] == 0.9
    busy = replace(H100, memory_used_mib=40000)  # 51% free
    share, why = gpu_memory_share(busy, None)
    assert share == 0.48 and "other processes hold 40000 MiB" in why  # 51% free - 2% margin, floored
    assert gpu_memory_share(busy, 0.3) == (0.3, "--memory-share")
    with pytest.raises(UsageError):
        gpu_memory_share(H100, 1.5)


def test_context_is_the_models_limit_when_memory_allows(vibe):
    hardware = derive_gpu(vibe, H100, "vllm")
    assert (hardware.device, hardware.dtype, hardware.max_context, hardware.memory_share) == (
        "cuda",
        "bfloat16",
        131072,
        0.9,
    )
    assert "max_position_embeddings" in hardware.why["max_context"]


def test_context_is_capped_by_memory(vibe):
    hardware = derive_gpu(vibe, replace(T4, memory_used_mib=9000), "transformers")
    assert hardware.dtype == "float16"
    assert 0 < hardware.max_context < 131072
    # the largest that fits, exactly: one token more does not
    assert hardware.plan.breakdown(hardware.max_context, 1, hardware.gpu).total <= hardware.budget_bytes
    assert hardware.plan.breakdown(hardware.max_context + 1, 1, hardware.gpu).total > hardware.budget_bytes


def test_requested_context_beyond_the_models_limit_is_a_usage_error(vibe):
    with pytest.raises(UsageError, match="max_position_embeddings"):
        derive_gpu(vibe, H100, "vllm", max_context=200_000)


def test_cpu_falls_back_to_bfloat16_when_float32_does_not_fit(vibe):
    assert derive_cpu(vibe, BIG_CPU).dtype == "float32"
    small = derive_cpu(vibe, CpuFacts(available_bytes=7 * GIB, flags=frozenset()))
    assert small.dtype == "bfloat16" and "do not fit" in small.why["dtype"] and small.max_context > 0


def test_parse_dtype():
    assert parse_dtype(None) is None and parse_dtype("auto") is None and parse_dtype("bf16") == "bfloat16"
    with pytest.raises(UsageError):
        parse_dtype("int4")


# --- the gate ---------------------------------------------------------------------------------


def test_a_working_gpu_is_used_and_auto_picks_vllm_when_installed(vibe):
    decision = decide(vibe, working_host(H100), Request(engine="auto"), BIG_CPU, vllm_installed=True)
    assert not decision.refused and decision.engine == "vllm" and decision.hardware.device == "cuda"
    assert (
        decide(vibe, working_host(H100), Request(engine="auto"), BIG_CPU, vllm_installed=False).engine == "transformers"
    )


def test_device_auto_falls_back_to_the_cpu_loudly(vibe):
    decision = decide(vibe, Host(), Request(device="auto"), BIG_CPU, vllm_installed=True)
    assert not decision.refused and decision.engine == "transformers" and decision.hardware.device == "cpu"
    assert decision.warnings and "SERVING ON THE CPU" in decision.warnings[0]
    assert decision.report.findings[0].code == "serve-cpu-fallback"  # and so in /preflight


def test_device_cuda_never_falls_back(vibe):
    decision = decide(vibe, Host(), Request(device="cuda"), BIG_CPU, vllm_installed=False)
    assert decision.refused and decision.report.status == "fail"


def test_a_model_too_large_for_the_gpu_refuses_with_cuda_and_falls_back_with_auto(vibe):
    host = working_host(TINY_GPU)
    refused = decide(vibe, host, Request(device="cuda"), BIG_CPU, vllm_installed=False)
    assert refused.refused and any(f.cause == "out-of-memory" for f in refused.report.findings)
    fallback = decide(vibe, host, Request(device="auto"), BIG_CPU, vllm_installed=False)
    assert not fallback.refused and fallback.hardware.device == "cpu"


def test_bfloat16_asked_on_an_old_gpu_is_refused(vibe):
    decision = decide(vibe, working_host(T4), Request(device="cuda", dtype="bfloat16"), BIG_CPU, vllm_installed=False)
    assert decision.refused and any(f.cause == "unsupported-dtype" for f in decision.report.findings)


def test_vllm_needs_a_gpu(vibe):
    decision = decide(vibe, Host(), Request(engine="vllm"), BIG_CPU, vllm_installed=True)
    assert decision.refused


def test_cpu_without_enough_memory_refuses(vibe):
    decision = decide(
        vibe, Host(), Request(device="cpu"), CpuFacts(available_bytes=GIB, flags=frozenset()), vllm_installed=False
    )
    assert decision.refused and decision.report.findings[0].code == "serve-does-not-fit"


def test_no_preflight_skips_the_checks_but_says_so(vibe):
    decision = decide(vibe, Host(), Request(preflight=False), BIG_CPU, vllm_installed=False)
    assert not decision.refused and any(f.code == "serve-preflight-skipped" for f in decision.report.findings)


def test_vllm_command_carries_the_derived_flags(vibe):
    hardware = derive_gpu(vibe, T4, "vllm")
    argv = vllm.build_command(
        vllm.Launch("WeiboAI/VibeThinker-1.5B", "vibe", "127.0.0.1", 8000, api_key="k"), hardware, python="python3"
    )
    line = vllm.printable(argv)
    assert line.startswith(
        "python3 -m vllm.entrypoints.openai.api_server --model WeiboAI/VibeThinker-1.5B --served-model-name vibe"
    )
    assert (
        "--dtype float16" in line
        and f"--max-model-len {hardware.max_context}" in line
        and "--gpu-memory-utilization 0.9" in line
    )
    assert "--api-key '***'" in line and "k" not in line.split("--api-key")[1]
    assert "--trust-remote-code" not in argv


def test_read_cpu_parses_proc_files(tmp_path):
    (tmp_path / "meminfo").write_text("MemTotal: 100 kB\nMemAvailable:    2048 kB\n")
    (tmp_path / "cpuinfo").write_text("processor : 0\nflags\t\t: fpu avx2 avx512_bf16\n")
    facts = read_cpu(str(tmp_path / "meminfo"), str(tmp_path / "cpuinfo"))
    assert facts.available_bytes == 2048 * 1024 and "avx512_bf16" in facts.flags
    missing = read_cpu(str(tmp_path / "none"), str(tmp_path / "none"))
    assert (missing.available_bytes, missing.flags) == (None, frozenset())


@pytest.mark.parametrize(
    ("cores", "requested", "expected", "because"),
    [
        (16, None, 15, "one left for the web thread"),
        (3, None, 2, "one left for the web thread"),
        (2, None, 2, "all 2 cores"),  # on two cores the model keeps both: the web thread mostly waits
        (1, None, 1, "all 1 cores"),
        (16, 4, 4, "--threads"),
        (None, None, None, "torch's default"),
    ],
)
def test_threads_come_from_the_cores_this_process_may_use(cores, requested, expected, because):
    count, why = threads(cores, requested)
    assert count == expected and because in why


def test_the_batch_is_as_many_sequences_as_the_memory_plan_fits(vibe):
    roomy = derive_cpu(vibe, BIG_CPU, max_context=1024)
    assert batch_size(roomy, None) == (
        64,
        "the rules' cap; more sequences of 1024 tokens would fit in the memory budget",
    )
    tight = derive_cpu(vibe, CpuFacts(available_bytes=24 * GIB, flags=frozenset()), max_context=8192)
    count, why = batch_size(tight, None)
    plan, budget = tight.plan, tight.budget_bytes or 0
    assert 1 < count < 64 and "fit in the memory budget" in why
    assert plan.breakdown(8192, count, None).total <= budget < plan.breakdown(8192, count + 1, None).total
    # The derived context is the largest one sequence fits in: one at a time, and the log says how to get more.
    full = derive_cpu(vibe, CpuFacts(available_bytes=16 * GIB, flags=frozenset()))
    assert batch_size(full, None)[0] == 1 and "smaller --max-context" in batch_size(full, None)[1]
    assert batch_size(tight, 3) == (3, "--max-batch")
    with pytest.raises(UsageError, match="--max-batch must be at least 1"):
        batch_size(tight, 0)
