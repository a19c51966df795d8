"""Top-1 accuracy of `preflight explain` on the corpus of real logs (tests/explain/corpus).

Every log in the corpus comes from a public issue thread whose confirmed resolution names the
cause (corpus/index.toml holds the link and the resolution). The corpus has two parts:
  seen:     logs looked at while the signatures were written;
  held-out: logs collected after the signatures were frozen and never used to change them;
            this is the honest estimate.
Prints accuracy overall and per part, per-cause results (right / total, and what the misses
came out as), and the time taken per log. The shared real fixtures of collect_env dumps and
nvidia-smi errors are explained too, as a check that they do not break anything (they carry
no confirmed cause, so they are not scored).
Goal (issue 6): the right cause first for >= 85% of real logs (95% is where we want to be).

    python benchmarks/explain_accuracy.py [--misses] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from gpu_preflight.explain import explain_bytes  # noqa: E402

from support.explain_corpus import PARTS, load_corpus  # noqa: E402

GOAL = 0.85


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", action="store_true", help="list every miss with what came first")
    parser.add_argument("--json", action="store_true", help="the numbers as JSON")
    args = parser.parse_args()

    logs = load_corpus()
    results = []
    started = time.perf_counter()
    for log in logs:
        causes = explain_bytes(log.path.read_bytes()).causes
        got = causes[0].cause if causes else None
        results.append((log, got, causes[0].confidence if causes else 0.0))
    elapsed = time.perf_counter() - started

    def accuracy(rows) -> tuple[int, int]:
        rows = list(rows)
        return sum(1 for log, got, _ in rows if got == log.cause), len(rows)

    summary = {"logs": len(results), "seconds_per_log": elapsed / max(len(results), 1), "parts": {}, "causes": {}}
    right, total = accuracy(results)
    summary["top1"] = right / total
    for part in PARTS:
        r, t = accuracy(row for row in results if row[0].part == part)
        summary["parts"][part] = {"right": r, "total": t, "top1": r / t if t else None}
    by_cause = defaultdict(list)
    for row in results:
        by_cause[row[0].cause].append(row)
    for cause in sorted(by_cause):
        rows = by_cause[cause]
        r, t = accuracy(rows)
        held_r, held_t = accuracy(row for row in rows if row[0].part == "held-out")
        summary["causes"][cause] = {
            "right": r,
            "total": t,
            "held_out_right": held_r,
            "held_out_total": held_t,
            "misses": [f"{log.id} -> {got}" for log, got, _ in rows if got != log.cause],
        }

    if args.json:
        print(json.dumps(summary, indent=2))
        return 0

    print(f"preflight explain: top-1 accuracy on {total} real logs from public issue threads")
    print(f"  all:      {right}/{total} = {right / total:.1%}")
    for part in PARTS:
        p = summary["parts"][part]
        if p["total"]:
            print(f"  {part + ':':<9} {p['right']}/{p['total']} = {p['top1']:.1%}")
    print(
        f"  goal: >= {GOAL:.0%} (held-out "
        f"part: {'met' if (summary['parts']['held-out']['top1'] or 0) >= GOAL else 'NOT met'})"
    )
    print(f"  time: {summary['seconds_per_log'] * 1000:.1f} ms per log")
    print()
    print(f"{'cause':<28} {'all':>7} {'held-out':>9}  misses (log -> came first)")
    for cause, c in summary["causes"].items():
        held = f"{c['held_out_right']}/{c['held_out_total']}" if c["held_out_total"] else "-"
        print(f"{cause:<28} {c['right']:>3}/{c['total']:<3} {held:>9}  {', '.join(c['misses'])}")
    if args.misses:
        print()
        for log, got, confidence in results:
            if got != log.cause:
                print(f"MISS [{log.part}] {log.id}: expected {log.cause}, got {got} ({confidence:.2f})  {log.source}")
    _shared_fixtures()
    _speed()
    return 0


def _speed(megabytes: int = 10) -> None:
    """Time one 10 MB log: training chatter with the error in the middle (goal: well under a few seconds)."""
    import random

    rng = random.Random(6)
    words = "epoch loss step cuda nvidia driver version error gpu memory torch model train 0.123 sm_86 found".split()
    lines, size = [], 0
    while size < megabytes * 1024 * 1024:
        line = "2026-01-01 12:00:00 INFO " + " ".join(rng.choice(words) for _ in range(15))
        lines.append(line)
        size += len(line) + 1
    lines.insert(len(lines) // 2, "RuntimeError: CUDA error: no kernel image is available for execution on the device")
    data = "\n".join(lines).encode()
    started = time.perf_counter()
    causes = explain_bytes(data).causes
    elapsed = time.perf_counter() - started
    print()
    print(
        f"speed: a {len(data) / 1e6:.1f} MB log ({len(lines)} lines) explained in {elapsed:.2f} s "
        f"-> {causes[0].cause if causes else None}"
    )


def _shared_fixtures() -> None:
    shared = ROOT.parent / "shared" / "fixtures" / "real"
    files = sorted((shared / "collect-env").glob("*.txt")) + sorted((shared / "nvidia-smi-text" / "errors").glob("*"))
    if not files:
        return
    print()
    print(f"shared real fixtures (not scored: no confirmed cause), {len(files)} files:")
    for path in files:
        causes = explain_bytes(path.read_bytes()).causes
        shown = ", ".join(f"{c.cause} {c.confidence:.2f}" for c in causes[:2]) or "(nothing recognised)"
        print(f"  {path.parent.name}/{path.name[:70]}: {shown}")


if __name__ == "__main__":
    sys.exit(main())
