"""Issue 15: the messages people actually paste, read as the cause their threads confirmed.

Each log below is built from the message's own wording (NVIDIA's, the framework's, the tool's),
as its source prints it, surrounded by the lines that usually come with it.
"""

from __future__ import annotations

import pytest

from gpu_preflight.explain import explain_text


def _first(text: str) -> str | None:
    causes = explain_text(text).causes
    return causes[0].cause if causes else None


def test_nvidia_smi_failing_beside_a_working_nvcc_means_no_driver():
    log = (
        "$ nvidia-smi\n"
        "NVIDIA-SMI has failed because it couldn\u2018t communicate with the NVIDIA driver.\n"  # a curly quote
        "Make sure that the latest NVIDIA driver is installed and running.\n"
        "$ nvcc --version\n"
        "nvcc: NVIDIA (R) Cuda compiler driver\n"
        "Cuda compilation tools, release 12.1, V12.1.105\n"
    )
    explanation = explain_text(log)
    assert explanation.causes[0].cause == "no-driver"
    assert "cuda-version-confusion" not in [c.cause for c in explanation.causes]
    # both lines are the evidence: the driver fails, the toolkit works
    assert {m.line for m in explanation.causes[0].matches} >= {2, 6}
    assert any("toolkit is not the driver" in fix for fix in explanation.causes[0].fix)


def test_tried_to_allocate_without_the_words_cuda_out_of_memory():
    log = (
        "RuntimeError: Tried to allocate 20.00 MiB (GPU 0; 7.93 GiB total capacity; 10.35 MiB already allocated; "
        "5.06 MiB free; 20.00 MiB reserved in total by PyTorch)\n"
    )
    cause = explain_text(log).causes[0]
    assert cause.cause == "out-of-memory"
    # the process holds 20 MiB of 7.93 GiB and nothing is free: another process holds the memory
    assert any("--query-compute-apps" in fix and "20 MiB" in fix for fix in cause.fix), cause.fix


def test_a_process_that_holds_most_of_the_memory_is_not_told_to_look_elsewhere():
    log = (
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of "
        "23.55 GiB of which 1.02 GiB is free. Including non-PyTorch memory, this process has 22.51 GiB memory in use.\n"
    )
    cause = explain_text(log).causes[0]
    assert cause.cause == "out-of-memory"
    assert not any("--query-compute-apps" in fix for fix in cause.fix)


def test_tensorflow_minimum_required_cuda_capability_means_gpu_too_old():
    log = (
        "I tensorflow/core/common_runtime/gpu/gpu_device.cc:1283] Ignoring visible gpu device (device: 0, name: "
        "Quadro K2000M, pci bus id: 0000:01:00.0, compute capability: 3.0) with Cuda compute capability 3.0. "
        "The minimum required Cuda capability is 3.5.\n"
    )
    assert _first(log) == "gpu-too-old"


@pytest.mark.parametrize(
    "line",
    [
        'level=DEBUG source=gpu.go:537 msg="Unable to load cudart" error="your nvidia driver is too old or missing.  '
        'If you have a CUDA GPU please upgrade to run ollama"',
        'level=DEBUG source=cuda_compat.go:52 msg="NVIDIA driver too old" driver=535.309.01',
    ],
)
def test_ollama_driver_messages_mean_driver_too_old(line):
    assert _first(line + "\n") == "driver-too-old"


def test_ollama_cuda_gpu_too_old_means_gpu_too_old():
    log = "gpu.go:138: CUDA GPU is too old. Falling back to CPU mode. Compute Capability detected: 5.2\n"
    assert _first(log) == "gpu-too-old"


def test_nvcc_rejecting_a_new_architecture_says_the_toolkit_does_not_know_the_gpu():
    log = "Cuda compilation tools, release 11.0, V11.0.221\nnvcc fatal   : Unsupported gpu architecture 'compute_89'\n"
    cause = explain_text(log).causes[0]
    assert cause.cause == "no-kernel-image"
    assert any("does not know compute_89" in fix for fix in cause.fix), cause.fix


def test_nvcc_rejecting_an_architecture_it_dropped_means_gpu_too_old():
    log = "Cuda compilation tools, release 12.4, V12.4.131\nnvcc fatal   : Unsupported gpu architecture 'compute_35'\n"
    assert _first(log) == "gpu-too-old"


def test_windows_tensorflow_after_2_10_without_a_gpu_is_a_cpu_only_build():
    log = "Tensor Flow Version: 2.12.0\nKeras Version: 2.12.0\n\nGPU is NOT AVAILABLE\n"
    cause = explain_text(log).causes[0]
    assert cause.cause == "cpu-only-build"
    assert any("WSL2" in fix for fix in cause.fix)
    # TensorFlow 2.10 still had Windows GPU builds: the same words do not make it a CPU-only build
    assert _first(log.replace("2.12.0", "2.10.0")) != "cpu-only-build"


def test_nvidia_smi_banner_alone_answers_the_cuda_version_question():
    log = (
        "+-----------------------------------------------------------------------------+\n"
        "| NVIDIA-SMI 440.59       Driver Version: 440.59       CUDA Version: 10.2     |\n"
        "|-------------------------------+----------------------+----------------------+\n"
    )
    assert _first(log) == "cuda-version-confusion"


def test_docker_device_flags_without_the_nvidia_runtime_are_no_gpu_access():
    log = (
        "$ docker run --rm --device /dev/nvidia0 --device /dev/nvidiactl --device /dev/nvidia-uvm img python t.py\n"
        "RuntimeError: CUDA error: CUDA driver version is insufficient for CUDA runtime version\n"
    )
    assert _first(log) == "container-no-gpu"
    assert _first(log.replace("--device /dev/nvidia0", "--gpus all --device /dev/nvidia0")) == "driver-too-old"


def test_jax_ptxas_newer_than_a_470_driver_is_not_a_missing_kernel_image():
    log = (
        "Driver Version: 470.182.03\n"
        "W external/xla/xla/service/gpu/nvptx_compiler.cc:698] The NVIDIA driver's CUDA version is 11.4 which is "
        "older than the ptxas CUDA version (11.8.89). Because the driver is older than the ptxas version, XLA is "
        "disabling parallel compilation, which may slow down compilation.\n"
        "jaxlib.xla_extension.XlaRuntimeError: INTERNAL: Failed to load in-memory CUBIN: CUDA_ERROR_NO_BINARY_FOR_GPU\n"
    )
    assert _first(log) in ("ptx-too-new", "driver-too-old")


def test_ngc_container_driver_release_message_means_driver_too_old():
    log = (
        "ERROR: This container was built for NVIDIA Driver Release 535.86 or later, but\n"
        "       version 510.85.02 was detected and compatibility mode is UNAVAILABLE.\n"
    )
    assert _first(log) == "driver-too-old"


def test_the_kubernetes_device_plugin_without_the_nvidia_runtime():
    log = (
        "2024/01/04 06:08:15 Loading NVML\n"
        "2024/01/04 06:08:15 Failed to initialize NVML: could not load NVML library.\n"
        "2024/01/04 06:08:15 If this is a GPU node, did you set the docker default runtime to `nvidia`?\n"
    )
    assert _first(log) == "container-no-gpu"


def test_tensorflow_kernel_driver_not_running_means_no_driver():
    log = (
        "E tensorflow/stream_executor/cuda/cuda_driver.cc:271] failed call to cuInit: UNKNOWN ERROR (303)\n"
        "I tensorflow/stream_executor/cuda/cuda_diagnostics.cc:156] kernel driver does not appear to be running on "
        "this host (fedora): /proc/driver/nvidia/version does not exist\n"
    )
    assert _first(log) == "no-driver"


def test_nvrm_api_mismatch_means_driver_library_mismatch():
    log = (
        "[   27.950245] NVRM: API mismatch: the client has the version 415.27, but\n"
        "               NVRM: this kernel module has the version 390.129.  Please\n"
    )
    assert _first(log) == "driver-library-mismatch"


def test_tensorrt_dropping_the_gpu_means_gpu_too_old():
    log = (
        "[TRT] [E] IBuilder::buildSerializedNetwork: Error Code 9: API Usage Error (Target GPU SM 61 is not "
        "supported by this TensorRT release.)\n"
    )
    assert _first(log) == "gpu-too-old"


# --- issue 14: the no-kernel-image title names the direction the log shows -----------------------


def test_no_kernel_image_title_names_both_directions_when_the_log_shows_neither():
    title = explain_text("CUDA error: no kernel image is available for execution on the device\n").causes[0].title
    assert "newer" in title and "older" in title


def test_no_kernel_image_title_says_newer_when_the_gpu_is_past_the_build():
    log = (
        "UserWarning: NVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible with the current PyTorch "
        "installation.\n"
        "The current PyTorch install supports CUDA capabilities sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90.\n"
        "RuntimeError: CUDA error: no kernel image is available for execution on the device\n"
    )
    cause = explain_text(log).causes[0]
    assert cause.cause == "no-kernel-image"
    assert "newer than the build" in cause.title and "older" not in cause.title


# --- the fallback: what a non-GPU log most likely is, and what to run next -----------------------


def test_a_numpy_abi_error_is_named_and_next_steps_given():
    log = (
        "A module that was compiled using NumPy 1.x cannot be run in\n"
        "NumPy 2.0.2 as it may crash. To support both 1.x and 2.x\n"
        "versions of NumPy, modules must be compiled with NumPy 2.0.\n"
    )
    explanation = explain_text(log)
    assert explanation.causes == []
    assert explanation.elsewhere is not None and explanation.elsewhere.id == "numpy-abi"
    assert explanation.elsewhere.matches[0].line == 1
    document = explanation.to_dict()
    assert document["elsewhere"]["what"].startswith("NumPy")
    assert any(step.startswith("preflight doctor") for step in document["next"])
    assert any(step.startswith("preflight run -- CMD") for step in document["next"])


def test_a_gpu_cause_leaves_no_fallback():
    document = explain_text("RuntimeError: Torch not compiled with CUDA enabled\n").to_dict()
    assert document["causes"] and document["elsewhere"] is None and document["next"] == []


def test_windows_nvidia_smi_rows_name_the_gpu():
    log = (
        "|   0  NVIDIA GeForce RTX 3080 ...  WDDM  |   00000000:01:00.0  On |                  N/A |\n"
        "RuntimeError: CUDA error: no kernel image is available for execution on the device\n"
    )
    assert explain_text(log).facts.summary()["gpus"][0]["name"] == "NVIDIA GeForce RTX 3080"


def test_a_wheel_chosen_from_nvidia_smis_cuda_version_is_the_version_confusion():
    log = (
        "$ pip install torch==2.1.0+cu122 --index-url https://download.pytorch.org/whl/cu122\n"
        "Looking in indexes: https://download.pytorch.org/whl/cu122\n"
        "ERROR: Could not find a version that satisfies the requirement torch==2.1.0+cu122 (from versions: none)\n"
        "ERROR: No matching distribution found for torch==2.1.0+cu122\n"
    )
    cause = explain_text(log).causes[0]
    assert cause.cause == "cuda-version-confusion"
    assert any("no torch wheel for cu122" in fix and "cu121" in fix for fix in cause.fix), cause.fix
    # a variant that was published failed for another reason (Python version, platform): not this
    published = log.replace("cu122", "cu121")
    assert _first(published) != "cuda-version-confusion"


def test_the_newer_device_plugin_wording_means_no_container_runtime():
    log = (
        "E1119 17:44:43.345466       1 factory.go:112] Incompatible strategy detected auto\n"
        "E1119 17:44:43.345479       1 factory.go:113] If this is a GPU node, did you configure the NVIDIA Container "
        "Toolkit?\n"
        "I1119 17:44:43.345499       1 main.go:381] No devices found. Waiting indefinitely.\n"
    )
    assert _first(log) == "container-no-gpu"


def test_a_quantization_method_the_gpu_cannot_run_is_a_dtype_problem():
    log = (
        "ValueError: The quantization method fp8 is not supported for the current GPU. Minimum capability: 89. "
        "Current capability: 86.\n"
    )
    assert _first(log) == "unsupported-dtype"


def test_an_engine_finding_no_gpu_inside_a_container_means_no_gpu_access():
    log = (
        "$ docker logs vllm\n"
        "RuntimeError: Failed to infer device type, please set the environment variable `VLLM_LOGGING_LEVEL=DEBUG` "
        "to turn on verbose logging to help debug the issue.\n"
    )
    assert _first(log) == "container-no-gpu"
    # outside a container the same words mean no driver or GPU here, a container second
    ranked = [c.cause for c in explain_text(log.replace("$ docker logs vllm\n", "")).causes]
    assert ranked[:2] == ["no-driver", "container-no-gpu"]


def test_bf16_gemm_refused_by_cublas_is_a_dtype_problem():
    log = (
        "RuntimeError: CUDA error: CUBLAS_STATUS_NOT_SUPPORTED when calling `cublasGemmStridedBatchedExFix(handle, "
        "opa, opb, m, n, k, (void*)(&falpha), a, CUDA_R_16BF, lda, stridea, b, CUDA_R_16BF, ldb)`\n"
    )
    assert _first(log) == "unsupported-dtype"


def test_torch_version_cuda_beside_nvcc_is_the_version_question():
    log = ">>> torch.version.cuda\n'11.8'\n$ nvcc --version\nCuda compilation tools, release 12.1, V12.1.105\n"
    explanation = explain_text(log)
    assert explanation.facts.summary()["torch_cuda"] == "11.8"
    assert explanation.causes[0].cause == "cuda-version-confusion"


def test_a_cpu_only_torch_without_cuda_bindings():
    log = "AttributeError: module 'torch._C' has no attribute '_cuda_setDevice'\n"
    assert _first(log) == "cpu-only-build"


def test_no_kernel_image_title_follows_the_host_gpu_when_the_log_names_none():
    """Issue 14: a Kepler HOST under a torch build whose architectures start at sm_50 is a GPU
    older than the build, whatever the generic title used to claim."""
    from gpu_preflight.core.host import Driver, Gpu, Host

    log = "torch 2.4.1+cu121\nRuntimeError: CUDA error: no kernel image is available for execution on the device\n"
    host = Host(driver=Driver(version="470.256.02"), gpus=[Gpu(index=0, name="Tesla K80", compute_capability="3.7")])
    causes = explain_text(log, host=host).causes
    titles = {c.cause: c.title for c in causes}
    assert causes[0].cause == "gpu-too-old"
    assert "older" in titles["no-kernel-image"] and "newer than the build" not in titles["no-kernel-image"]
