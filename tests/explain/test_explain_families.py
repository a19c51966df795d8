"""Issue 15, round 2: each cause is recognised by the family of messages its real sources print
(the framework's, NVIDIA's, the container runtime's own wording), and evidence from other lines
(a container, a host's own tools, the GPU the log names) decides between causes that share a
symptom.

Each log is built from the message as its source prints it (the source is named beside it).
"""

from __future__ import annotations

import pytest

from gpu_preflight.explain import explain_text


def _causes(text: str) -> list[str]:
    return [c.cause for c in explain_text(text).causes]


# --- the family of each cause's messages ---------------------------------------------------------


@pytest.mark.parametrize(
    ("log", "cause"),
    [
        # aten/src/ATen/native/cuda/Blas.cpp: FP8 matmul on an RTX 3090 (8.6)
        (
            "RuntimeError: torch._scaled_mm is only supported on CUDA devices with compute capability >= 9.0 or 8.9, "
            "or ROCm MI300+\n",
            "unsupported-dtype",
        ),
        # ptxas on a T4: Triton kernels compiled with bf16 instructions
        (
            "ptxas /tmp/compile-ptx-src-1, line 336; error   : Feature '.bf16' requires .target sm_80 or higher\n"
            "ptxas /tmp/compile-ptx-src-1, line 336; error : Feature 'cvt.bf16.f32' requires .target sm_80 or higher\n",
            "unsupported-dtype",
        ),
        # accelerate/accelerator.py
        ("ValueError: bf16 mixed precision requires PyTorch >= 1.10 and a supported device.\n", "unsupported-dtype"),
        # flash-attention csrc/flash_attn/flash_api.cpp, an old release's check without a message
        (
            "RuntimeError: Expected is_sm90 || is_sm8x || is_sm75 to be true, but got false.  (Could this error "
            "message be improved?  If so, please report an enhancement request to PyTorch.)\n",
            "gpu-too-old",
        ),
        ("RuntimeError: FlashAttention only supports Ampere GPUs or newer.\n", "gpu-too-old"),
        # libnvidia-container on WSL without a GPU adapter
        (
            "docker: Error response from daemon: failed to create task for container: failed to create shim task: "
            "OCI runtime create failed: runc create failed: unable to start container process: error during container "
            "init: error running hook #0: error running hook: exit status 1, stdout: , stderr: Auto-detected mode as "
            "'legacy'\nnvidia-container-cli: initialization error: WSL environment detected but no adapters were "
            "found: unknown.\n",
            "no-driver",
        ),
        # container-device-interface as podman prints it
        ("Error: setting up CDI devices: unresolvable CDI devices nvidia.com/gpu=all\n", "container-no-gpu"),
        # nvcc itself (not host_config.h) refusing Apple clang
        (
            "nvcc fatal   : The version ('70000') of the host compiler ('Apple clang') is not supported\n",
            "host-compiler-unsupported",
        ),
        # torch/utils/cpp_extension.py _check_cuda_version
        (
            "RuntimeError: The current installed version of g++ (13.2.0) is greater than the maximum required version "
            "by CUDA 12.1. Please make sure to use an adequate version of g++ (>=6.0.0, <13.0).\n",
            "host-compiler-unsupported",
        ),
        # torch's CUDA_MISMATCH_MESSAGE, whose two string pieces join without a space
        (
            "RuntimeError: The detected CUDA version (12.2) mismatches the version that was used to compilePyTorch "
            "(11.8). Please make sure to use the same CUDA versions.\n",
            "toolchain-mismatch",
        ),
        # DeepSpeed op_builder/builder.py
        (
            "deepspeed.ops.op_builder.builder.CUDAMismatchException: >- DeepSpeed Op Builder: Installed CUDA version "
            "12.2 does not match the version torch was compiled with 11.7, unable to compile cuda/cpp extensions "
            "without a matching cuda version.\n",
            "toolchain-mismatch",
        ),
        # xgboost src/common/common.h
        (
            "xgboost.core.XGBoostError: [09:12:50] src/common/common.h:157: XGBoost version not compiled with GPU "
            "support.\n",
            "cpu-only-build",
        ),
        # NVIDIA kernel module: a GPU newer than the driver release
        (
            "NVRM: The NVIDIA GPU 0000:3c:00.0 (PCI ID: 10de:2d04)\n"
            "               NVRM: installed in this system is not supported by the\n"
            "               NVRM: NVIDIA 555.58.02 driver release.\n",
            "driver-too-old",
        ),
        # NVIDIA Fabric Manager refusing a driver of another version
        (
            "nv-fabricmanager[104230]: fabric manager NVIDIA GPU driver interface version 550.127.05 don't match "
            "with driver version 550.120. Please update with matching NVIDIA driver package.\n",
            "fabric-manager",
        ),
        # RAPIDS cudf's import check
        (
            "UnsupportedCUDAError: A GPU with NVIDIA Volta (Compute Capability 7.0) or newer architecture is "
            "required.\n"
            "Detected GPU 0: NVIDIA GeForce GTX 1080 Ti\nDetected Compute Capability: 6.1\n",
            "gpu-too-old",
        ),
        # llama.cpp common/arg.cpp
        (
            "warning: no usable GPU found, --gpu-layers option will be ignored\n"
            "warning: one possible reason is that llama.cpp was compiled without GPU support\n",
            "cpu-only-build",
        ),
        # jax's xla_bridge with the CPU-only jaxlib
        (
            "WARNING:absl:No GPU/TPU found, falling back to CPU. (Set TF_CPP_MIN_LOG_LEVEL=0 and rerun for more "
            "info.)\n",
            "cpu-only-build",
        ),
        # onnxruntime's CUDA provider without the CUDA / cuDNN it was built for
        (
            "CUDA_PATH is set but CUDA wasnt able to be loaded. Please install the correct version of CUDA and cuDNN\n",
            "missing-cuda-library",
        ),
        # torch's cuDNN v8 API
        ("RuntimeError: GET was unable to find an engine to execute this computation\n", "cudnn-mismatch"),
        # TensorRT's runtime warning
        (
            "[06/16/2022-00:13:58] [TRT] [W] TensorRT was linked against cuDNN 8.3.2 but loaded cuDNN 8.2.0\n",
            "cudnn-mismatch",
        ),
    ],
)
def test_each_family_member_is_read_as_its_cause(log, cause):
    assert _causes(log)[:1] == [cause]


def test_deepspeeds_accepted_minor_mismatch_is_not_an_error():
    log = (
        "Installed CUDA version 12.2 does not match the version torch was compiled with 12.1 but since the APIs are "
        "compatible, accepting this combination\n"
    )
    assert "toolchain-mismatch" not in _causes(log)


# --- evidence across lines -------------------------------------------------------------------------


def test_the_device_plugin_without_the_nvidia_runtime_is_a_container_without_gpu():
    log = (
        "NAME                                   READY     STATUS             RESTARTS   AGE\n"
        "nvidia-device-plugin-daemonset-zb8xn   0/1       CrashLoopBackOff   6          9m\n"
        "\n"
        "2017/11/29 01:54:30 Loading NVML\n"
        "2017/11/29 01:54:30 could not load NVML library\n"
    )
    assert _causes(log)[0] == "container-no-gpu"
    # the same NVML failure on its own is a missing driver
    assert _causes("could not load NVML library\n")[0] == "no-driver"


def test_driver_files_absent_in_a_container_but_a_missing_driver_on_a_host():
    # nvidia-smi and libcuda.so.1 are what the NVIDIA runtime injects into a container
    assert _causes("ImportError: libcuda.so.1: cannot open shared object file: No such file or directory\n")[0] == (
        "container-no-gpu"
    )
    host = (
        "$ lsmod | grep nvidia\n"
        "$ nvidia-smi\n"
        "bash: nvidia-smi: command not found\n"
        "$ sudo apt install nvidia-driver-550\n"
    )
    assert _causes(host)[0] == "no-driver"


@pytest.mark.parametrize(
    "marker",
    [
        "Step 4/9 : RUN python -c 'import torch; print(torch.cuda.is_available())'",  # docker build
        "#7 [3/5] RUN python setup.py install",  # BuildKit
        '  File "/opt/conda/lib/python3.10/site-packages/torch/cuda/__init__.py", line 302, in _lazy_init',
    ],
)
def test_container_markers_turn_a_missing_driver_into_a_container_without_gpu(marker):
    log = f"{marker}\nRuntimeError: Found no NVIDIA driver on your system.\n"
    assert _causes(log)[0] == "container-no-gpu"


def test_apptainer_without_nv_gets_no_gpu():
    log = "$ apptainer exec pytorch.sif python -c 'import torch; print(torch.cuda.is_available())'\nFalse\n"
    assert _causes(log)[0] == "container-no-gpu"
    with_nv = "$ apptainer exec --nv pytorch.sif python train.py\nRuntimeError: CUDA out of memory.\n"
    assert "container-no-gpu" not in _causes(with_nv)


def test_no_kernel_image_on_a_gpu_of_a_dropped_architecture_is_a_gpu_too_old():
    log = (
        "ggml_cuda_init: found 1 CUDA devices:\n"
        "  Device 0: Tesla K80, compute capability 3.7, VMM: yes\n"
        "CUDA error: no kernel image is available for execution on the device\n"
    )
    assert _causes(log)[0] == "gpu-too-old"


def test_torchs_capability_list_gives_the_direction():
    # torch/cuda/__init__.py _warn_unsupported_code
    older = (
        "UserWarning: Found GPU0 NVIDIA GeForce GTX 1080 which is of compute capability (CC) 6.1.\n"
        "The following list shows the CCs this version of PyTorch was built for and the hardware CCs it supports:\n"
        "- 7.5 which supports hardware CC >=7.5,<8.0\n"
        "- 8.0 which supports hardware CC >=8.0,<9.0\n"
        "- 9.0 which supports hardware CC >=9.0,<10.0\n"
        "RuntimeError: CUDA error: no kernel image is available for execution on the device\n"
    )
    newer = (
        "UserWarning: Found GPU0 NVIDIA GeForce RTX 5090 which is of compute capability (CC) 12.0.\n"
        "The following list shows the CCs this version of PyTorch was built for and the hardware CCs it supports:\n"
        "- 5.0 which supports hardware CC >=5.0,<6.0 except {5.3}\n"
        "- 8.0 which supports hardware CC >=8.0,<9.0\n"
        "- 9.0 which supports hardware CC >=9.0,<10.0\n"
        "RuntimeError: CUDA error: no kernel image is available for execution on the device\n"
    )
    assert _causes(older)[0] == "gpu-too-old"
    assert _causes(newer)[0] == "no-kernel-image"


def test_a_variant_missing_for_the_pinned_release_is_the_version_confusion():
    # cu121 exists, but torch 2.6.0 was published for cu118 / cu124 / cu126 only
    explanation = explain_text("ERROR: No matching distribution found for torch==2.6.0+cu121\n")
    first = explanation.causes[0]
    assert first.cause == "cuda-version-confusion"
    assert any("cu121 of torch 2.6.0" in fix and "whl/cu118" in fix for fix in first.fix), first.fix


@pytest.mark.parametrize(
    "line",
    [
        "step 5/100 : loss 0.3124",  # a trainer's progress line, not a docker build step
        "From https://github.com/ggml-org/llama.cpp",  # git fetch, not a Dockerfile's FROM
    ],
)
def test_look_alikes_of_container_markers_keep_a_missing_driver_a_missing_driver(line):
    log = f"{line}\nRuntimeError: Found no NVIDIA driver on your system.\n"
    assert _causes(log)[0] == "no-driver"


def test_a_gpu_the_text_names_gives_the_direction_when_no_tool_printed_one():
    log = (
        "torch.cuda.get_device_name(0): 'NVIDIA GeForce GTX 1080'\n"
        "RuntimeError: CUDA error: no kernel image is available for execution on the device\n"
    )
    assert _causes(log)[0] == "gpu-too-old"
    # a GPU of a current architecture says nothing about the direction: the cause names both
    newer = "on my RTX 5090: CUDA error: no kernel image is available for execution on the device\n"
    assert _causes(newer)[0] == "no-kernel-image"


def test_torch_version_cuda_none_is_a_cpu_only_build():
    log = ">>> print(torch.version.cuda)\nNone\n>>> torch.cuda.is_available()\nFalse\n"
    assert _causes(log)[0] == "cpu-only-build"
