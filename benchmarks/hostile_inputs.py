"""Hostile inputs through the real command line (issue 17): each "bomb" is generated in a
temporary directory (as ../shared/fuzz/repro-cli.sh makes them, plus their wider cousins), run
as a `preflight` child process, and measured: wall time, the child's peak RSS (os.wait4's
rusage, so only that process is counted) and its exit code.

The goal per case: done within 2 s and 256 MiB, with an exit code of 0, 1 or 2 (a usable input
judged, or an unusable one refused with one line). Exit 3, a traceback on stderr, a timeout or
more time or memory is a MISS. Nothing is asserted: the table is the result.

    python benchmarks/hostile_inputs.py [--only SUBSTRING] [--timeout 60] [--keep DIR] [--preflight CMD]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

GOAL_SECONDS = 2.0
GOAL_MIB = 256
ROOT = Path(__file__).resolve().parents[1]
QWEN_CONFIG = ROOT.parent / "shared" / "fixtures" / "models" / "qwen2-1.5b-shape" / "config.json"
FALLBACK_CONFIG = {  # VibeThinker-1.5B's shape, when the shared fixture is absent
    "model_type": "qwen2",
    "hidden_size": 1536,
    "num_attention_heads": 12,
    "num_key_value_heads": 2,
    "num_hidden_layers": 28,
    "intermediate_size": 8960,
    "vocab_size": 151936,
    "max_position_embeddings": 131072,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
}


@dataclass
class Case:
    name: str
    make: Callable[[Path], None]  # writes the input files into the work directory
    args: list[str]  # preflight's arguments, relative to the work directory


def _write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def _config() -> dict:
    return json.loads(QWEN_CONFIG.read_text()) if QWEN_CONFIG.is_file() else dict(FALLBACK_CONFIG)


def _safetensors(path: Path, header_bytes: int) -> None:
    """A checkpoint whose JSON header is about ``header_bytes`` long, every tensor consistent."""
    entry = b'{"dtype":"F32","shape":[1],"data_offsets":[0,4]}'
    count = header_bytes // (len(entry) + 12)
    header = b"{" + b",".join(b'"t%d":%s' % (i, entry) for i in range(count)) + b"}"
    _write(path, struct.pack("<Q", len(header)) + header + b"\0" * 4)


def _model(directory: Path, change: dict | None = None, header_bytes: int = 0) -> None:
    _write(directory / "config.json", json.dumps({**_config(), **(change or {})}))
    if header_bytes:
        _safetensors(directory / "model.safetensors", header_bytes)


def _fifo_include(work: Path) -> None:
    os.mkfifo(work / "pipe")
    _write(work / "fifo-req.txt", "-r pipe\n")


SAMPLE = {"schema": "gpu-preflight/sample/v1", "time": "t", "gpus": [{"index": 0, "name": "T4"}]}
WIDE = 3_000_000  # elements of the wide JSON documents (about 9-20 MB each)

CASES = [
    # Dockerfiles
    Case(
        "dockerfile 1 MB word",
        lambda w: _write(w / "Dockerfile.word", "FROM ubuntu\nRUN pip install " + "x" * 1_000_000 + "\n"),
        ["doctor", "--dockerfile", "Dockerfile.word"],
    ),
    Case(
        "dockerfile 500k words",
        lambda w: _write(w / "Dockerfile.words", "FROM ubuntu\nRUN pip install " + "x " * 500_000 + "\n"),
        ["doctor", "--dockerfile", "Dockerfile.words"],
    ),
    Case(
        "dockerfile 250k quoted words",
        lambda w: _write(w / "Dockerfile.quoted", "FROM ubuntu\nRUN pip install " + "'a' " * 250_000 + "\n"),
        ["doctor", "--dockerfile", "Dockerfile.quoted"],
    ),
    Case(
        "dockerfile ARG bomb",
        lambda w: _write(
            w / "Dockerfile.bomb",
            "ARG A0=xxxxxxxxxx\n"
            + "".join(f"ARG A{i}=${{A{i - 1}}}${{A{i - 1}}}\n" for i in range(1, 40))
            + "FROM ubuntu\n",
        ),
        ["doctor", "--dockerfile", "Dockerfile.bomb"],
    ),
    Case(
        "dockerfile 80k ARG lines",
        lambda w: _write(w / "Dockerfile.args", "FROM ubuntu\n" + "".join(f"ARG A{i}=1\n" for i in range(80_000))),
        ["doctor", "--dockerfile", "Dockerfile.args"],
    ),
    Case(
        "dockerfile 50k FROM stages",
        lambda w: _write(w / "Dockerfile.froms", "".join(f"FROM u AS s{i}\n" for i in range(50_000))),
        ["doctor", "--dockerfile", "Dockerfile.froms"],
    ),
    Case(
        "dockerfile 40k chained stages",
        lambda w: _write(
            w / "Dockerfile.chain",
            "FROM ubuntu AS a\n"
            + "".join(f"FROM {'ab'[(i + 1) % 2]} AS {'ab'[i % 2]}\nENV E{i}=1\n" for i in range(1, 40_000)),
        ),
        ["doctor", "--dockerfile", "Dockerfile.chain"],
    ),
    Case(
        "dockerfile RUN [[[ 100k deep",
        lambda w: _write(w / "Dockerfile.deep", "FROM ubuntu\nRUN " + "[" * 100_000 + "]" * 100_000 + "\n"),
        ["doctor", "--dockerfile", "Dockerfile.deep"],
    ),
    Case(
        "dockerfile torch==9{5000}",
        lambda w: _write(w / "Dockerfile.num", f"FROM ubuntu\nRUN pip install torch=={'9' * 5000}\n"),
        ["doctor", "--dockerfile", "Dockerfile.num"],
    ),
    # requirements
    Case(
        "requirements torch==9{5000}",
        lambda w: _write(w / "req.txt", f"torch=={'9' * 5000}\n"),
        ["doctor", "--requirements", "req.txt"],
    ),
    Case(
        "requirements -r /etc/shadow",
        lambda w: _write(w / "shadow-req.txt", "-r /etc/shadow\n"),
        ["doctor", "--requirements", "shadow-req.txt"],
    ),
    Case("requirements -r FIFO", _fifo_include, ["doctor", "--requirements", "fifo-req.txt"]),
    # explain
    Case(
        "explain 30 MiB of \\n",
        lambda w: _write(w / "newlines.log", b"\n" * (30 << 20)),
        ["explain", "newlines.log"],
    ),
    Case("explain 5 MB of \\r", lambda w: _write(w / "cr.log", b"\r" * (5 << 20)), ["explain", "cr.log"]),
    Case(
        "explain 30 MiB of 2-char lines",
        lambda w: _write(w / "short.log", b"ab\n" * (10 << 20)),
        ["explain", "short.log"],
    ),
    Case(
        "explain 30 MiB of \\f",
        lambda w: _write(w / "formfeed.log", b"\x0c" * (30 << 20)),
        ["explain", "formfeed.log"],
    ),
    Case(
        "explain 30 MiB one line",
        lambda w: _write(w / "oneline.log", b"x" * (30 << 20)),
        ["explain", "oneline.log"],
    ),
    Case(
        "explain 32 MB of signature words",
        lambda w: _write(w / "dense.log", b"cuda error out of memory driver " * (1 << 20)),
        ["explain", "dense.log"],
    ),
    Case(
        "explain 20k distinct stack lines, no cause",  # the guess by wording compares them
        lambda w: _write(
            w / "stack.log",
            "".join(
                f"cuda w{i} gpu d{i} driver k{i} device memory m{i} tensor t{i} capability\n" for i in range(20_000)
            ),
        ),
        ["explain", "stack.log"],
    ),
    # monitor
    Case(
        "monitor CSV 20k distinct GPUs",
        lambda w: _write(
            w / "uniq.csv", "index, utilization.gpu [%]\n" + "".join(f"{i}, 50 %\n" for i in range(20_000))
        ),
        ["monitor", "--replay", "uniq.csv", "--count", "1"],
    ),
    Case(
        "monitor JSONL 100k deep",
        lambda w: _write(
            w / "deep.jsonl",
            '{"schema":"gpu-preflight/sample/v1","x":' + "[" * 100_000 + "]" * 100_000 + "}\n",
        ),
        ["monitor", "--replay", "deep.jsonl"],
    ),
    Case(
        "monitor JSONL wide array",
        lambda w: _write(w / "wide.jsonl", json.dumps({**SAMPLE, "x": [0] * WIDE}) + "\n"),
        ["monitor", "--replay", "wide.jsonl"],
    ),
    # wide and odd JSON
    Case(
        "snapshot 9{5000}",
        lambda w: _write(w / "big.json", "1" * 5000 + "\n"),
        ["doctor", "--snapshot", "big.json"],
    ),
    Case(
        "snapshot wide gpus list",
        lambda w: _write(
            w / "wide-snapshot.json", '{"schema":"gpu-preflight/host/v1","gpus":[' + ",".join(["{}"] * WIDE) + "]}"
        ),
        ["doctor", "--snapshot", "wide-snapshot.json"],
    ),
    Case(
        "snapshot wide array",
        lambda w: _write(
            w / "wide-array.json", '{"schema":"gpu-preflight/host/v1","x":[' + ",".join(["0"] * WIDE) + "]}"
        ),
        ["doctor", "--snapshot", "wide-array.json"],
    ),
    Case(
        "fleet wide JSON list",
        lambda w: _write(w / "fleet.json", "[" + ",".join(["{}"] * WIDE) + "]"),
        ["fleet", "fleet.json"],
    ),
    Case(
        "k8s-nodes wide NodeList",
        lambda w: _write(w / "nodes.json", '{"kind":"NodeList","items":[' + ",".join(["{}"] * WIDE) + "]}"),
        ["fleet", "--k8s-nodes", "nodes.json"],
    ),
    Case(
        "k8s-nodes gpu.count=9{5000}",
        lambda w: _write(w / "labels.txt", f"nvidia.com/gpu.product=Tesla-T4\nnvidia.com/gpu.count={'9' * 5000}\n"),
        ["fleet", "--k8s-nodes", "labels.txt"],
    ),
    Case(
        "nvidia-smi XML 100k <gpu>",
        lambda w: _write(
            w / "many.xml",
            "<?xml version='1.0'?><nvidia_smi_log><driver_version>550.54.15</driver_version>"
            "<cuda_version>12.4</cuda_version>"
            + "".join(f'<gpu id="{i:08X}"><product_name>Tesla T4</product_name></gpu>' for i in range(100_000))
            + "</nvidia_smi_log>",
        ),
        ["doctor", "--nvidia-smi-xml", "many.xml"],
    ),
    # fit
    Case(
        "fit safetensors 99 MB header",
        lambda w: _model(w / "bighead", header_bytes=99_000_000),
        ["fit", "bighead", "--assume-gpu", "Tesla T4:16GiB"],
    ),
    Case(
        "fit safetensors 7 MB header",
        lambda w: _model(w / "head7", header_bytes=7_000_000),
        ["fit", "head7", "--assume-gpu", "Tesla T4:16GiB"],
    ),
    Case(
        "fit quantization bits: [4]",
        lambda w: _model(w / "m1", {"quantization_config": {"quant_method": "gptq", "bits": [4]}}),
        ["fit", "m1"],
    ),
    Case(
        "fit hidden_size < heads",
        lambda w: _model(w / "m2", {"hidden_size": 1, "num_attention_heads": 2, "num_key_value_heads": 2}),
        ["fit", "m2", "--assume-gpu", "Tesla T4:16GiB"],
    ),
    Case(
        "fit safetensors dtype [F32]",
        lambda w: (
            _model(w / "m3"),
            _write(
                w / "m3" / "model.safetensors",
                (lambda h: struct.pack("<Q", len(h)) + h + b"\0" * 4)(
                    b'{"w":{"dtype":["F32"],"shape":[1],"data_offsets":[0,4]}}'
                ),
            ),
        ),
        ["fit", "m3"],
    ),
    Case(
        "fit --snapshot memory -5 MiB",
        lambda w: _write(
            w / "neg.json",
            '{"driver":{"version":"550.54.15","cuda":"12.4"},"gpus":[{"index":0,"name":"Tesla T4",'
            '"compute_capability":"7.5","memory_total_mib":-5}]}',
        ),
        ["fit", "VibeThinker-1.5B", "--snapshot", "neg.json"],
    ),
]


def _make_apart(case: Case, work: Path) -> None:
    """Write a case's inputs in a forked child: a child forked from this process starts with its
    RSS, so building a 99 MB input here would show up in every later case's peak."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            case.make(work)
        except BaseException:  # noqa: BLE001 - reported by the exit code
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"could not generate the input of {case.name!r}")


COMMAND: list[str] = []  # --preflight: another command line to measure (an older checkout)


def _preflight() -> list[str]:
    if COMMAND:
        return COMMAND
    beside = Path(sys.executable).with_name("preflight")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("preflight")
    return [found] if found else [sys.executable, "-m", "gpu_preflight"]


MEMORY_CAP_MIB = [4096]


def _limit_memory() -> None:
    cap = MEMORY_CAP_MIB[0] << 20
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def run_case(case: Case, work: Path, timeout: float) -> tuple[float, float, int | None, str]:
    """(wall seconds, peak RSS MiB, exit code or None on timeout, first stderr line)."""
    err_path = work / f".stderr-{os.getpid()}"
    with open(err_path, "wb") as err:
        started = time.perf_counter()
        child = subprocess.Popen(
            _preflight() + case.args,
            cwd=work,
            stdout=subprocess.DEVNULL,
            stderr=err,
            stdin=subprocess.DEVNULL,
            preexec_fn=_limit_memory,  # a runaway case must not take the machine down with it
        )
        code: int | None = None
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                code = os.waitstatus_to_exitcode(status)
                break
            if time.perf_counter() - started > timeout:
                child.send_signal(signal.SIGKILL)
                _, status, usage = os.wait4(child.pid, 0)
                break
            time.sleep(0.005)
        wall = time.perf_counter() - started
        child.returncode = -9 if code is None else code  # reaped here: keep Popen from waiting again
    stderr = err_path.read_text(errors="replace")
    err_path.unlink()
    if "Traceback" in stderr:
        first = "TRACEBACK: " + stderr.strip().splitlines()[-1]
    else:
        first = stderr.strip().splitlines()[0] if stderr.strip() else ""
    return wall, usage.ru_maxrss / 1024, code, first  # ru_maxrss is in KiB on Linux


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="run only the cases whose name contains this text")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before a case is killed (a MISS)")
    parser.add_argument("--keep", help="generate the inputs in this directory and keep them")
    parser.add_argument(
        "--preflight",
        help="the command to measure instead of this checkout's preflight, e.g. "
        "'env PYTHONPATH=/tmp/before/src python -m gpu_preflight' for a before/after table",
    )
    parser.add_argument("--memory-cap", type=int, default=4096, help="address-space cap of each case, MiB")
    args = parser.parse_args()
    MEMORY_CAP_MIB[0] = args.memory_cap
    COMMAND[:] = shlex.split(args.preflight) if args.preflight else []
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="preflight-hostile-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"preflight: {' '.join(_preflight())}; {os.cpu_count()} CPUs; goal <= {GOAL_SECONDS:g} s, <= {GOAL_MIB} MiB")
    print(f"{'case':34} {'wall s':>7} {'peak MiB':>9} {'exit':>5}  {'goal':4}  first line of stderr")
    misses = 0
    try:
        for case in CASES:
            if args.only.lower() not in case.name.lower():
                continue
            _make_apart(case, work)
            wall, mib, code, first = run_case(case, work, args.timeout)
            ok = code in (0, 1, 2) and wall <= GOAL_SECONDS and mib <= GOAL_MIB and not first.startswith("TRACEBACK")
            misses += not ok
            shown = "timeout" if code is None else str(code)
            print(f"{case.name:34} {wall:7.2f} {mib:9.0f} {shown:>5}  {'PASS' if ok else 'MISS'}  {first[:110]}")
            sys.stdout.flush()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{misses} MISS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
