"""When no signature fires, explain guesses from the programs' own messages the log reads like
(explain/wordings.toml): a guess with its line and the message it resembles, never a cause, and
none at all for a log that is not about the GPU stack."""

from __future__ import annotations

import json

import pytest

from gpu_preflight.cli.main import main
from gpu_preflight.explain import explain_text, resemblance
from gpu_preflight.explain.logtext import LogText
from gpu_preflight.explain.render import render_explanation
from gpu_preflight.explain.resemblance import (
    MAX_LINES,
    WordingsError,
    _stack_lines,
    parse_wordings,
    resemble,
    wording_index,
)

TINY = """
stack_words = ["device"]
stack_prefixes = ["cuda", "gpu"]

[[message]]
text = "CUDA driver is too old for this runtime; update the GPU driver"
cause = "driver-too-old"
project = "example"
source = "https://example.org/a"

[[message]]
text = "gpu architecture sm_35 is no longer supported by this build"
cause = "gpu-too-old"
project = "example"
source = "https://example.org/b"

[[message]]
text = "Using CUDA device cache at /tmp: loaded"
cause = "no-driver"
project = "example"
source = "https://example.org/c"
expect = "none"
"""

# A message no signature knows (checked below), worded like Ollama's "NVIDIA driver too old" log line.
REWORDED = (
    'time=2026-03-02T10:14:07Z level=WARN msg="nvidia driver version too old for the bundled runtime" '
    'device="NVIDIA GeForce RTX 3060" required_driver="550 or newer"'
)


def test_a_reworded_message_is_guessed_with_its_line_and_the_message_it_resembles():
    log = f"starting server\n{REWORDED}\nlistening on 127.0.0.1:11434\n"
    explanation = explain_text(log)
    assert explanation.causes == [] and explanation.elsewhere is None
    first = explanation.resembles[0]
    assert first.cause == "driver-too-old"
    assert first.match.line == 2 and "required_driver" in first.match.text
    assert first.wording.project == "ollama" and first.wording.source.startswith("https://")
    assert 0 < first.similarity <= 1


def test_lines_that_are_not_about_the_stack_give_no_guess():
    # real outputs of pip, apt, Python and torch on a CPU machine (2026-12-06): none is the GPU stack's
    for log in (
        "E: Unable to locate package nonexistent-pkg-xyz\n",
        "Traceback (most recent call last):\n  File \"<string>\", line 1, in <module>\nKeyError: 'k'\n",
        "RuntimeError: mat1 and mat2 shapes cannot be multiplied (2x3 and 2x3)\n",
        "fatal: repository '/nonexistent/repo' does not exist\n",
    ):
        explanation = explain_text(log)
        assert explanation.causes == [] and explanation.resembles == [], log


def test_progress_a_program_prints_and_goes_on_is_not_compared():
    # pip names CUDA packages while it installs them: "nvidia-cublas-cu12" there is not a message
    # that cuBLAS is missing (the [phrases] information set of signatures.toml)
    log = "".join(
        f"  Downloading nvidia_cublas_cu12-12.{i}.4.1-py3-none-manylinux2014_x86_64.whl ({i}.5 MB)\n"
        for i in range(1, 9)
    )
    log += "Requirement already satisfied: nvidia-cudnn-cu12==9.1.0.70 in ./venv/lib/python3.11/site-packages\n"
    assert explain_text(log).resembles == []
    assert explain_text(log + "RuntimeError: nvidia-cublas-cu12 not found, reinstall it\n").resembles != []


def test_a_traceback_frame_is_a_place_not_a_message():
    index = parse_wordings(TINY)
    frame = '  File "/venv/lib/python3.11/site-packages/torch/cuda/__init__.py", line 3, in _lazy_init\n'
    assert _stack_lines(LogText.from_text(frame), index) == []


def test_the_closest_messages_vote_and_information_is_never_a_guess():
    index = parse_wordings(TINY)
    assert [w.cause for w in index.wordings] == ["driver-too-old", "gpu-too-old"]  # the "none" row is left out
    guess = resemble(LogText.from_text("ERROR the CUDA driver is too old; please update\n"), index)
    assert [g.cause for g in guess] == ["driver-too-old"]
    assert resemble(LogText.from_text("Using CUDA device cache at /tmp: loaded\n"), index) == []


def test_a_guess_is_made_only_when_no_cause_and_nothing_elsewhere_fits():
    assert explain_text("CUDA error: no CUDA-capable device is detected\n").resembles == []
    assert explain_text("OSError: [Errno 28] No space left on device: '/cache/cuda'\n").resembles == []


def test_a_long_log_is_read_at_its_ends_only():
    index = wording_index()
    lines = [f"cuda step {i} of {'x' * (i % 7)} done" for i in range(3 * MAX_LINES)]
    numbers = [number for number, _ in _stack_lines(LogText.from_text("\n".join(lines)), index)]
    # the end first (a cause shows there most often), then the start; the middle is not read
    assert numbers == [*range(2 * MAX_LINES, 3 * MAX_LINES), *range(MAX_LINES)]


def test_the_work_per_log_is_bounded(monkeypatch):
    # a hostile log cannot make the comparison run long: past the budget, what was compared stands
    log = LogText.from_text(f"starting server\n{REWORDED}\n")
    assert resemble(log) != []
    monkeypatch.setattr(resemblance, "MAX_WORK", 0)
    assert resemble(log) == []


@pytest.mark.parametrize(
    "text",
    [
        '[[message]]\ntext = "x"\ncause = "not-a-cause"\nproject = "p"\nsource = "https://e"\n',
        '[[message]]\ntext = "x"\ncause = "no-driver"\n',
        "[[message]\n",
    ],
)
def test_malformed_wordings_are_refused(text):
    with pytest.raises(WordingsError):
        parse_wordings(text)


def test_the_terminal_and_the_json_show_the_guess(capsys, tmp_path):
    path = tmp_path / "server.log"
    path.write_text(f"starting server\n{REWORDED}\n", "utf-8")
    text = render_explanation(explain_text(path.read_text("utf-8")))
    assert "No known GPU-stack cause recognised" in text
    assert "Reads most like (a guess from wording" in text
    assert "1. driver-too-old" in text and "| line 2:" in text and "resembles ollama:" in text
    assert "The NVIDIA driver is older than" in text  # what the cause means, beside its id
    assert text.index("Reads most like") < text.index("Next:")

    assert main(["explain", str(path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["causes"] == []
    guess = document["resembles"][0]
    assert guess["cause"] == "driver-too-old" and guess["match"]["line"] == 2 and guess["title"]
    assert guess["resembles"]["project"] == "ollama" and guess["resembles"]["source"].startswith("https://")
