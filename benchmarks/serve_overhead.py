"""`preflight serve` overhead: the built-in server's tokens/s against calling model.generate
directly, on the same model, prompt, dtype, device and token counts, measured side by side.

Builds a random Qwen2 chat model locally (tests/support/tiny_model.py; no download), starts
`preflight serve` on a free loopback port, and alternates, round by round:
  direct:    model.generate(prompt, exactly N new tokens, greedy) in this process;
  server:    one client, POST /v1/chat/completions (temperature 0, max_tokens N, ignore_eos),
             timed by the client from request to last byte (HTTP, queue, detokenising included);
  streamed:  the same request with stream: true, to the last event.
Then 8 clients at once (each its own connection, R requests each) for aggregate tokens/s.
Goal (issue 8): server / direct >= 0.90 for one client (at most 10% overhead).

    python benchmarks/serve_overhead.py [--tokens 128] [--rounds 7] [--layers 2 --hidden 64]
                                        [--device cpu|cuda] [--dtype float32] [--model DIR] [--gate]
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from support.serving import free_port  # noqa: E402
from support.tiny_model import build_tiny_model  # noqa: E402

PROMPT = [{"role": "user", "content": "Write a function that adds two numbers, step by step."}]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=128, help="new tokens per request (default 128)")
    parser.add_argument("--rounds", type=int, default=7, help="alternating direct/server rounds (default 7)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients for the throughput run (default 8)")
    parser.add_argument(
        "--concurrent-rounds", type=int, help="requests per concurrent client (default: rounds / 2, at least 2)"
    )
    parser.add_argument("--model", type=Path, help="serve this model directory instead of building a tiny one")
    parser.add_argument(
        "--gate",
        action="store_true",
        help="let the server run its preflight gate (default: --no-preflight, to time serving alone)",
    )
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON to FILE")
    args = parser.parse_args()

    import httpx
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    workdir = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    model_dir = args.model or build_tiny_model(
        workdir / "bench-qwen2",
        layers=args.layers,
        hidden=args.hidden,
        heads=4,
        kv_heads=2,
        intermediate=args.hidden * 2,
        max_positions=max(512, args.tokens + 128),
    )
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=getattr(torch, args.dtype)).to(args.device).eval()
    text = tokenizer.apply_chat_template(PROMPT, tokenize=False, add_generation_prompt=True)
    prompt = torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"]], device=args.device)
    config = GenerationConfig(
        max_new_tokens=args.tokens,
        min_new_tokens=args.tokens,
        do_sample=False,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )

    def direct() -> float:
        start = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt), generation_config=config)
        if args.device == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
        assert out.shape[1] - prompt.shape[1] == args.tokens
        return args.tokens / elapsed

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
        HF_HUB_OFFLINE="1",
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gpu_preflight",
            "serve",
            str(model_dir),
            "--port",
            str(port),
            "--device",
            args.device,
            "--dtype",
            args.dtype,
            "--max-queue",
            str(args.clients * 2),
            *([] if args.gate else ["--no-preflight"]),
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(workdir / "serve.log", "w"),
        env=env,
    )
    body = {
        "model": model_dir.name,
        "messages": PROMPT,
        "max_tokens": args.tokens,
        "temperature": 0,
        "ignore_eos": True,
    }
    try:
        _wait_ready(url, server, workdir / "serve.log")
        with httpx.Client(timeout=300) as http:

            def served(stream: bool = False) -> float:
                start = time.perf_counter()
                if stream:
                    with http.stream(
                        "POST",
                        f"{url}/v1/chat/completions",
                        json={**body, "stream": True, "stream_options": {"include_usage": True}},
                    ) as response:
                        events = [line for line in response.iter_lines() if line.startswith("data: ")]
                    usage = json.loads(events[-2][6:])["usage"]
                else:
                    usage = http.post(f"{url}/v1/chat/completions", json=body).json()["usage"]
                elapsed = time.perf_counter() - start
                assert usage["completion_tokens"] == args.tokens and usage["prompt_tokens"] == prompt.shape[1], usage
                return args.tokens / elapsed

            direct(), served(), served(True)  # warm-up: first-call allocations, connection set-up
            runs: dict[str, list[float]] = {"direct": [], "server": [], "streamed": []}
            for _ in range(args.rounds):
                runs["direct"].append(direct())
                runs["server"].append(served())
                runs["streamed"].append(served(True))
        settings = httpx.get(f"{url}/preflight").json()["serve"]["settings"]
        concurrent = _concurrent(
            url, body, args.clients, rounds=args.concurrent_rounds or max(2, args.rounds // 2), tokens=args.tokens
        )
    finally:
        server.terminate()
        server.wait(30)

    median = {name: statistics.median(values) for name, values in runs.items()}
    name = str(args.model) if args.model else f"random Qwen2, {args.layers} layers, hidden {args.hidden}"
    figures = {
        "model": f"{name}, {args.dtype} on {args.device}"
        + (f" ({torch.cuda.get_device_name(0)})" if args.device == "cuda" else ""),
        "server_settings": {key: settings[key] for key in ("device", "dtype", "max_context", "memory_share")},
        "torch_threads": torch.get_num_threads(),
        "prompt_tokens": prompt.shape[1],
        "new_tokens": args.tokens,
        "rounds": args.rounds,
        "direct_tokens_per_s": round(median["direct"], 1),
        "server_tokens_per_s": round(median["server"], 1),
        "streamed_tokens_per_s": round(median["streamed"], 1),
        "server_over_direct": round(median["server"] / median["direct"], 3),
        "streamed_over_direct": round(median["streamed"] / median["direct"], 3),
        "clients": args.clients,
        "concurrent_tokens_per_s": round(concurrent, 1),
        "concurrent_over_one_client": round(concurrent / median["server"], 3),
    }
    print(
        f"model: {figures['model']} ({figures['torch_threads']} torch threads); prompt {figures['prompt_tokens']} "
        f"tokens, {args.tokens} new tokens per request, median of {args.rounds} alternating rounds"
    )
    print(f"  model.generate directly     {figures['direct_tokens_per_s']:8.1f} tokens/s")
    print(
        f"  server, one client          {figures['server_tokens_per_s']:8.1f} tokens/s   server/direct  "
        f" {figures['server_over_direct']:.3f}  (goal >= 0.90)"
    )
    print(
        f"  server, one client, stream  {figures['streamed_tokens_per_s']:8.1f} tokens/s   "
        f"streamed/direct {figures['streamed_over_direct']:.3f}"
    )
    print(
        f"  server, {args.clients} clients at once   {figures['concurrent_tokens_per_s']:8.1f} tokens/s   "
        f"total/one-client {figures['concurrent_over_one_client']:.3f}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def _wait_ready(url: str, server: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"serve exited with {server.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"serve not ready within {timeout} s:\n{log.read_text()}")


def _concurrent(url: str, body: dict, clients: int, rounds: int, tokens: int) -> float:
    """Aggregate tokens/s of ``clients`` threads, each sending ``rounds`` requests back to back."""
    import httpx

    done: list[int] = []
    barrier = threading.Barrier(clients + 1)

    def client() -> None:
        with httpx.Client(timeout=600) as http:
            barrier.wait()
            for _ in range(rounds):
                done.append(http.post(f"{url}/v1/chat/completions", json=body).json()["usage"]["completion_tokens"])

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    assert sum(done) == clients * rounds * tokens, done
    return sum(done) / elapsed


if __name__ == "__main__":
    sys.exit(main())
