"""Helpers for the serve tests: a free loopback port, the app in a uvicorn thread, `preflight
serve` as a real process, and a fake engine whose every step the test controls (no torch)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from gpu_preflight.serve.jobs import Outcome

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running(app, port: int):
    """The app on 127.0.0.1:port in a thread (uvicorn leaves signals alone off the main thread)."""
    import uvicorn

    from gpu_preflight.serve.connection import HalfCloseProtocol

    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", http=HalfCloseProtocol
    )  # the connection handling `preflight serve` runs with
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the test server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


class ServeProcess:
    """``python -m gpu_preflight serve ...`` on a free loopback port, its log in a file."""

    def __init__(self, model: Path, *flags: str, log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), NO_COLOR="1", HF_HUB_OFFLINE="1")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gpu_preflight", "serve", str(model), "--port", str(self.port), *flags],
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            env=env,
        )
        self.ready_statuses: list[int] = []  # /ready as polled from the first answer on

    def wait_until_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"serve exited with {self.process.returncode}:\n{self.log.read_text()}"
            try:
                status = httpx.get(f"{self.url}/ready", timeout=2).status_code
            except httpx.TransportError:
                time.sleep(0.05)
                continue
            self.ready_statuses.append(status)
            if status == 200:
                return
            time.sleep(0.05)
        raise AssertionError(f"not ready within {timeout} s:\n{self.log.read_text()}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(30)


class FakeEngine:
    """Generates ``script`` one character per token. ``loaded`` gates load(); ``step`` (an
    Event per token when ``stepwise``) lets a test hold generation mid-way."""

    def __init__(
        self,
        script: str = "<think>why</think>answer",
        *,
        fail_load: str | None = None,
        fail_generate: str | None = None,
        stepwise: bool = False,
    ):
        self.script = script
        self.fail_load, self.fail_generate = fail_load, fail_generate
        self.loaded = threading.Event()
        self.loaded.set()
        self.stepwise = stepwise
        self.step = threading.Semaphore(0)
        self.started = threading.Event()
        self.outcomes: list[Outcome] = []

    def load(self) -> None:
        self.loaded.wait()
        if self.fail_load:
            raise RuntimeError(self.fail_load)

    def encode_chat(self, messages):
        return [1] * sum(len(m["content"]) + 3 for m in messages), False

    def encode_text(self, text):
        return [1] * max(1, len(text))

    def generate(self, job) -> Outcome:
        self.started.set()
        if self.fail_generate:
            raise RuntimeError(self.fail_generate)
        produced = 0
        for char in self.script[: job.sampling.max_tokens]:
            if self.stepwise:
                while not self.step.acquire(timeout=0.05):
                    if job.cancelled:
                        break
            if job.cancelled:
                outcome = Outcome("cancelled", len(job.prompt_ids), produced)
                break
            job.first_token_at = job.first_token_at or time.perf_counter()
            job.emit(char)
            produced += 1
        else:
            outcome = Outcome("stop" if produced == len(self.script) else "length", len(job.prompt_ids), produced)
        self.outcomes.append(outcome)
        return outcome
