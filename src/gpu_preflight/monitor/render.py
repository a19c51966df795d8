"""Show samples: a table redrawn in place on a terminal, plain lines when stdout is a pipe or a
file, JSON lines with ``--json``. Rendering only: no value is computed or judged here."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TextIO

from gpu_preflight.core.text import printable
from gpu_preflight.monitor.sample import GpuSample, Hint, Sample

# (title, width, cell): one table column; cells are right-aligned except NAME and THROTTLE.
COLUMNS: tuple[tuple[str, int, Callable[[GpuSample], str]], ...] = (
    ("GPU", 3, lambda g: str(g.index)),
    ("NAME", 24, lambda g: _name(g)),
    ("SM%", 4, lambda g: _num(g.utilization_gpu_pct)),
    ("MEM%", 4, lambda g: _num(g.utilization_memory_pct)),
    ("MEMORY MiB", 19, lambda g: _memory(g)),
    ("TEMP", 4, lambda g: _num(g.temperature_c, "C")),
    ("POWER W", 9, lambda g: f"{_num(g.power_w)}/{_num(g.power_limit_w)}"),
    ("SM MHz", 6, lambda g: _num(g.sm_clock_mhz)),
    ("MEM MHz", 7, lambda g: _num(g.memory_clock_mhz)),
    ("PCIe RX/TX MB/s", 15, lambda g: f"{_mb(g.pcie_rx_kb_s)}/{_mb(g.pcie_tx_kb_s)}"),
    ("ECC C/U", 7, lambda g: f"{_num(g.ecc_errors_corrected)}/{_num(g.ecc_errors_uncorrected)}"),
    ("PROCS", 5, lambda g: _num(len(g.processes) if g.processes is not None else None)),
    ("THROTTLE", 0, lambda g: _reasons(g.throttle_reasons)),
)
LEFT_ALIGNED = {"NAME", "THROTTLE"}


def _name(g: GpuSample) -> str:
    return printable(g.name, one_line=True)[:24]  # escaped, then cut: the column stays aligned


def _num(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:.0f}{unit}"


def _mb(kb_s: float | None) -> str:
    return "-" if kb_s is None else f"{kb_s / 1000:.1f}"


def _memory(g: GpuSample) -> str:
    fraction = g.memory_used_fraction
    share = f" ({100 * fraction:.0f}%)" if fraction is not None else ""
    return f"{_num(g.memory_used_mib)}/{_num(g.memory_total_mib)}{share}"


def _reasons(reasons: list[str] | None) -> str:
    if reasons is None:
        return "?"
    return ",".join(r for r in reasons if r != "gpu_idle") or ("idle" if reasons else "-")


def _cells(values: list[str]) -> str:
    return " ".join(
        value.ljust(width) if title in LEFT_ALIGNED else value.rjust(width)
        for (title, width, _), value in zip(COLUMNS, values, strict=True)
    ).rstrip()


def header_line() -> str:
    return _cells([title for title, _, _ in COLUMNS])


def gpu_line(gpu: GpuSample) -> str:
    return _cells([cell(gpu) for _, _, cell in COLUMNS])


def hint_lines(hint: Hint) -> list[str]:
    return [f"  GPU {hint.gpu}: {hint.hint} (confidence {hint.confidence:.0%})", f"      evidence: {hint.evidence}"]


def frame_lines(sample: Sample) -> list[str]:
    """The whole picture of one sample, for a terminal; every line through ``printable`` (a
    replay's GPU and process names must not move the cursor or retitle the window)."""
    driver = f"driver {sample.driver_version or '?'}, CUDA {sample.cuda_driver_version or '?'} (driver's)"
    queue = f", {sample.requests_waiting} requests waiting" if sample.requests_waiting is not None else ""
    lines = [f"{sample.time}  {driver}  source {sample.source}{queue}", header_line()]
    lines += [gpu_line(gpu) for gpu in sample.gpus]
    processes = [(gpu.index, p) for gpu in sample.gpus for p in (gpu.processes or [])]
    if processes:
        lines.append("processes:")
        lines += [f"  GPU {i}  pid {p.pid:<8} {_num(p.memory_used_mib):>7} MiB  {p.name or '?'}" for i, p in processes]
    if sample.hints:
        lines.append("hints:")
        lines += [line for hint in sample.hints for line in hint_lines(hint)]
    return [printable(line, one_line=True) for line in lines]


class TerminalView:
    """On a terminal: redraw the frame in place (the scrollback above it is kept, and the last
    frame stays on screen at the end). Elsewhere: a header once, then one line per GPU per
    sample prefixed by the time, and each hint when it first appears."""

    def __init__(self, stream: TextIO, live: bool | None = None):
        self.stream = stream
        self.live = stream.isatty() if live is None else live
        self._drawn = 0
        self._header_done = False
        self._hints_shown: set[tuple[int, str]] = set()

    def show(self, sample: Sample) -> None:
        self._redraw(sample) if self.live else self._append(sample)
        self.stream.flush()

    def _redraw(self, sample: Sample) -> None:
        up = f"\033[{self._drawn}F" if self._drawn else ""  # to the start of the previous frame
        lines = frame_lines(sample)
        self.stream.write(up + "".join(f"{line}\033[K\n" for line in lines) + "\033[J")
        self._drawn = len(lines)

    def _append(self, sample: Sample) -> None:
        if not self._header_done:
            self.stream.write(f"{'TIME':8} {header_line()}\n")
            self._header_done = True
        clock = printable(sample.time[11:19], one_line=True)
        for gpu in sample.gpus:
            self.stream.write(f"{clock:8} {printable(gpu_line(gpu), one_line=True)}\n")
        current = {(h.gpu, h.code) for h in sample.hints}
        for hint in sample.hints:
            if (hint.gpu, hint.code) not in self._hints_shown:
                self.stream.write("".join(printable(line, one_line=True) + "\n" for line in hint_lines(hint)))
        self._hints_shown = current


class JsonLinesView:
    """One `gpu-preflight/sample/v1` object per line, flushed so a reader sees each at once."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def show(self, sample: Sample) -> None:
        self.stream.write(json.dumps(sample.to_dict()) + "\n")
        self.stream.flush()
