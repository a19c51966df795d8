"""`preflight serve` under many clients at once, side by side with its peers on the same model.

For each local random model (built here, no download: the tests' tiny Qwen2 and a Qwen2 of hidden
512 / 8 layers), in one run, on the same CPU threads:
  model.generate   one stream in this process: the floor a server's single client is held to;
  preflight        `preflight serve` (continuous batching);
  hf-serve         `transformers serve` (the peer);
  hf-serve-cb      `transformers serve --continuous-batching` (skipped, with the reason, if it cannot start).
Each server gets 1, 8 and 32 concurrent clients (the official `openai` client, one thread each,
streaming, fixed prompts, greedy, ignore_eos, 128 new tokens): aggregate tokens/s, time to first
token p50/p95, request latency p95, errors, peak RSS of the server, and seconds from start to its
first answer. Then the ratios the issue sets goals for (issue 18):
  8 clients >= 4x one client (tiny), >= 2.5x (medium); >= hf-serve-cb at 8 and 32 clients;
  p95 latency at 32 clients <= hf-serve-cb's; RSS <= half of hf-serve-cb's; one client >= 0.90 of generate.

    python benchmarks/serve_throughput.py [--quick] [--models tiny,medium] [--clients 1,8,32]
        [--tokens 128] [--requests 2] [--threads 1] [--peers generate,preflight,hf-serve,hf-serve-cb] [--json F]

--quick: the tiny model, 1 and 8 clients, 32 tokens, one request per client (a design check on
a busy machine, not a result).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from support.serving import free_port  # noqa: E402
from support.tiny_model import build_tiny_model  # noqa: E402

MODELS: dict[str, dict[str, int]] = {
    "tiny": {},  # tests/support/tiny_model.py's defaults: 2 layers, hidden 64
    "medium": {"layers": 8, "hidden": 512, "heads": 8, "kv_heads": 2, "intermediate": 1536, "max_positions": 1024},
}
PROMPTS = [
    "Write a function that adds two numbers, step by step.",
    "hello world, the quick brown fox jumps over the lazy dog.",
    "You are a programming assistant. Solve the following problem step by step:",
    "def add(a, b): return a + b  # explain this",
]
START_TIMEOUT_S = 300


@dataclass
class Load:
    clients: int
    tokens_per_s: float
    ttft: list[float] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)
    errors: int = 0
    completion_tokens: int = 0
    text_events: int = (
        0  # streamed events that carried text: a server that sends the text in few events costs its clients less
    )
    first_error: str | None = None

    def row(self) -> dict[str, Any]:
        return {
            "clients": self.clients,
            "tokens_per_s": round(self.tokens_per_s, 1),
            "ttft_p50_s": _pct(self.ttft, 50),
            "ttft_p95_s": _pct(self.ttft, 95),
            "latency_p95_s": _pct(self.latency, 95),
            "errors": self.errors,
            "completion_tokens": self.completion_tokens,
            "text_events": self.text_events,
            "first_error": self.first_error,
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny model, 1 and 8 clients, 32 tokens, 1 request each")
    parser.add_argument("--models", help="comma-separated: tiny, medium (default both)")
    parser.add_argument("--clients", help="comma-separated client counts (default 1,8,32)")
    parser.add_argument("--tokens", type=int, help="new tokens per request (default 128)")
    parser.add_argument("--requests", type=int, help="requests per client per load (default 2)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for every engine (default 1)")
    parser.add_argument("--peers", default="generate,preflight,hf-serve,hf-serve-cb", help="which to run")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON to FILE")
    parser.add_argument(
        "--peer-path",
        metavar="DIR",
        help="put DIR first on the peers' PYTHONPATH only (`transformers serve` on the CPU needs accelerate: "
        "pip install --target DIR accelerate psutil, without touching this environment)",
    )
    args = parser.parse_args()
    models = (args.models or ("tiny" if args.quick else "tiny,medium")).split(",")
    clients = [int(c) for c in (args.clients or ("1,8" if args.quick else "1,8,32")).split(",")]
    tokens = args.tokens or (32 if args.quick else 128)
    requests = args.requests or (1 if args.quick else 2)
    peers = args.peers.split(",")
    unknown = [m for m in models if m not in MODELS]
    if unknown or not clients or min(clients) < 1:
        print(f"serve_throughput: unknown model {unknown} or bad --clients", file=sys.stderr)
        return 2

    workdir = Path(tempfile.mkdtemp(prefix="serve-throughput-"))
    results: dict[str, Any] = {
        "conditions": {
            "threads": args.threads,
            "tokens": tokens,
            "requests_per_client": requests,
            "cpus_usable": len(os.sched_getaffinity(0)),
            "load_average_at_start": os.getloadavg(),
        },
        "models": {},
    }
    for name in models:
        directory = build_tiny_model(workdir / name, **MODELS[name])
        print(f"\n== {name} model ({MODELS[name] or 'tests defaults'}), {tokens} tokens, {args.threads} thread(s)")
        results["models"][name] = run_model(
            directory, peers, clients, tokens, requests, args.threads, workdir, args.peer_path
        )
    results["conditions"]["load_average_at_end"] = os.getloadavg()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


def run_model(
    directory: Path,
    peers: list[str],
    clients: list[int],
    tokens: int,
    requests: int,
    threads: int,
    workdir: Path,
    peer_path: str | None,
) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    if "generate" in peers:
        figures["generate"] = {
            "loads": [{"clients": 1, "tokens_per_s": round(generate_floor(directory, tokens, threads), 1)}]
        }
        print(f"  {'model.generate':14} 1 stream     {figures['generate']['loads'][0]['tokens_per_s']:9.1f} tok/s")
    for peer in ("preflight", "hf-serve", "hf-serve-cb"):
        if peer not in peers:
            continue
        figures[peer] = run_server(peer, directory, clients, tokens, requests, threads, workdir, peer_path)
    print_ratios(figures, directory.name)
    return figures


def generate_floor(directory: Path, tokens: int, threads: int) -> float:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32).eval()
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": PROMPTS[0]}], tokenize=False, add_generation_prompt=True
    )
    ids = torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"]])
    rates = []
    for _ in range(3):
        start = time.perf_counter()
        with torch.inference_mode():
            model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=tokens,
                min_new_tokens=tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )
        rates.append(tokens / (time.perf_counter() - start))
    return statistics.median(rates[1:])  # the first includes one-time allocations


def run_server(
    peer: str,
    directory: Path,
    clients: list[int],
    tokens: int,
    requests: int,
    threads: int,
    workdir: Path,
    peer_path: str | None = None,
) -> dict[str, Any]:
    port = free_port()
    first = [str(ROOT / "src")] if peer == "preflight" else [peer_path] if peer_path else []
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [*first, os.environ.get("PYTHONPATH")])),
        HF_HUB_OFFLINE="1",
        OMP_NUM_THREADS=str(threads),
    )
    if peer == "preflight":
        command = [sys.executable, "-m", "gpu_preflight", "serve", str(directory), "--device", "cpu"]
        command += ["--dtype", "float32", "--no-preflight", "--threads", str(threads), "--max-queue", "64"]
        model_name = directory.name
    else:
        command = [sys.executable, "-m", "transformers.cli.transformers", "serve", str(directory), "--device", "cpu"]
        command += ["--dtype", "float32", "--log-level", "warning"]
        command += ["--continuous-batching"] if peer == "hf-serve-cb" else []
        model_name = str(directory)
    command += ["--port", str(port)]
    log_path = workdir / f"{peer}-{directory.name}.log"
    started = time.perf_counter()
    with log_path.open("w") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        first_answer = wait_for_answer(url, model_name, server, started)
        if first_answer is None:
            reason = (log_path.read_text(errors="replace").strip().splitlines() or ["no output"])[-1][:200]
            print(f"  {peer:14} skipped: it did not answer within {START_TIMEOUT_S} s or exited ({reason})")
            return {"skipped": reason}
        # The peer refuses fields it does not know (422): its way to ignore EOS is a per-request generation config.
        extra: dict[str, Any] = (
            {"ignore_eos": True}
            if peer == "preflight"
            else {"generation_config": json.dumps({"min_new_tokens": tokens, "max_new_tokens": tokens})}
        )
        drive(url, model_name, 1, tokens, 1, extra)  # warm-up, untimed: first-call allocations at full length
        loads = []
        for count in clients:
            load = drive(url, model_name, count, tokens, requests, extra)
            loads.append(load.row())
            row = load.row()
            print(
                f"  {peer:14} {count:2} client(s) {row['tokens_per_s']:9.1f} tok/s  TTFT p50 {row['ttft_p50_s']} "
                f"p95 {row['ttft_p95_s']} s  latency p95 {row['latency_p95_s']} s  text events {row['text_events']}  "
                f"errors {row['errors']}" + (f" (first: {load.first_error})" if load.first_error else "")
            )
        rss = peak_rss_mib(server.pid)
        print(f"  {peer:14} peak RSS {rss} MiB; start to first answer {first_answer:.1f} s")
        return {"loads": loads, "peak_rss_mib": rss, "start_to_first_answer_s": round(first_answer, 1)}
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()


def wait_for_answer(url: str, model: str, server: subprocess.Popen[bytes], started: float) -> float | None:
    import openai

    client = openai.OpenAI(base_url=url, api_key="none", max_retries=0, timeout=30)
    while time.perf_counter() - started < START_TIMEOUT_S:
        if server.poll() is not None:
            return None
        try:
            client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "hi"}], max_tokens=2, temperature=0
            )
            return time.perf_counter() - started
        except (openai.APIConnectionError, openai.APIStatusError):
            time.sleep(0.2)
    return None


def drive(url: str, model: str, clients: int, tokens: int, requests: int, extra: dict[str, Any]) -> Load:
    import openai

    load = Load(clients, 0.0)
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def client_thread(index: int) -> None:
        client = openai.OpenAI(base_url=url, api_key="none", max_retries=0, timeout=600)
        barrier.wait()
        for turn in range(requests):
            prompt = PROMPTS[(index + turn) % len(PROMPTS)]
            start, first, produced = time.perf_counter(), None, 0
            try:
                stream = client.chat.completions.create(
                    model=model,
                    messages=[{"role": "user", "content": prompt}],
                    max_tokens=tokens,
                    temperature=0,
                    stream=True,
                    stream_options={"include_usage": True},
                    extra_body=extra,
                )
                usage = None
                chunks = 0
                for chunk in stream:
                    if chunk.usage is not None:
                        usage = chunk.usage.completion_tokens
                    if chunk.choices and _has_text(chunk.choices[0].delta):
                        chunks += 1
                        if first is None:
                            first = time.perf_counter()
                produced = usage if usage is not None else chunks
            except Exception as exc:  # noqa: BLE001 - counted: an error is a result here
                with lock:
                    load.errors += 1
                    load.first_error = load.first_error or f"{type(exc).__name__}: {str(exc)[:160]}"
                continue
            end = time.perf_counter()
            with lock:
                load.completion_tokens += produced
                load.text_events += chunks
                load.latency.append(end - start)
                if first is not None:
                    load.ttft.append(first - start)

    threads = [threading.Thread(target=client_thread, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    load.tokens_per_s = load.completion_tokens / (time.perf_counter() - started)
    return load


def _has_text(delta: Any) -> bool:
    return bool(getattr(delta, "content", None) or getattr(delta, "reasoning_content", None))


def peak_rss_mib(pid: int) -> int | None:
    """The server's peak resident memory (VmHWM), its child processes' added."""
    total, found = 0, False
    for candidate in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{candidate}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
                    found = True
        except OSError:
            continue
    return total // 1024 if found else None


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def print_ratios(figures: dict[str, Any], model: str) -> None:
    def rate(peer: str, clients: int) -> float | None:
        for row in figures.get(peer, {}).get("loads", []):
            if row["clients"] == clients:
                return float(row["tokens_per_s"])
        return None

    def field_at(peer: str, clients: int, key: str) -> float | None:
        for row in figures.get(peer, {}).get("loads", []):
            if row["clients"] == clients:
                return row.get(key)
        return None

    def ratio(a: float | None, b: float | None) -> str:
        return f"{a / b:.2f}" if a is not None and b else "n/a"

    rss = {p: figures.get(p, {}).get("peak_rss_mib") for p in ("preflight", "hf-serve-cb")}
    p95 = {p: field_at(p, 32, "latency_p95_s") for p in ("preflight", "hf-serve-cb")}
    rows = [
        ("preflight 1 client / model.generate", rate("preflight", 1), rate("generate", 1), ">= 0.90"),
        ("preflight 8 clients / 1 client", rate("preflight", 8), rate("preflight", 1), ">= 4 tiny, 2.5 medium"),
        ("preflight 32 clients / 1 client", rate("preflight", 32), rate("preflight", 1), ""),
        ("preflight / hf-serve-cb, 8 clients", rate("preflight", 8), rate("hf-serve-cb", 8), ">= 1"),
        ("preflight / hf-serve-cb, 32 clients", rate("preflight", 32), rate("hf-serve-cb", 32), ">= 1"),
        ("preflight / hf-serve, 8 clients", rate("preflight", 8), rate("hf-serve", 8), ""),
        ("preflight / hf-serve, 32 clients", rate("preflight", 32), rate("hf-serve", 32), ""),
        ("latency p95 at 32, preflight / hf-serve-cb", p95["preflight"], p95["hf-serve-cb"], "<= 1"),
        ("peak RSS, preflight / hf-serve-cb", rss["preflight"], rss["hf-serve-cb"], "<= 0.5"),
    ]
    print(f"  ratios ({model}):")
    for label, a, b, goal in rows:
        print(f"    {label:44} {ratio(a, b):>6}  {('goal ' + goal) if goal else ''}")


def _pct(values: list[float], q: int) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))], 3)


if __name__ == "__main__":
    sys.exit(main())
