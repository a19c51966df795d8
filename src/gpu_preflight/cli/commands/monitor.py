"""``preflight monitor``: watch the GPUs while the model runs, and say what the numbers mean.

Exit codes: 0 when the count is reached, a replay ends, or Ctrl-C stops it (Ctrl-C is how a
live monitor is meant to end, so it is not a failure: every sample taken has already been
printed, and a line on stderr says how many); 1 when NVML is unavailable or stops answering;
2 for a bad flag or an unreadable replay file, or a --prometheus port that cannot be bound.
"""

from __future__ import annotations

import argparse
import math
import sys

from gpu_preflight.core.limits import MAX_INTERVAL_S

HELP = "watch GPU utilisation, memory, clocks and throttling while a model runs, with hints"
DEFAULT_INTERVAL_S = 1.0


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= MAX_INTERVAL_S):
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds above 0 and at most {MAX_INTERVAL_S:g}, not {text[:40]!r}"
        )
    return value


def _positive_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, not {text!r}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a TCP port 0-65535 (0: any free port), not {text!r}")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--interval",
        type=_positive_seconds,
        metavar="S",
        help=f"seconds between samples (default {DEFAULT_INTERVAL_S:g}; a replay is read without pause unless this is "
        "given)",
    )
    parser.add_argument(
        "--count",
        type=_positive_count,
        metavar="N",
        help="stop after N samples (default: until Ctrl-C, or the end of a replay)",
    )
    parser.add_argument("--json", action="store_true", help="one gpu-preflight/sample/v1 JSON object per line")
    parser.add_argument(
        "--prometheus",
        type=_port,
        metavar="PORT",
        help="also serve Prometheus metrics on PORT (needs: pip install 'gpu-preflight[monitor]')",
    )
    parser.add_argument(
        "--listen",
        default="127.0.0.1",
        metavar="ADDR",
        help="address the --prometheus exporter listens on (default 127.0.0.1: this machine only; 0.0.0.0 or :: "
        "for every interface, e.g. for a Prometheus server elsewhere)",
    )
    parser.add_argument(
        "--replay",
        metavar="FILE",
        help="read samples from FILE ('-': stdin) instead of NVML: JSON lines written by --json, or 'nvidia-smi "
        "--query-gpu=... --format=csv' output",
    )
    parser.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=10.0,
        metavar="S",
        help="how long one NVML sample may take before the GPU is called hung (default 10)",
    )


def run(args: argparse.Namespace) -> int:
    from gpu_preflight.monitor import (
        JsonLinesView,
        NvmlSource,
        NvmlUnavailable,
        SourceError,
        TerminalView,
        open_replay,
        start_exporter,
        watch,
    )

    source = open_replay(args.replay) if args.replay else NvmlSource(timeout=args.timeout)
    interval = args.interval if args.interval is not None else (0.0 if args.replay else DEFAULT_INTERVAL_S)
    exporter = start_exporter(args.prometheus, addr=args.listen) if args.prometheus is not None else None
    if exporter is not None:
        shown = f"[{args.listen.strip('[]')}]" if ":" in args.listen else args.listen
        print(f"preflight: serving Prometheus metrics on http://{shown}:{exporter.port}/metrics", file=sys.stderr)
    view = JsonLinesView(sys.stdout) if args.json else TerminalView(sys.stdout)
    taken = 0
    try:
        for sample in watch(source, interval, args.count):
            view.show(sample)
            if exporter is not None:
                exporter.publish(sample)
            taken += 1
    except KeyboardInterrupt:
        print(f"\npreflight: stopped after {taken} sample(s)", file=sys.stderr)
    except NvmlUnavailable as exc:
        print(
            f"preflight: {exc}. Is the NVIDIA driver installed, and are the GPUs visible to this process or container? "
            "(--replay FILE reads a recording instead)",
            file=sys.stderr,
        )
        return 1
    except SourceError as exc:
        print(f"preflight: {exc} (after {taken} sample(s))", file=sys.stderr)
        return 1
    finally:
        source.close()
        if exporter is not None:
            exporter.close()
    return 0
