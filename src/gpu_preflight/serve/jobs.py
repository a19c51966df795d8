"""Requests waiting for the model, and the one thread that runs it.

The event loop never runs the model: a request becomes a ``Job`` in a bounded queue; the
generation thread loads the engine, then runs the jobs and streams text back to the loop. An
engine that batches (``BatchEngine``: the built-in one) runs continuous batching: between two
decode steps of the running batch, waiting jobs are prefilled into its free slots (at most
``prefill_tokens`` prompt tokens per step, at least one job, so decoding never stalls behind a
queue of prompts; several are prefilled in one pass); a job leaves the batch at the token it
ends on. The loop is woken once per decode step for all the streams that have text, and a
stream's text goes out at most every ``STREAM_INTERVAL_S`` (its first piece and its end at
once). Other engines take jobs one at a time. A full queue is refused at once (``QueueFull`` ->
503) instead of growing without bound; a job whose client left is skipped or stopped
mid-generation, freeing its slot.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol, TypeGuard

from gpu_preflight.serve.metrics import Metrics

log = logging.getLogger("gpu_preflight.serve")
# A streaming job's text reaches its client at most this often after the first piece (the first
# at once, the end at once): tokens generated in between go out as one event. Each event costs
# the event loop, the HTTP layer and the client more than a decode step's share of a small model.
STREAM_INTERVAL_S = 0.03


@dataclass(frozen=True)
class Sampling:
    max_tokens: int
    temperature: float  # 0: greedy
    top_p: float
    top_k: int  # 0: off
    stop: tuple[str, ...] = ()
    seed: int | None = None
    ignore_eos: bool = False  # vLLM's extension: exactly max_tokens tokens (benchmarks, tests)


@dataclass(frozen=True)
class Outcome:
    finish_reason: str  # stop | length | cancelled
    prompt_tokens: int
    completion_tokens: int


class Job:
    """One request's generation. The generation thread calls ``emit``/``finish``/``fail``;
    the event loop iterates ``stream()``. Text is handed over in batches: the loop is woken
    once per batch, not once per token, so a busy loop never falls behind; inside a generation
    step (``held_wakeups``) a stream is woken at most every ``STREAM_INTERVAL_S``."""

    def __init__(
        self, prompt_ids: list[int], sampling: Sampling, loop: asyncio.AbstractEventLoop, streaming: bool = True
    ):
        self.prompt_ids = prompt_ids
        self.sampling = sampling
        self.streaming = streaming  # False: the loop is woken only at the end, not per token
        self.accepted_at = time.perf_counter()
        self.first_token_at: float | None = None
        self.outcome: Outcome | None = None
        self._loop = loop
        self._cancelled = threading.Event()
        self._lock = threading.Lock()
        self._pending: list[str | Outcome | BaseException] = []
        self._wake_scheduled = False
        self._woken_at: float | None = None  # when text last woke the stream (None: not yet)
        self._ready = asyncio.Event()

    # --- the generation thread's side
    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def emit(self, text: str) -> None:
        if text:
            self._put(text, wake=self.streaming)

    def finish(self, outcome: Outcome) -> None:
        self._put(outcome)

    def fail(self, error: BaseException) -> None:
        self._put(error)

    def _put(self, item: str | Outcome | BaseException, wake: bool = True) -> None:
        with self._lock:
            self._pending.append(item)
            if self._wake_scheduled or not wake:
                return
            now = time.perf_counter()
            if isinstance(item, str) and self._woken_at is not None and _hold_text(self, now):
                return  # held: a later step (held_wakeups) wakes the stream for it
            self._wake_scheduled, self._woken_at = True, now
        _wake(self._loop, self._ready)

    def _wake_if_due(self, now: float) -> bool:
        """The generation thread, after a step: wake the stream for held text whose interval
        has passed. False while the text is still held."""
        with self._lock:
            if self._wake_scheduled or not self._pending:
                return True  # already woken (or its end came): nothing held any more
            if self._woken_at is not None and now - self._woken_at < STREAM_INTERVAL_S:
                return False
            self._wake_scheduled, self._woken_at = True, now
        _wake(self._loop, self._ready)
        return True

    # --- the event loop's side
    def cancel(self) -> None:
        self._cancelled.set()

    async def stream(self) -> AsyncIterator[str]:
        """Text as it is generated, what arrived together joined into one piece; sets
        ``outcome`` at the end, raises what the engine raised."""
        while True:
            await self._ready.wait()
            self._ready.clear()
            with self._lock:
                items, self._pending, self._wake_scheduled = self._pending, [], False
            texts = [item for item in items if isinstance(item, str)]
            if texts:
                yield "".join(texts)
            end = items[-1] if items else None
            if isinstance(end, Outcome):
                self.outcome = end
                return
            if isinstance(end, BaseException):
                raise end

    @property
    def final_outcome(self) -> Outcome:
        """The outcome of a job whose ``stream()`` ended without an error."""
        if self.outcome is None:
            raise RuntimeError("the job has not finished")
        return self.outcome

    async def text(self) -> str:
        return "".join([piece async for piece in self.stream()])


_held = threading.local()  # the wake-ups a generation step holds back, to send together (``held_wakeups``)


class held_wakeups:  # a statement, ``with held_wakeups(): ...``
    """Within this block, jobs that have text for their stream do not wake the event loop one
    by one: the loop is woken once at the end, for all of them (one self-pipe write and one
    loop turn per decode step instead of one per running request), and a stream's text is
    held for up to ``STREAM_INTERVAL_S`` after its last wake-up, then sent together."""

    def __enter__(self) -> None:
        _held.events = []

    def __exit__(self, *exc: object) -> None:
        texts: set[Job] = _texts()
        if texts:
            now = time.perf_counter()
            texts -= {job for job in list(texts) if job._wake_if_due(now)}
        events: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = _held.events
        _held.events = None
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Event]] = {}
        for loop, event in events:
            by_loop.setdefault(loop, []).append(event)
        for loop, ready in by_loop.items():
            _call_soon(loop, _set_all, ready)


def _texts() -> set[Job]:
    """The jobs (of this generation thread) whose streamed text is held until its interval passed."""
    texts: set[Job] | None = getattr(_held, "texts", None)
    if texts is None:
        texts = _held.texts = set()
    return texts


def _hold_text(job: Job, now: float) -> bool:
    """Whether ``job``'s new text waits (inside a step, within the interval); it is then
    remembered, and a later step's ``held_wakeups`` wakes its stream."""
    if getattr(_held, "events", None) is None or job._woken_at is None or now - job._woken_at >= STREAM_INTERVAL_S:
        return False
    _texts().add(job)
    return True


def _wake(loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
    held: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] | None = getattr(_held, "events", None)
    if held is not None:
        held.append((loop, event))
    else:
        _call_soon(loop, event.set)


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[..., object], *args: object) -> None:
    try:
        loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:
        pass  # the event loop is gone: nobody is listening any more


def _set_all(events: list[asyncio.Event]) -> None:
    for event in events:
        event.set()


class Engine(Protocol):
    def load(self) -> None: ...  # load the weights and run one real forward pass; raise on failure

    def generate(self, job: Job) -> Outcome: ...  # emit text as it comes; stop when job.cancelled


class BatchEngine(Engine, Protocol):
    """An engine that runs many jobs at once (serve/batching.py)."""

    @property
    def running(self) -> int: ...  # jobs in the batch

    @property
    def free(self) -> int: ...  # slots left in the batch

    def admit(self, job: Job) -> Outcome | None: ...  # prefill; an outcome when the job ended at once

    def admit_all(
        self, jobs: list[Job]
    ) -> list[tuple[Job, Outcome]]: ...  # several prefills in one pass; those that ended

    def step(self) -> list[tuple[Job, Outcome]]: ...  # one token for every running job; those that ended

    def abandon(self) -> list[Job]: ...  # after a failed step: empty the batch, the jobs it held


class QueueFull(Exception):
    pass


class Scheduler:
    def __init__(
        self,
        engine: Engine,
        max_waiting: int,
        metrics: Metrics,
        on_load_failure: Callable[[str], None] = lambda why: None,
        prefill_tokens: int = 512,
    ):
        self.prefill_tokens = prefill_tokens  # prompt tokens prefilled between two decode steps (at least one job)
        self.engine = engine
        self.max_waiting = max_waiting
        self.metrics = metrics
        self.state = "loading"  # loading | ready | failed | stopped
        self.failure: str | None = None
        self._on_load_failure = on_load_failure
        self._waiting: deque[Job] = deque()
        self._running = 0
        self._stopping = False
        self._condition = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="generation", daemon=True)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def running(self) -> int:
        engine = self.engine
        return engine.running if _batches(engine) else self._running

    def start(self) -> None:
        self._thread.start()

    def submit(self, job: Job) -> None:
        with self._condition:
            if len(self._waiting) >= self.max_waiting:
                raise QueueFull(f"{len(self._waiting)} requests are already waiting (--max-queue {self.max_waiting})")
            self._waiting.append(job)
            self._condition.notify()

    def withdraw(self, job: Job) -> None:
        """The client left: drop the job if it is still waiting, stop it if it is running."""
        job.cancel()
        with self._condition:
            try:
                self._waiting.remove(job)
            except ValueError:
                return  # running or done: the engine sees job.cancelled at its next token
        job.finish(Outcome("cancelled", len(job.prompt_ids), 0))

    def stop(self, timeout: float | None = None) -> None:
        """Finish what was accepted, then end the thread."""
        with self._condition:
            self._stopping = True
            self._condition.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self.state = "stopped"

    def _run(self) -> None:
        try:
            self.engine.load()
        except BaseException as exc:  # noqa: BLE001 - reported, then the server exits
            self.state, self.failure = "failed", f"{type(exc).__name__}: {exc}"
            self._on_load_failure(self.failure)
            return
        self.state = "ready"
        log.info("model loaded; a forward pass succeeded: ready")
        engine = self.engine
        if _batches(engine):
            self._run_batches(engine)
            return
        while True:
            with self._condition:
                while not self._waiting and not self._stopping:
                    self._condition.wait()
                if not self._waiting:
                    return
                job = self._waiting.popleft()
                self._running = 1
            try:
                self._generate(job)
            finally:
                self._running = 0

    def _run_batches(self, engine: BatchEngine) -> None:
        while True:
            with self._condition:
                while not self._waiting and not engine.running and not self._stopping:
                    self._condition.wait()
                if not self._waiting and not engine.running:
                    return
                joining: list[Job] = []
                tokens = 0
                while self._waiting and len(joining) < engine.free and (not joining or tokens < self.prefill_tokens):
                    job = self._waiting.popleft()
                    joining.append(job)
                    tokens += len(job.prompt_ids)
            # Not held: a prefill is long next to a wake-up, a joined job's first token goes at once.
            self._admit(engine, joining)
            if not engine.running:
                continue
            with held_wakeups():
                self._step(engine)

    def _admit(self, engine: BatchEngine, joining: list[Job]) -> None:
        if len(joining) > 1:
            try:
                ended = engine.admit_all(joining)  # one forward pass for all their prompts
            except Exception:  # noqa: BLE001 - one by one below: only the prompt at fault fails
                log.debug("a batched prefill of %d prompts failed: prefilling them one by one", len(joining))
            else:
                for job, outcome in ended:
                    self._finish(job, outcome)
                return
        for job in joining:
            try:
                alone = engine.admit(job)
            except Exception as exc:  # noqa: BLE001 - this prompt failed; the batch goes on
                job.fail(exc)
                continue
            if alone is not None:
                self._finish(job, alone)

    def _step(self, engine: BatchEngine) -> None:
        try:
            ended = engine.step()
        except Exception as exc:  # noqa: BLE001 - the step failed for every job in it
            log.warning("a decode step failed (%s): the %d requests in it fail", exc, engine.running)
            for job in engine.abandon():
                job.fail(exc)
            return
        for job, outcome in ended:
            self._finish(job, outcome)

    def _finish(self, job: Job, outcome: Outcome) -> None:
        end = time.perf_counter()
        ttft = job.first_token_at - job.accepted_at if job.first_token_at is not None else None
        self.metrics.generation(outcome.prompt_tokens, outcome.completion_tokens, ttft, end - job.accepted_at)
        job.finish(outcome)

    def _generate(self, job: Job) -> None:
        try:
            outcome = self.engine.generate(job)
        except Exception as exc:  # noqa: BLE001 - one request failed; the server goes on
            job.fail(exc)
            return
        self._finish(job, outcome)


def _batches(engine: Engine) -> TypeGuard[BatchEngine]:
    return callable(getattr(engine, "admit", None)) and callable(getattr(engine, "step", None))
