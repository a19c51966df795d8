"""For an inference engine's log whose build has no code for the GPU, the fix names a build of that
engine that has it (from knowledge/data/engines.toml), or says that none in the tables does."""

from __future__ import annotations

import pytest

from gpu_preflight.explain import explain_text

NO_KERNEL = "CUDA error: no kernel image is available for execution on the device\n"


def _first_fix(log: str) -> str:
    return explain_text(log).causes[0].fix[0]


def test_llama_cpp_on_a_pascal_gpu_names_the_cuda_12_build_that_still_has_code_for_it():
    log = (
        "ggml_cuda_init: found 1 CUDA devices:\n  Device 0: NVIDIA GeForce GTX 1080, compute capability 6.1\n"
        + NO_KERNEL
    )
    fix = _first_fix(log)
    assert fix.startswith("llama.cpp (cuda-12.4 build) has code for compute capability 6.1: download llama-bNNNN-")


def test_vllm_below_every_releases_floor_says_no_release_runs_it():
    log = "INFO vllm serve\n" + NO_KERNEL + "Your Tesla P40 GPU has compute capability 6.1.\n"
    assert _first_fix(log) == (
        "No vLLM release in preflight's tables has code for compute capability 6.1 "
        "(the lowest floor among them is compute capability 7.0)."
    )


def test_vllm_on_blackwell_names_the_newest_release_with_a_build_for_it():
    log = "INFO vllm serve\n" + NO_KERNEL + "Your NVIDIA GeForce RTX 5090 GPU has compute capability 12.0.\n"
    fix = _first_fix(log)
    assert fix.startswith("vLLM ") and "has code for compute capability 12.0: pip install vllm==" in fix


@pytest.mark.parametrize(
    "log",
    [
        # SGLang's builds have no architecture list in the tables: nothing is claimed either way
        "sglang\n" + NO_KERNEL + "Your NVIDIA GeForce RTX 5090 GPU has compute capability 12.0.\n",
        # not an engine's log: the engine line stays out (a torch wheel is advised instead)
        "RuntimeError: " + NO_KERNEL + "Your NVIDIA GeForce RTX 5090 GPU has compute capability 12.0.\n",
    ],
)
def test_no_engine_line_where_the_tables_cannot_say(log):
    assert not any(
        "release in preflight's tables" in f or " build) has code for" in f for f in explain_text(log).causes[0].fix
    )
