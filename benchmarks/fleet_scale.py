"""`preflight fleet` at scale: judging N host documents against a target, compared with the time
Python needs just to read and parse those documents (json.loads of each), in the same run.

Generates N synthetic `preflight probe --json` documents (mixed GPUs, drivers, GPU counts and
installed frameworks; every host with its own hostname, UUIDs, bus ids and memory in use) as one
JSON Lines file and as a directory of files, then times, alternating, after a warm-up:
  parse: open/read each document and json.loads it (nothing else);
  fleet: read_hostfiles + survey (the whole judgement, knowledge base load included).
Then measures peak memory of one fleet run with tracemalloc (a separate run: tracing slows
Python), at N and at N/10, to show that memory grows only with the per-host results.
Goal (issue 10): fleet / parse <= 10 for 10,000 hosts.

    python benchmarks/fleet_scale.py [--hosts 10000] [--runs 3] [--torch 2.4.1+cu121]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from gpu_preflight.fleet import read_hostfiles, survey
from gpu_preflight.targets.specs import collect_targets

# (name, compute capability, brand, memory MiB, PCI device id)
GPUS = [
    ("NVIDIA H100 80GB HBM3", "9.0", "NVIDIA", 81559, "0x233010DE"),
    ("NVIDIA A100-SXM4-80GB", "8.0", "NVIDIA", 81920, "0x20B210DE"),
    ("NVIDIA A10G", "8.6", "NVIDIA", 23028, "0x223710DE"),
    ("Tesla T4", "7.5", "NVIDIA", 15360, "0x1EB810DE"),
    ("NVIDIA L40S", "8.9", "NVIDIA", 46068, "0x26B910DE"),
    ("Tesla V100-SXM2-16GB", "7.0", "Tesla", 16384, "0x1DB110DE"),
    ("NVIDIA GeForce RTX 4090", "8.9", "GeForce", 24564, "0x268410DE"),
]
DRIVERS = [
    ("470.256.02", "11.4"),
    ("525.147.05", "12.0"),
    ("535.183.01", "12.2"),
    ("550.54.15", "12.4"),
    ("560.35.03", "12.6"),
    ("570.124.04", "12.8"),
]
COUNTS = [1, 2, 4, 8]
FRAMEWORKS = [
    [],
    [
        {
            "name": "torch",
            "version": "2.4.1+cu121",
            "cuda": "12.1",
            "variant": "cu121",
            "source": "metadata",
            "location": "/opt/venv/lib/python3.11/site-packages",
            "details": {},
        }
    ],
]


def host_document(number: int, rng: random.Random) -> dict:
    name, cc, brand, memory, pci = rng.choice(GPUS)
    driver, cuda = rng.choice(DRIVERS)
    count = rng.choice(COUNTS)
    return {
        "schema": "gpu-preflight/host/v1",
        "hostname": f"gpu-node-{number:05d}",
        "driver": {"version": driver, "cuda": cuda, "source": "nvml", "kernel_module": driver, "platform": "linux"},
        "gpus": [
            {
                "index": i,
                "name": name,
                "compute_capability": cc,
                "compute_capability_source": "nvml",
                "memory_total_mib": memory,
                "memory_used_mib": rng.randrange(0, 2000),
                "brand": brand,
                "uuid": f"GPU-{rng.getrandbits(128):032x}",
                "mig_mode": None,
                "pci_bus_id": f"00000000:{16 + i:02X}:00.0",
                "pci_device_id": pci,
                "architecture": None,
                "driver_model": None,
                "mig_devices": [],
                "assumed": False,
            }
            for i in range(count)
        ],
        "toolkits": [],
        "frameworks": rng.choice(FRAMEWORKS),
        "container": {
            "in_container": True,
            "runtime": "kubernetes",
            "device_files": ["/dev/nvidiactl"],
            "nvidia_env": {"NVIDIA_VISIBLE_DEVICES": "all"},
        },
        "env": {"CUDA_VISIBLE_DEVICES": None, "NVIDIA_VISIBLE_DEVICES": "all", "LD_LIBRARY_PATH": None},
        "platform": {"system": "Linux", "machine": "x86_64", "python": "3.11.9"},
        "source": "live",
        "errors": [],
    }


def write_fleet(directory: Path, hosts: int, seed: int = 10) -> tuple[Path, Path]:
    rng = random.Random(seed)
    lines = directory / "fleet.jsonl"
    files = directory / "hosts"
    files.mkdir()
    with open(lines, "w") as out:
        for number in range(hosts):
            text = json.dumps(host_document(number, rng))
            out.write(text + "\n")
            (files / f"gpu-node-{number:05d}.json").write_text(text)
    return lines, files


def parse_only(path: Path) -> int:
    """The baseline: what reading and parsing the documents costs, with nothing else."""
    count = 0
    if path.is_dir():
        for name in sorted(os.listdir(path)):
            with open(path / name, "rb") as fh:
                json.loads(fh.read())
            count += 1
    else:
        with open(path, "rb") as fh:
            for line in fh:
                json.loads(line)
                count += 1
    return count


def judge(path: Path, targets):
    return survey(read_hostfiles([str(path)]), targets)


def timed(function, *args) -> float:
    gc.collect()
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


def peak_mib(function, *args) -> float:
    gc.collect()
    tracemalloc.start()
    function(*args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--torch", default="2.4.1+cu121")
    args = parser.parse_args()
    targets = collect_targets(torch=[args.torch])
    with tempfile.TemporaryDirectory() as tmp:
        lines, files = write_fleet(Path(tmp), args.hosts)
        small_dir = Path(tmp) / "small"
        small_dir.mkdir()
        small_lines, _ = write_fleet(small_dir, max(args.hosts // 10, 1))
        report = judge(lines, targets)  # warm-up (also loads the knowledge base's files into the OS cache)
        parse_only(lines)
        summary = report.summary()
        print(
            f"{args.hosts} synthetic hosts, target torch {args.torch}; python {sys.version.split()[0]},"
            f" {os.cpu_count()} CPUs"
        )
        print(
            f"  verdicts: {summary['pass']} pass, {summary['warn']} warn, {summary['fail']} fail; "
            f"{summary['shapes']} distinct shapes judged by doctor"
        )
        for label, path in (("JSON Lines file", lines), ("directory of files", files)):
            parse_times, fleet_times = [], []
            for _ in range(args.runs):
                parse_times.append(timed(parse_only, path))
                fleet_times.append(timed(judge, path, targets))
            parse, fleet = statistics.median(parse_times), statistics.median(fleet_times)
            print(
                f"  {label:<20} parse {parse:6.3f} s   fleet {fleet:6.3f} s   ratio {fleet / parse:5.2f}x (goal <= 10x)"
            )
        big, small = peak_mib(judge, lines, targets), peak_mib(judge, small_lines, targets)
        parse_peak = peak_mib(parse_only, lines)
        print(
            f"  peak traced memory: fleet {big:.1f} MiB at {args.hosts} hosts, {small:.1f} MiB "
            f"at {max(args.hosts // 10, 1)} hosts; "
            f"parse alone {parse_peak:.1f} MiB; JSON Lines file {lines.stat().st_size / 2**20:.1f} MiB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
