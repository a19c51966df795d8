"""elsewhere.toml: the well-known non-GPU messages explain names when no GPU-stack cause fits."""

from __future__ import annotations

import pytest

from gpu_preflight.explain import explain_text
from gpu_preflight.explain.elsewhere import ElsewhereError, known_messages, parse_known_messages


def test_the_shipped_table_loads_and_every_row_names_its_source():
    messages = known_messages()
    assert messages
    assert all(m.source and m.what.endswith(".") for m in messages)


@pytest.mark.parametrize(
    "text",
    [
        "[[message]]\nid = 'x'\nmatch = ['a b']\nwhat = 'w.'\n",  # no source
        "[[message]]\nid = 'x'\nmatch = ['... a']\nwhat = 'w.'\nsource = 's'\n",  # a phrase cannot start with ...
        "[[message]]\nid = 'x'\nmatch = ['ab']\nwhat = 'w.'\nsource = 's'\n" * 2,  # a repeated id
    ],
)
def test_a_malformed_table_is_refused(text):
    with pytest.raises(ElsewhereError):
        parse_known_messages(text)


def test_a_gpu_word_in_a_pip_failure_does_not_hide_what_it_is():
    log = (
        "ERROR: Could not find a version that satisfies the requirement tensorflow-gpu==1.15 (from versions: none)\n"
        "ERROR: No matching distribution found for tensorflow-gpu==1.15\n"
    )
    explanation = explain_text(log)
    assert explanation.causes == []
    assert explanation.elsewhere is not None and explanation.elsewhere.id == "pip-no-matching-distribution"
    assert [m.line for m in explanation.elsewhere.matches] == [1, 2]


def test_a_log_with_nothing_known_still_says_what_to_run():
    explanation = explain_text("Segmentation fault (core dumped)\n")
    assert explanation.causes == [] and explanation.elsewhere is None
    assert explanation.to_dict()["next"] == explanation.next_steps and explanation.next_steps


@pytest.mark.parametrize(
    ("log", "known"),
    [
        (
            "RuntimeError: CUDA error: device-side assert triggered\n"
            "CUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace below "
            "might be incorrect.\nFor debugging consider passing CUDA_LAUNCH_BLOCKING=1.\n",
            "cuda-device-assert",
        ),
        ("RuntimeError: CUDA error: an illegal memory access was encountered\n", "cuda-illegal-address"),
        ("RuntimeError: CUDA error: invalid device ordinal\n", "cuda-invalid-device"),
        ("RuntimeError: CUDA error: the launch timed out and was terminated\n", "cuda-launch-timeout"),
        (
            "OSError: [WinError 1455] The paging file is too small for this operation to complete. Error loading "
            '"C:\\venv\\lib\\site-packages\\torch\\lib\\cudnn_cnn_infer64_8.dll" or one of its dependencies.\n',
            "windows-paging-file",
        ),
        (
            "ImportError: libGL.so.1: cannot open shared object file: No such file or directory\n",
            "opengl-library-missing",
        ),
        ("OSError: We couldn't connect to 'https://huggingface.co' to load this file\n", "hugging-face-offline"),
        (
            "gpuGetMaxGflopsDeviceId() CUDA error: all devices have compute mode prohibited.\n",
            "compute-mode-prohibited",
        ),
    ],
)
def test_gpu_messages_that_are_not_the_stacks_fault_say_what_they_are(log, known):
    explanation = explain_text(log)
    assert explanation.causes == []
    assert explanation.elsewhere is not None and explanation.elsewhere.id == known


def test_a_stack_cause_beside_a_program_error_still_ranks():
    log = (
        "RuntimeError: CUDA error: an illegal memory access was encountered\n"
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\n"
    )
    explanation = explain_text(log)
    assert explanation.causes[0].cause == "out-of-memory"
    assert explanation.elsewhere is None


def test_no_cause_suggests_the_programs_own_report_first_then_the_generic_steps():
    log = 'Traceback (most recent call last):\n  File "train.py", line 3, in <module>\n    import torch\n'
    explanation = explain_text(log + "Segmentation fault (core dumped)\n")
    steps = explanation.to_dict()["next"]
    assert steps[0].startswith("python -m torch.utils.collect_env")
    assert any(step.startswith("preflight doctor") for step in steps[1:])
    # a log that names no program gets the generic steps only
    assert not explain_text("Segmentation fault (core dumped)\n").to_dict()["next"][0].startswith("python")


def test_the_shipped_next_steps_each_name_a_tool_explain_reads():
    from gpu_preflight.explain.elsewhere import next_steps
    from gpu_preflight.explain.facts import TOOLS

    steps = next_steps()
    assert steps and all(step.tools <= set(TOOLS) and step.run and step.source for step in steps)
