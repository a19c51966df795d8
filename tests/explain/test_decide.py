"""Close calls between two causes: [[decide]] in signatures.toml (the one check that tells them
apart, shown when a log fits both), what already tells them apart (a HOST's GPU against its
torch's architectures, a build with code for every newer GPU), and the [phrases] sets that one
symptom shared by several causes is written with."""

from __future__ import annotations

import pytest

from gpu_preflight.core.findings import CAUSES
from gpu_preflight.core.host import Driver, Framework, Gpu, Host
from gpu_preflight.explain import explain_text
from gpu_preflight.explain.render import render_explanation
from gpu_preflight.explain.signatures import SignatureError, load_signatures, parse_signatures

NO_KERNEL_IMAGE = "RuntimeError: CUDA error: no kernel image is available for execution on the device\n"
ERROR_35 = (
    "cudaGetDeviceCount returned 35\n"
    "-> CUDA driver version is insufficient for CUDA runtime version\n"
    "docker run -it nvcr.io/nvidia/cuda:12.4.1-devel-ubuntu22.04 ./deviceQuery\n"
)
CAUSE_TABLES = "".join(f'[cause.{c}]\ntitle = "t"\n' for c in sorted(CAUSES))


def test_every_shipped_check_names_two_causes_a_command_and_its_source():
    deciders = load_signatures().deciders
    assert len(deciders) >= 5
    for decider in deciders:
        assert len(decider.causes) == 2 and decider.causes <= CAUSES
        assert decider.run and decider.tells and decider.source
        # the answer names which cause each outcome means
        assert all(cause in decider.tells for cause in decider.causes)


@pytest.mark.parametrize(
    "row",
    [
        'causes = ["no-driver", "no-driver"]\nrun = ["nvidia-smi"]\ntells = "t"\nsource = "s"',
        'causes = ["no-driver", "not-a-cause"]\nrun = ["nvidia-smi"]\ntells = "t"\nsource = "s"',
        'causes = ["no-driver", "driver-too-old"]\nrun = []\ntells = "t"\nsource = "s"',
        'causes = ["no-driver", "driver-too-old"]\nrun = ["nvidia-smi"]\ntells = "t"',
    ],
)
def test_a_malformed_check_is_refused(row):
    with pytest.raises(SignatureError):
        parse_signatures(CAUSE_TABLES + "[[decide]]\n" + row + "\n")


def test_a_second_check_for_the_same_pair_is_refused():
    row = '[[decide]]\ncauses = ["{}", "{}"]\nrun = ["nvidia-smi"]\ntells = "t"\nsource = "s"\n'
    text = CAUSE_TABLES + row.format("no-driver", "driver-too-old") + row.format("driver-too-old", "no-driver")
    with pytest.raises(SignatureError):
        parse_signatures(text)


def test_a_bare_no_kernel_image_asks_for_the_gpu_and_the_builds_architectures():
    explanation = explain_text(NO_KERNEL_IMAGE)
    first, second = (c.cause for c in explanation.causes[:2])
    assert {first, second} == {"no-kernel-image", "gpu-too-old"}
    decide = explanation.to_dict()["decide"]
    assert decide["causes"] == [first, second]
    assert any("compute_cap" in command for command in decide["run"])
    assert any("get_arch_list" in command for command in decide["run"])
    text = render_explanation(explanation)
    assert f"To tell 1 ({first}) from 2 ({second})" in text
    assert "  - nvidia-smi --query-gpu=name,compute_cap --format=csv" in text


def test_error_35_in_a_container_asks_for_nvidia_smi_inside_and_outside():
    explanation = explain_text(ERROR_35)
    assert {c.cause for c in explanation.causes[:2]} == {"driver-too-old", "container-no-gpu"}
    assert explanation.decide is not None
    assert "inside the container" in explanation.decide.run[0]


def test_a_log_with_one_clear_cause_asks_nothing():
    explanation = explain_text("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\n")
    assert explanation.causes[0].cause == "out-of-memory"
    assert explanation.decide is None
    assert explanation.to_dict()["decide"] is None
    assert "To tell" not in render_explanation(explanation)


def _host(gpu: str, cc: str, torch: Framework) -> Host:
    return Host(
        driver=Driver(version="580.65.06", cuda="13.0"),
        gpus=[Gpu(index=0, name=gpu, compute_capability=cc)],
        frameworks=[torch],
    )


def test_the_hosts_torch_wheel_tells_an_old_gpu_and_nothing_is_left_to_ask():
    torch = Framework(name="torch", version="2.9.0+cu128", cuda="12.8", variant="cu128")
    explanation = explain_text(NO_KERNEL_IMAGE, host=_host("NVIDIA GeForce GTX 1080", "6.1", torch))
    assert explanation.causes[0].cause == "gpu-too-old"
    assert explanation.decide is None


def test_the_hosts_deep_architecture_list_tells_a_new_gpu():
    # a source build: its version names no wheel, only --deep's torch.cuda.get_arch_list() knows
    torch = Framework(name="torch", version="2.6.0a0", cuda="12.6", variant="cu126")
    torch.details["deep"] = {"cuda": True, "arch_list": ["sm_80", "sm_86", "sm_90"]}
    explanation = explain_text(NO_KERNEL_IMAGE, host=_host("NVIDIA GeForce RTX 5090", "12.0", torch))
    assert explanation.causes[0].cause == "no-kernel-image"
    assert "GPU newer than the build" in explanation.causes[0].title
    assert explanation.decide is None


def test_a_phrase_set_stands_for_all_its_phrases_and_an_unknown_set_is_refused():
    row = '[[signature]]\nid = "x"\ncause = "no-driver"\nweight = 0.5\nmatch = ["@gone"]\n'
    table = CAUSE_TABLES + '[phrases]\ngone = ["no device here", "device went away"]\n' + row
    (signature,) = parse_signatures(table).signatures
    assert len(signature.match) == 2
    with pytest.raises(SignatureError):
        parse_signatures(CAUSE_TABLES + row)


@pytest.mark.parametrize(
    ("archs", "first"),
    [
        # code for every GPU from Turing up (Blackwell by SASS and PTX): the GPU must be older
        ("sm_75 sm_80 sm_86 sm_90 sm_100 sm_120 compute_120", "gpu-too-old"),
        # no sm_100: a B200 is newer than this build and has no code in it either, so undecided
        ("sm_75 sm_80 sm_86 sm_90 sm_120", "no-kernel-image"),
    ],
)
def test_a_build_with_code_for_every_newer_gpu_leaves_only_an_older_one(archs, first):
    log = f"UserWarning: supports CUDA capabilities {archs}.\n" + NO_KERNEL_IMAGE
    assert explain_text(log).causes[0].cause == first
