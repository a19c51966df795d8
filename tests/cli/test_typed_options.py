"""The command line is the only place flags exist: each flag group becomes a typed value once,
and what a command hands a feature is that value (HostSpec, ServeOptions...), never the Namespace."""

from __future__ import annotations

import pytest

from gpu_preflight.cli.commands import explain as explain_command
from gpu_preflight.cli.commands import serve as serve_command
from gpu_preflight.cli.flags import host_spec_from_args, targets_from_args
from gpu_preflight.cli.main import build_parser, main
from gpu_preflight.probe.hostspec import HostSpec
from gpu_preflight.serve.options import ServeOptions
from gpu_preflight.targets.model import Targets


def parse(*argv: str):
    return build_parser().parse_args(list(argv))


@pytest.fixture
def no_probe(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Probing this machine fails the test; the list records any attempt."""
    attempts: list[object] = []

    def probe_host(options: object) -> None:
        attempts.append(options)
        raise AssertionError("this machine was probed")

    monkeypatch.setattr("gpu_preflight.probe.probe_host", probe_host)
    return attempts


def test_host_flags_become_a_host_spec() -> None:
    args = parse(
        "doctor",
        "--snapshot",
        "host.json",
        "--assume-driver",
        "550.54.15",
        "--assume-gpu",
        "Tesla T4",
        "--assume-gpu",
        "NVIDIA L4:24GiB",
        "--python",
        "/opt/venv/bin/python",
        "--deep",
        "--timeout",
        "3",
    )
    assert host_spec_from_args(args) == HostSpec(
        snapshot="host.json",
        assume_driver="550.54.15",
        assume_gpus=("Tesla T4", "NVIDIA L4:24GiB"),
        python="/opt/venv/bin/python",
        deep=True,
        timeout=3.0,
    )
    assert host_spec_from_args(args).describes_another_host
    assert not host_spec_from_args(parse("doctor", "--deep")).describes_another_host


def test_no_target_flags_is_an_empty_targets() -> None:
    targets = targets_from_args(parse("doctor"))
    assert isinstance(targets, Targets) and len(targets) == 0


def test_serve_flags_become_serve_options() -> None:
    assert serve_command.options_from_args(parse("serve")) == ServeOptions(model=serve_command.DEFAULT_MODEL)
    options = serve_command.options_from_args(
        parse(
            "serve",
            "some/model",
            "--no-preflight",
            "--monitor",
            "9400",
            "--max-queue",
            "4",
            "--system-prompt",
            "",
            "--dry-run",
            "--json",
        )
    )
    assert (options.model, options.preflight, options.monitor_port, options.max_queue) == ("some/model", False, 9400, 4)
    assert options.system_prompt == "" and options.dry_run and options.json


def test_explain_judges_no_machine_unless_asked(no_probe: list[object]) -> None:
    assert explain_command.host_for(parse("explain", "log.txt")) is None
    assumed = explain_command.host_for(parse("explain", "log.txt", "--assume-driver", "470.82.01"))
    assert assumed is not None and assumed.driver.version == "470.82.01" and not no_probe


def test_explain_here_probes_this_machine(no_probe: list[object]) -> None:
    with pytest.raises(AssertionError, match="probed"):
        explain_command.host_for(parse("explain", "log.txt", "--here"))
    assert len(no_probe) == 1


def help_text(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    return capsys.readouterr().out


def test_the_host_group_says_what_each_command_judges_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    explain = help_text("explain", capsys)
    assert "HOST (default: none, only the log is used; --here, or --python, probes this machine):" in explain
    assert "HOST (default: this machine, probed live):" in help_text("doctor", capsys)


def test_doctor_model_typo_is_refused_before_any_probe(
    no_probe: list[object], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doctor", "--model", "VibeThinker-1.5B", "--dtype", "float7"]) == 2
    err = capsys.readouterr().err
    assert not no_probe and err.startswith("preflight: error: ") and err.count("\n") == 1
