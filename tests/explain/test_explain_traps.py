"""The traps users fall into, and fixes that become specific with a HOST.

These logs are made up for the test from real message texts (the corpus holds the real ones).
"""

from __future__ import annotations

import pytest

from gpu_preflight.core.host import Driver, Gpu, Host
from gpu_preflight.explain import explain_text


def causes(text: str, host: Host | None = None) -> list[str]:
    return [c.cause for c in explain_text(text, host=host).causes]


def fixes(text: str, host: Host | None = None) -> str:
    return "\n".join(explain_text(text, host=host).causes[0].fix)


INSUFFICIENT = "cudaGetDevice() failed. Status: CUDA driver version is insufficient for CUDA runtime version"


def test_insufficient_driver_in_a_container_without_gpu_access():
    log = "\n".join(
        [
            "$ docker run -it --rm my-image python train.py",
            "WARNING: The NVIDIA Driver was not detected.  GPU functionality will not be available.",
            INSUFFICIENT,
        ]
    )
    assert causes(log)[0] == "container-no-gpu"
    assert causes("$ docker run -it --rm my-image python train.py\n" + INSUFFICIENT)[0] == "container-no-gpu"


def test_insufficient_driver_with_gpu_access_is_an_old_driver():
    log = "$ docker run --gpus all -it my-image python train.py\n" + INSUFFICIENT
    assert causes(log)[0] == "driver-too-old"
    assert causes(INSUFFICIENT)[0] == "driver-too-old"


NO_KERNEL = "RuntimeError: CUDA error: no kernel image is available for execution on the device"


def test_no_kernel_image_new_gpu_old_build():
    log = (
        "NVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible with the current PyTorch installation.\n"
        "The current PyTorch install supports CUDA capabilities sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90.\n"
        + NO_KERNEL
    )
    assert causes(log)[0] == "no-kernel-image"
    assert "sm_120" in fixes(log) and "download.pytorch.org/whl/cu1" in fixes(log)


def test_no_kernel_image_old_gpu_new_build():
    log = (
        "Tesla P100-PCIE-16GB with CUDA capability sm_60 is not compatible with the current PyTorch installation.\n"
        "The current PyTorch install supports CUDA capabilities sm_75 sm_80 sm_86 sm_90 sm_100 sm_120.\n" + NO_KERNEL
    )
    assert causes(log)[0] == "gpu-too-old"


def test_no_kernel_image_old_gpu_from_the_torch_build_alone():
    # No arch list printed: the official cu128 wheel of 2.8 has no sm_60 (knowledge base).
    log = "torch 2.8.0+cu128\nGPU 0: Tesla P100-PCIE-16GB\n" + NO_KERNEL
    assert causes(log)[0] == "gpu-too-old"


def test_no_kernel_image_old_gpu_from_the_host():
    host = Host(driver=Driver(version="580.95.05", cuda="13.0"), gpus=[Gpu(0, "Tesla P100-PCIE-16GB", "6.0")])
    assert causes("torch 2.9.0+cu130\n" + NO_KERNEL, host)[0] == "gpu-too-old"


def test_ptx_toolchain_newer_than_driver():
    log = (
        "Cuda compilation tools, release 12.4, V12.4.131\n"
        "| NVIDIA-SMI 535.54.03   Driver Version: 535.54.03   CUDA Version: 12.2     |\n"
        "CUDA error: the provided PTX was compiled with an unsupported toolchain.\n" + NO_KERNEL
    )
    assert causes(log)[0] == "ptx-too-new"
    assert "12.4" in fixes(log)


def test_cuda_version_confusion_is_nothing_broken():
    log = (
        "| NVIDIA-SMI 550.54.15   Driver Version: 550.54.15   CUDA Version: 12.4     |\n"
        "nvcc: NVIDIA (R) Cuda compiler driver\nCuda compilation tools, release 11.8, V11.8.89\n"
    )
    explanation = explain_text(log).causes
    assert [c.cause for c in explanation] == ["cuda-version-confusion"]
    # ... but never over a real failure
    assert "cuda-version-confusion" not in causes(log + "torch.OutOfMemoryError: CUDA out of memory.")


def test_oom_caused_by_another_process():
    log = (
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of "
        "23.65 GiB of which 20.06 MiB is free. Process 4242 has 21.10 GiB memory in use. Including non-PyTorch "
        "memory, this process has 2.50 GiB memory in use."
    )
    assert causes(log)[0] == "out-of-memory"
    assert "PID 4242" in fixes(log)


def test_driver_library_mismatch_explains_the_804_it_causes():
    log = (
        "ggml_cuda_init: failed to initialize CUDA: forward compatibility was attempted on non supported HW\n"
        "Failed to initialize NVML: Driver/library version mismatch\n"
    )
    assert causes(log)[0] == "driver-library-mismatch"


def test_wrapper_errors_alone_are_not_a_cause():
    assert causes("RuntimeError: Engine core initialization failed. See root cause above.") == []


@pytest.mark.parametrize(
    "driver, gpu, expected",
    [
        (
            "470.82.01",
            None,
            [
                "Install NVIDIA driver >= 525.60.13 (CUDA 12.1 needs it), e.g. Ubuntu: sudo apt install "
                "nvidia-driver-535, then reboot."
            ],
        ),
        ("470.82.01", "Tesla K80", ["No driver runs CUDA 12.1 on Tesla K80: its last driver branch is R470"]),
    ],
)
def test_fix_becomes_specific_with_a_host(driver, gpu, expected):
    log = "torch 2.4.1+cu121\nRuntimeError: The NVIDIA driver on your system is too old (found version 11040)."
    host = Host(driver=Driver(version=driver, cuda="11.4"), gpus=[Gpu(0, gpu, "3.7")] if gpu else [])
    text = fixes(log, host)
    for piece in expected:
        assert piece in text
    generic = fixes("RuntimeError: The NVIDIA driver on your system is too old (found version 11040).")
    assert "525.60.13" not in generic  # without the build's CUDA nothing specific is claimed


def test_container_requirement_fix_uses_the_native_driver():
    log = (
        "nvidia-container-cli: requirement error: unsatisfied condition: cuda>=12.8, please update your driver\n"
        "| NVIDIA-SMI 550.144.03   Driver Version: 550.144.03     CUDA Version: 12.4     |"
    )
    text = fixes(log)
    assert "requires cuda>=12.8" in text and "570" in text  # the gate compares the driver's own CUDA
    assert "NVIDIA_DISABLE_REQUIRE" in text  # a 12.x image runs on a 12.x driver


REQUIRE = (
    "NVIDIA_REQUIRE_CUDA=cuda>=12.4 brand=tesla,driver>=470,driver<471 brand=nvidia,driver>=470,driver<471 "
    "brand=geforce,driver>=470,driver<471 brand=geforcertx,driver>=470,driver<471"
)


def _host(driver: str, cuda: str, gpu: str, cc: str, brand: str) -> Host:
    return Host(driver=Driver(version=driver, cuda=cuda), gpus=[Gpu(0, gpu, cc, brand=brand)])


def test_image_requirement_judged_against_the_host():
    # A GeForce on R470 passes the start gate only through the forward-compatibility clause: error 804 follows.
    geforce_470 = _host("470.256.02", "11.4", "NVIDIA GeForce RTX 3080", "8.6", "GeForce")
    assert causes(REQUIRE, geforce_470)[0] == "forward-compat-unsupported"
    # On R535 no clause matches and the driver's CUDA 12.2 < 12.4: the runtime refuses the image.
    assert (
        causes(REQUIRE, _host("535.104.05", "12.2", "NVIDIA GeForce RTX 3080", "8.6", "GeForce"))[0]
        == "container-requirement"
    )
    # A datacenter GPU may use forward compatibility: nothing to say about the gate.
    assert "forward-compat-unsupported" not in causes(REQUIRE, _host("470.256.02", "11.4", "Tesla T4", "7.5", "Tesla"))
    assert causes(REQUIRE, _host("550.54.15", "12.4", "NVIDIA GeForce RTX 3080", "8.6", "GeForce")) == []


def test_a_torch_wheel_is_advised_for_torch_logs_only():
    # An Ollama log with a Kepler GPU: the fix is an older build of Ollama/llama.cpp, not a torch wheel.
    ollama = "ggml_init_cublas: found 1 CUDA devices:\n  Device 0: Tesla K80, compute capability 3.7\n" + NO_KERNEL
    assert causes(ollama)[0] == "gpu-too-old"
    assert "Tesla K80 has compute capability 3.7" in fixes(ollama) and "pip install torch" not in fixes(ollama)
    torch_log = 'Traceback (most recent call last):\n  File "/usr/lib/python3/site-packages/torch/cuda/__init__.py"\n'
    assert "pip install torch" in fixes(torch_log + "  Device 0: Tesla K80, compute capability 3.7\n" + NO_KERNEL)
