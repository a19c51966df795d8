"""Rendering: a table redrawn in place on a terminal, plain lines elsewhere."""

from __future__ import annotations

import io

from gpu_preflight.monitor import Hint, Process, Sample, TerminalView
from gpu_preflight.monitor.render import frame_lines

from support.monitor import gpu, series


def sample_with(**kw) -> Sample:
    return Sample(
        time="2026-01-01T12:34:56+00:00", gpus=[gpu(**kw)], driver_version="550.54.15", cuda_driver_version="12.4"
    )


def test_frame_shows_every_column_and_the_processes():
    lines = frame_lines(
        sample_with(
            processes=[Process(4242, "python3", 61000)],
            pcie_rx_kb_s=12345,
            pcie_tx_kb_s=4567,
            throttle_reasons=["sw_power_cap"],
        )
    )
    assert "driver 550.54.15, CUDA 12.4 (driver's)" in lines[0]
    row = lines[2]
    for text in (
        "NVIDIA H100 80GB HBM3",
        "95",
        "30000/81559 (37%)",
        "60C",
        "500/700",
        "1980",
        "2619",
        "12.3/4.6",
        "0/0",
        "sw_power_cap",
    ):
        assert text in row, text
    assert any("pid 4242" in line and "61000 MiB" in line and "python3" in line for line in lines)


def test_unknown_values_show_as_dashes():
    row = frame_lines(sample_with(utilization_gpu_pct=None, power_w=None, throttle_reasons=None))[2]
    assert "-/700" in row and row.endswith("?")


def test_terminal_redraws_in_place():
    stream = io.StringIO()
    view = TerminalView(stream, live=True)
    view.show(sample_with())
    first = stream.getvalue()
    view.show(sample_with(temperature_c=61))
    second = stream.getvalue()[len(first) :]
    assert not first.startswith("\033[") and first.endswith("\033[J")
    assert second.startswith(f"\033[{first.count(chr(10))}F")  # back up over the previous frame


def test_plain_output_prints_a_header_once_and_each_hint_when_it_appears():
    stream = io.StringIO()
    view = TerminalView(stream, live=False)
    hint = Hint(
        gpu=0, code="memory-nearly-full", hint="memory nearly full", evidence="79000 of 81559 MiB", confidence=0.6
    )
    for s in series(3):
        view.show(Sample(time=s.time, gpus=s.gpus, hints=[hint]))
    text = stream.getvalue()
    assert text.count("TIME") == 1 and text.count("memory nearly full") == 1 and text.count("evidence:") == 1
    assert "\033" not in text


HOSTILE_NAME = "\x1b]0;pwned\x07\x1b[2J\x9b1;1H\u202eT4\r"
UNSAFE = "".join(chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)] if c != 0x0A) + "\u202e"


def test_a_replays_names_are_shown_as_text_not_obeyed():
    sample = sample_with(name=HOSTILE_NAME, processes=[Process(1, "evil\x1b[31m", 10)])
    live, plain = io.StringIO(), io.StringIO()
    TerminalView(live, live=True).show(sample)
    TerminalView(plain, live=False).show(sample)
    assert not any(ch in UNSAFE for ch in plain.getvalue())
    assert "\\x1b]0;pwned\\x07" in plain.getvalue()
    # the live view's own cursor codes are all that is left of ESC
    assert live.getvalue().replace("\033[K", "").replace("\033[J", "").count("\033") == 0
    lines = frame_lines(sample)
    assert any("evil\\x1b[31m" in line for line in lines)
    assert len(lines[2].split("  ")[0]) <= len(lines[1].split("  ")[0]) + 24  # the NAME column stays cut
