"""Facts read from the log itself."""

from __future__ import annotations

import pytest

from gpu_preflight.core.versions import Version
from gpu_preflight.explain.facts import extract_facts
from gpu_preflight.explain.logtext import LogText


def facts_of(text: str):
    return extract_facts(LogText.from_text(text))


def test_found_version_is_the_drivers_cuda():
    facts = facts_of("RuntimeError: The NVIDIA driver on your system is too old (found version 11040).")
    assert facts.driver_cuda.value == Version.parse("11.4")


def test_torch_build_and_variant():
    facts = facts_of("[pip3] torch==2.4.1+cu121\n")
    assert facts.torch.value == "2.4.1+cu121"
    assert facts.torch_cuda.value == Version.parse("12.1")
    assert facts_of("PyTorch version: 1.4.0+cpu").cpu_build is not None
    assert facts_of("CUDA used to build PyTorch: None").cpu_build is not None
    assert facts_of("PyTorch：2.8.0+cu128").torch_cuda.value == Version.parse("12.8")  # full-width colon


def test_nvidia_smi_banner():
    facts = facts_of("| NVIDIA-SMI 535.54.03   Driver Version: 535.54.03   CUDA Version: 12.2     |")
    assert facts.driver.value == Version.parse("535.54.03")
    assert facts.driver_cuda.value == Version.parse("12.2")


def test_gpus_and_architectures():
    facts = facts_of(
        "NVIDIA GeForce RTX 3080 Laptop GPU with CUDA capability sm_86 is not compatible with the current PyTorch "
        "installation.\n"
        "The current PyTorch install supports CUDA capabilities sm_37 sm_50 sm_60 sm_70.\n"
    )
    assert facts.gpus[0].name == "NVIDIA GeForce RTX 3080 Laptop GPU"
    assert facts.gpus[0].cc == Version.parse("8.6")
    assert [str(t.cc) for t in facts.archs.value.targets] == ["3.7", "5.0", "6.0", "7.0"]
    old = facts_of(
        "Found GPU0 GeForce GT 720 which is of cuda capability 3.5.\n"
        "The minimum cuda capability supported by this library is 3.7."
    )
    assert old.gpus[0].cc == Version.parse("3.5") and old.min_cc.value == Version.parse("3.7")


def test_requirement_and_cuda_error_numbers():
    facts = facts_of(
        "nvidia-container-cli: requirement error: unsatisfied condition: cuda>=12.8, please update your driver\n"
        "CUDA error at bandwidthTest.cu:256 code=802(cudaErrorSystemNotReady)\n"
        "Check failed: error == cudaSuccess (35 vs. 0)\n"
        "Error 804: forward compatibility was attempted on non supported HW\n"
        "HTTP error 404\n"
    )
    assert facts.required.value == "cuda>=12.8"
    assert facts.required_cuda.value == Version.parse("12.8")
    assert set(facts.cuda_errors) == {35, 802, 804}


def test_docker_run_continued_over_lines_keeps_its_gpu_flag():
    facts = facts_of("docker run -d \\\n    --gpus all \\\n    vllm/vllm-openai:latest")
    assert [f.value for f in facts.docker_runs] == [True]
    assert [f.value for f in facts_of("docker run -it test").docker_runs] == [False]


def test_memory_held_by_another_process():
    facts = facts_of(
        "GPU 0 has a total capacity of 93.00 GiB of which 134.94 MiB is free. "
        "Process 118636 has 71.62 GiB memory in use."
    )
    assert facts.other_process.value == ("118636", "71.62 GiB")


@pytest.mark.parametrize(
    ("line", "number"),
    [
        ("cuInit failed: 100", 100),
        ("cudaSetDevice(0) failed with error 35", 35),
        ("[ERROR] cuInit(0) failed 35", 35),
        ("current failed: 100", None),  # not a CUDA API name
    ],
)
def test_a_cuda_api_call_that_failed_with_a_number_is_a_cuda_error(line, number):
    errors = extract_facts(LogText.from_text(line + "\n")).cuda_errors
    assert (list(errors) == [number]) if number else not errors


@pytest.mark.parametrize(
    ("line", "symbol"),
    [
        (
            "t-rex: symbol lookup error: t-rex: undefined symbol: cuDevicePrimaryCtxSetFlags_v2",
            "cuDevicePrimaryCtxSetFlags_v2",
        ),
        # the runtime's, cuBLAS's and cuDNN's symbols are other libraries' (not the driver's)
        (
            "ImportError: libtorch_cuda.so: undefined symbol: cudaGraphInstantiateWithFlags, version libcudart.so.11.0",
            None,
        ),
        ("undefined symbol: cublasLtGetStatusString, version libcublasLt.so.11", None),
    ],
)
def test_a_driver_api_symbol_libcuda_lacks(line, symbol):
    fact = extract_facts(LogText.from_text(line + "\n")).driver_symbol
    assert (fact.value if fact else None) == symbol


def test_toolkits_side_by_side_are_the_question_only_when_nothing_fails():
    from gpu_preflight.explain import explain_text

    listing = "$ ls -d /usr/local/cuda*\n/usr/local/cuda-11.8/\n"
    listing += "/usr/local/cuda-12.4/\n/usr/local/cuda -> /usr/local/cuda-12.4\n"
    assert extract_facts(LogText.from_text(listing)).toolkit_dirs == {"11.8": 1, "12.4": 2}
    assert [c.cause for c in explain_text(listing).causes] == ["cuda-version-confusion"]
    failing = listing + "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\n"
    assert explain_text(failing).causes[0].cause == "out-of-memory"
