"""Time whole `preflight doctor --json` runs against a peer tool, side by side in one run.

The peer is cuda-doctor 0.2.0 from PyPI (`cuda-doctor diagnose --format json`), installed into
a throwaway virtual environment under .bench/ on first use. This checkout is installed the same
way (`pip install .`, which byte-compiles it as a user's install would) into another one, anew on
every run. Runs alternate A B A B ... after a warm-up of each, so drift of a shared machine hits
both equally; the ratio is taken pair by pair.
Goal (issue 2): median at most 0.25 s, and at least 2x faster than the peer.

    python benchmarks/doctor_speed.py [--runs 21]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEER_VENV = ROOT / ".bench" / "cuda-doctor-0.2.0"
PEER = "cuda-doctor==0.2.0"
OURS_VENV = ROOT / ".bench" / "preflight"


def venv_with(venv: Path, *requirements: str, fresh: bool = False) -> Path:
    if fresh and venv.exists():
        shutil.rmtree(venv)
    if not venv.exists():
        print(f"installing {' '.join(requirements)} into {venv} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *requirements], check=True)
    return venv / "bin"


def peer_command() -> list[str]:
    return [str(venv_with(PEER_VENV, PEER) / "cuda-doctor"), "diagnose", "--format", "json"]


def ours_command() -> list[str]:
    return [str(venv_with(OURS_VENV, str(ROOT), fresh=True) / "preflight"), "doctor", "--json"]


def once(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    ours, peer = ours_command(), peer_command()
    env_note = f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    once(ours), once(peer)  # warm the page cache for both
    pairs = [(once(ours), once(peer)) for _ in range(args.runs)]
    a = [p[0] for p in pairs]
    b = [p[1] for p in pairs]
    ratios = [x / y for x, y in pairs]
    print(f"{args.runs} alternating runs each ({env_note})")
    print(
        f"  preflight doctor --json       median {statistics.median(a) * 1000:7.1f} ms  (min {min(a) * 1000:.1f}, "
        f"max {max(a) * 1000:.1f})"
    )
    print(
        f"  cuda-doctor diagnose -f json  median {statistics.median(b) * 1000:7.1f} ms  (min {min(b) * 1000:.1f}, "
        f"max {max(b) * 1000:.1f})"
    )
    print(
        f"  ratio preflight/peer          median {statistics.median(ratios):.2f}  "
        f"-> {1 / statistics.median(ratios):.1f}x faster"
    )
    target_ok = statistics.median(a) <= 0.25 and statistics.median(ratios) <= 0.5
    print(f"  goal (<= 250 ms and >= 2x faster): {'met' if target_ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
