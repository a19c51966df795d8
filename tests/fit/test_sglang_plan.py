"""`fit --engine sglang`: weights and the KV cache pool fill SGLang's static fraction of total
memory (its rule per GPU, or --mem-fraction-static); activations and CUDA graphs use the rest."""

from __future__ import annotations

import math

import pytest

from gpu_preflight.core.errors import UsageError
from gpu_preflight.fit import data, fit_device, plan_memory, resolve_model
from gpu_preflight.fit.sglang import mem_fraction_static
from gpu_preflight.serve.settings import derive_gpu

from support.fit_inputs import GIB, MIB, VIBE_KV_BF16_PER_TOKEN, gpu

RTX4090 = gpu("NVIDIA GeForce RTX 4090", 24564, cc="8.9")
CONTEXT_MIB = data.rules()["overhead"]["cuda_context_mib"]


@pytest.fixture(scope="module")
def vibe():
    return resolve_model("VibeThinker-1.5B")


def test_the_budget_is_free_memory_less_what_sglang_keeps_aside(vibe) -> None:
    plan = plan_memory(vibe, engine="sglang", context=4096)
    fraction = mem_fraction_static(24564)
    assert 0.8 < fraction < 0.9
    fit = fit_device(plan, RTX4090)
    assert fit.budget_bytes == 24564 * MIB - math.ceil((1 - fraction) * 24564 * MIB)
    # another process holding 6 GiB takes it from SGLang's part, not from what it keeps aside
    busy = fit_device(plan, gpu("NVIDIA GeForce RTX 4090", 24564, cc="8.9", used_mib=6144))
    assert busy.budget_bytes == fit.budget_bytes - 6 * GIB


def test_the_pool_holds_weights_kv_and_the_context_only(vibe) -> None:
    plan = plan_memory(vibe, engine="sglang", context=1000, batch=3)
    b = plan.breakdown(1000, 3, RTX4090)
    # one token per page: no rounding up to blocks, as vLLM's 16-token blocks would
    assert b.kv_cache == VIBE_KV_BF16_PER_TOKEN * 1000 * 3
    assert b.activations == 0 and b.overhead == CONTEXT_MIB * MIB
    assert b.total < plan_memory(vibe, engine="vllm", context=1000, batch=3).breakdown(1000, 3, RTX4090).total


def test_a_given_fraction_is_used_and_checked(vibe) -> None:
    plan = plan_memory(vibe, engine="sglang", context=4096, mem_fraction_static=0.5)
    assert fit_device(plan, RTX4090).budget_bytes == 24564 * MIB - math.ceil(0.5 * 24564 * MIB)
    tight = fit_device(plan_memory(vibe, engine="sglang", mem_fraction_static=0.05), RTX4090)
    assert not tight.fits and tight.budget_bytes < 2 * GIB
    with pytest.raises(UsageError, match=r"--mem-fraction-static must be in \(0, 1\)"):
        plan_memory(vibe, engine="sglang", mem_fraction_static=1.2)
    with pytest.raises(UsageError, match="SGLang's rule"):
        plan_memory(vibe, engine="vllm", mem_fraction_static=0.8)


def test_serve_plans_sglang_with_its_own_rules(vibe) -> None:
    hardware = derive_gpu(vibe, RTX4090, "sglang")
    assert hardware.plan.settings.engine == "sglang"
    assert hardware.budget_bytes == math.floor(mem_fraction_static(24564) * 24564 * MIB)
    assert f"{mem_fraction_static(24564):g} of GPU 0" in hardware.why["max_context"]
