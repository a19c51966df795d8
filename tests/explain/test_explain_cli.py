"""`preflight explain` and `preflight run` as users and scripts call them."""

from __future__ import annotations

import json
import sys

import pytest

LOG = "RuntimeError: The NVIDIA driver on your system is too old (found version 11040).\n"
CAUSE_KEYS = {"cause", "confidence", "title", "evidence", "fix"}


def test_json_document(run_cli, tmp_path):
    path = tmp_path / "log.txt"
    path.write_text(LOG)
    result = run_cli("explain", str(path), "--json")
    assert result.returncode == 0, result.stderr
    document = result.json()
    assert document["schema"] == "gpu-preflight/explanation/v1"
    first = document["causes"][0]
    assert CAUSE_KEYS <= first.keys()
    assert first["cause"] == "driver-too-old" and 0 < first["confidence"] <= 1
    assert first["evidence"] == [LOG.strip()]


def test_stdin_and_terminal_output(run_cli):
    result = run_cli("explain", "-", input=LOG)
    assert result.returncode == 0
    assert "driver-too-old" in result.stdout and "fix:" in result.stdout


def test_nothing_recognised_is_exit_0(run_cli, tmp_path):
    (tmp_path / "ok.log").write_text("all good\n")
    result = run_cli("explain", str(tmp_path / "ok.log"), "--json")
    assert result.returncode == 0 and result.json()["causes"] == []
    (tmp_path / "empty.log").write_bytes(b"")
    assert run_cli("explain", str(tmp_path / "empty.log")).returncode == 0


def test_assumed_host_makes_the_fix_specific(run_cli):
    log = "torch 2.4.1+cu121\n" + LOG
    result = run_cli("explain", "-", "--assume-driver", "470.82.01", "--json", input=log)
    assert "nvidia-driver-535" in " ".join(result.json()["causes"][0]["fix"])


def test_snapshot_host(run_cli, tmp_path):
    from gpu_preflight.core.host import Driver, Gpu, Host

    snapshot = tmp_path / "host.json"
    snapshot.write_text(
        json.dumps(
            Host(
                driver=Driver(version="535.104.05", cuda="12.2"), gpus=[Gpu(0, "NVIDIA GeForce RTX 5090", "12.0")]
            ).to_dict()
        )
    )
    log = "torch 2.5.1+cu124\nRuntimeError: CUDA error: no kernel image is available for execution on the device\n"
    result = run_cli("explain", "-", "--snapshot", str(snapshot), "--json", input=log)
    cause = result.json()["causes"][0]
    assert cause["cause"] == "no-kernel-image"
    assert "NVIDIA GeForce RTX 5090 has compute capability 12.0" in " ".join(cause["fix"])


def test_nvidia_smi_xml_host(run_cli, shared_real):
    xml = shared_real / "nvidia-smi-xml" / "netdata__tesla-p100-pcie-16gb__510.47.03.xml"
    if not xml.exists():
        pytest.skip("fixture missing")
    log = "torch 2.8.0+cu128\nRuntimeError: CUDA error: no kernel image is available for execution on the device\n"
    result = run_cli("explain", "-", "--nvidia-smi-xml", str(xml), "--json", input=log)
    assert result.json()["causes"][0]["cause"] == "gpu-too-old"


@pytest.mark.parametrize("make", ["missing", "directory", "binary", "huge"])
def test_unreadable_input_is_one_line_and_exit_2(run_cli, tmp_path, make):
    path = tmp_path / "input"
    if make == "directory":
        path.mkdir()
    elif make == "binary":
        path.write_bytes(bytes(range(256)) * 100)
    elif make == "huge":
        with open(path, "wb") as fh:
            fh.truncate(33 * 1024 * 1024)
    result = run_cli("explain", str(path))
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("preflight: error: ")


HOSTILE = [
    "a" * 5_000_000,  # one huge line
    ("nvidia " * 200_000),
    ("cuda " + " " * 4000 + "\n") * 2000,  # long whitespace runs between words
    ("Found GPU0 " + "x" * 60 + " which is of\n") * 20000,
    ("docker run \\\n") * 50000,  # an endless continued command line
    ("\x1b[" + "0;" * 30) * 100000,  # broken escape sequences
    ("loaded runtime cudnn library " + "x" * 230 + " ") * 20000,  # near-misses of a gapped phrase
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_input_neither_crashes_nor_hangs(run_cli, text):
    result = run_cli("explain", "-", "--json", input=text, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.json()["schema"] == "gpu-preflight/explanation/v1"


def test_run_passes_output_through_and_keeps_the_exit_code(run_cli):
    code = (
        "import sys; print('hello from stdout', flush=True); "
        "print('RuntimeError: CUDA error: no kernel image is available for execution on the device', file=sys.stderr); "
        "sys.exit(7)"
    )
    result = run_cli("run", "--", sys.executable, "-c", code)
    assert result.returncode == 7
    assert "hello from stdout" in result.stdout
    assert "no kernel image is available" in result.stderr
    assert "no-kernel-image" in result.stderr  # the explanation, on stderr


def test_run_success_adds_nothing(run_cli):
    result = run_cli("run", "--", sys.executable, "-c", "print('fine')")
    assert result.returncode == 0 and result.stdout == "fine\n" and result.stderr == ""


def test_run_json_explanation_goes_to_stderr(run_cli):
    code = (
        "import sys; print('Failed to initialize NVML: Driver/library version mismatch', file=sys.stderr); sys.exit(1)"
    )
    result = run_cli("run", "--json", "--assume-driver", "550.54.15", "--", sys.executable, "-c", code)
    assert result.returncode == 1 and result.stdout == ""
    document = json.loads(result.stderr[result.stderr.index("{") :])
    assert document["causes"][0]["cause"] == "driver-library-mismatch"


def test_run_bad_host_flag_is_refused_before_running(run_cli, tmp_path):
    marker = tmp_path / "ran"
    result = run_cli(
        "run", "--snapshot", "/nonexistent.json", "--", sys.executable, "-c", f"open({str(marker)!r}, 'w')"
    )
    assert result.returncode == 2 and not marker.exists()


def test_run_command_that_cannot_start(run_cli):
    result = run_cli("run", "--", "/nonexistent/program", "--flag")
    assert result.returncode == 127
    assert result.stderr.count("\n") == 1 and "/nonexistent/program" in result.stderr


def test_run_needs_a_command(run_cli):
    result = run_cli("run")
    assert result.returncode == 2 and result.stderr.startswith("preflight: error: ")


def test_run_keeps_lines_whole_when_the_streams_interleave(run_cli):
    """stderr's line arrives in two writes with stdout's in between: each stream is captured
    on its own, so the explanation still sees the whole line."""
    code = (
        "import sys, time\n"
        "sys.stderr.write('RuntimeError: CUDA error: no kernel image is available for execution on the device'); "
        "sys.stderr.flush(); time.sleep(0.2)\n"
        "sys.stdout.write('hello from stdout\\n'); sys.stdout.flush(); time.sleep(0.2)\n"
        "sys.stderr.write('\\n'); sys.exit(7)\n"
    )
    result = run_cli("run", "--", sys.executable, "-c", code)
    assert result.returncode == 7 and "no-kernel-image" in result.stderr


def test_a_logs_escape_sequences_are_shown_as_text_not_obeyed(run_cli):
    log = "\x1b]0;pwned\x07\x1b[31m" + LOG.rstrip("\n") + "\x1b[0m\r\n"
    result = run_cli("explain", "-", input=log)
    assert result.returncode == 0 and "driver-too-old" in result.stdout
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout and "\r" not in result.stdout
    rerun = run_cli("run", "--", sys.executable, "-c", f"import sys; sys.stderr.write({log!r}); sys.exit(1)")
    explanation = rerun.stderr.split("why the command failed")[1]
    assert rerun.returncode == 1 and "driver-too-old" in explanation and "\x1b" not in explanation


def test_json_matches_point_at_the_lines_of_the_file(run_cli, tmp_path):
    """Editors and CI annotations jump to "matches": 1-based lines of the file as written, blank
    runs, CRLF line ends and progress-bar carriage returns included."""
    lines = ["step 1 loss 0.5", "", "", "", "epoch 2\r10%\r50%", "", LOG.strip(), "", "", "done"]
    path = tmp_path / "log.txt"
    path.write_bytes("\r\n".join(lines).encode())
    document = run_cli("explain", str(path), "--json").json()
    matches = document["causes"][0]["matches"]
    numbered = path.read_bytes().decode().replace("\r\n", "\n").replace("\r", "\n").split("\n")
    assert matches == [{"line": 9, "text": LOG.strip()}]
    assert numbered[matches[0]["line"] - 1] == LOG.strip()


def test_no_cause_says_what_to_run_next(run_cli):
    result = run_cli("explain", "-", input="ModuleNotFoundError: No module named 'transformers'\n")
    assert result.returncode == 0
    assert "Most likely instead: Python, not CUDA" in result.stdout
    assert "preflight doctor" in result.stdout and "preflight run -- CMD" in result.stdout
    document = run_cli("explain", "-", "--json", input="ModuleNotFoundError: No module named 'x'\n").json()
    assert document["causes"] == [] and document["elsewhere"]["id"] == "python-module-missing"
    assert document["elsewhere"]["matches"] == [{"line": 1, "text": "ModuleNotFoundError: No module named 'x'"}]


def test_python_alone_probes_that_interpreter_and_says_so(run_cli, tmp_path) -> None:
    # --python names an interpreter of this machine: it used to be ignored without --here.
    log = tmp_path / "log.txt"
    log.write_text("AssertionError: Torch not compiled with CUDA enabled\n")
    result = run_cli("explain", str(log), "--python", str(tmp_path / "no-such-python"), "--json")
    assert result.returncode == 0, result.stderr
    host = result.json()["host"]
    assert host is not None and host["source"] == "live"
    assert any(line.startswith("frameworks:") and "no-such-python" in line for line in host["could_not_see"])
    terminal = run_cli("explain", str(log), "--python", str(tmp_path / "no-such-python")).stdout
    assert terminal.startswith("HOST (live)") and "could not see frameworks" in terminal
    without = run_cli("explain", str(log), "--json")
    assert without.json()["host"] is None
