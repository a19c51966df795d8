"""Continuous batching in the built-in engine (the tiny model, in this process): a request's
tokens are the same alone and inside a batch that others join and leave; each row keeps its
own sampling, stops and max_tokens; a cancelled row leaves at once and frees its slot."""

from __future__ import annotations

import pytest

from gpu_preflight.serve.batching import Batch
from gpu_preflight.serve.engine import TransformersEngine
from gpu_preflight.serve.jobs import Job, Outcome, Sampling, held_wakeups

PROMPTS = [
    "hello world",
    "You are a programming assistant. Solve the following problem",
    "def add(a, b): return",
    "the quick brown fox jumps over the lazy dog. hello world, the quick",
    "0123456789",
    "<think> reasoning </think> answer",
]


class _NoLoop:
    """Jobs driven in this thread: what they emit stays in the job, read back by ``text``."""

    def call_soon_threadsafe(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def engine(tiny_model):
    loaded = TransformersEngine(str(tiny_model), "cpu", "float32", max_batch=8, threads=1)
    loaded.load()
    return loaded


def greedy(tokens: int, **fields) -> Sampling:
    return Sampling(max_tokens=tokens, temperature=0, top_p=1, top_k=0, **fields)


def job(engine: TransformersEngine, prompt: str, sampling: Sampling) -> Job:
    return Job(engine.encode_text(prompt), sampling, _NoLoop())  # type: ignore[arg-type]


def text(done: Job) -> str:
    return "".join(item for item in done._pending if isinstance(item, str))


def alone(engine: TransformersEngine, prompt: str, sampling: Sampling) -> tuple[str, Outcome]:
    single = job(engine, prompt, sampling)
    outcome = engine.generate(single)
    return text(single), outcome


def run_staggered(batch: Batch, jobs: list[Job], join_every: int = 3) -> dict[int, Outcome]:
    """Jobs join a running batch one by one, ``join_every`` steps apart; their outcomes by index."""
    outcomes: dict[int, Outcome] = {}
    waiting = list(enumerate(jobs))
    steps = 0
    while waiting or batch.running:
        if waiting and steps % join_every == 0 and batch.free:
            index, joining = waiting.pop(0)
            ended = batch.admit(joining)
            if ended is not None:
                outcomes[index] = ended
        for finished, outcome in batch.step() if batch.running else []:
            outcomes[jobs.index(finished)] = outcome
        steps += 1
    return outcomes


def test_greedy_output_is_the_same_alone_and_inside_a_batch(engine):
    lengths = [24, 40, 9, 33, 17, 28]  # rows leave at different tokens while others join
    expected = [alone(engine, p, greedy(n, ignore_eos=True)) for p, n in zip(PROMPTS, lengths, strict=True)]
    jobs = [job(engine, p, greedy(n, ignore_eos=True)) for p, n in zip(PROMPTS, lengths, strict=True)]
    outcomes = run_staggered(engine._batch, jobs)
    assert [text(j) for j in jobs] == [t for t, _ in expected]
    assert [outcomes[i].completion_tokens for i in range(len(jobs))] == lengths
    assert {o.finish_reason for o in outcomes.values()} == {"length"}
    assert engine.running == 0


def test_seeded_sampling_is_the_same_alone_and_inside_a_batch(engine):
    def sampled(seed: int) -> Sampling:
        return Sampling(max_tokens=20, temperature=0.8, top_p=0.9, top_k=40, seed=seed, ignore_eos=True)

    expected = [alone(engine, p, sampled(i))[0] for i, p in enumerate(PROMPTS[:4])]
    # Greedy neighbours and other seeds in the same batch change nothing.
    jobs = [job(engine, p, sampled(i)) for i, p in enumerate(PROMPTS[:4])]
    jobs += [job(engine, p, greedy(20, ignore_eos=True)) for p in PROMPTS[4:]]
    run_staggered(engine._batch, jobs, join_every=2)
    assert [text(j) for j in jobs[:4]] == expected
    assert len(set(expected)) > 1  # the seeds gave different texts: sampling really happened


def test_a_stop_string_ends_its_row_only(engine):
    full, _ = alone(engine, PROMPTS[1], greedy(30, ignore_eos=True))
    stop = full[10:14]
    assert stop.strip(), "the tiny model's text has no usable stop string here"
    jobs = [
        job(engine, PROMPTS[1], greedy(30, ignore_eos=True, stop=(stop,))),
        job(engine, PROMPTS[0], greedy(30, ignore_eos=True)),
    ]
    outcomes = run_staggered(engine._batch, jobs, join_every=1)
    assert text(jobs[0]) == full[: full.index(stop)]
    assert outcomes[0].finish_reason == "stop"
    assert (outcomes[1].finish_reason, outcomes[1].completion_tokens) == ("length", 30)


def test_a_cancelled_row_leaves_at_the_next_token_and_frees_its_slot(engine):
    batch = Batch(engine.model, "cpu", engine._eos_ids, engine._decode, capacity=2)
    first, second = (job(engine, p, greedy(100, ignore_eos=True)) for p in PROMPTS[:2])
    assert batch.admit(first) is None and batch.admit(second) is None
    assert batch.free == 0
    batch.step()
    first.cancel()
    ended = batch.step()
    assert [(j, o.finish_reason) for j, o in ended] == [(first, "cancelled")]
    assert (batch.running, batch.free) == (1, 1)
    third = job(engine, PROMPTS[2], greedy(5, ignore_eos=True))
    assert batch.admit(third) is None  # the freed slot takes a new request
    expected, _ = alone(engine, PROMPTS[2], greedy(5, ignore_eos=True))
    while batch.running:
        batch.step()
    assert text(third) == expected


def test_the_cache_shrinks_when_the_longest_row_leaves(engine):
    batch = Batch(engine.model, "cpu", engine._eos_ids, engine._decode, capacity=2)
    long, short = (
        job(engine, PROMPTS[3], greedy(3, ignore_eos=True)),
        job(engine, PROMPTS[0], greedy(50, ignore_eos=True)),
    )
    batch.admit(long)
    batch.admit(short)
    width = batch._mask.shape[1]
    while long.outcome is None and batch.running == 2:
        if any(j is long for j, _ in batch.step()):
            break
    assert batch.running == 1
    assert batch._mask.shape[1] < width and bool(batch._mask.all())  # no column of padding is kept
    assert batch._cache.layers[0].keys.shape[-2] == batch._mask.shape[1]


def test_prompts_prefilled_together_give_the_tokens_they_give_alone(engine):
    """Several waiting prompts share one prefill (left-padded): greedy, seeded and stop rows
    are unchanged by it, a row that ends at its first token leaves, and later joins still fit."""
    seeded = Sampling(max_tokens=20, temperature=0.8, top_p=0.9, top_k=40, seed=3, ignore_eos=True)
    cases = [
        (PROMPTS[3], greedy(30, ignore_eos=True)),
        (PROMPTS[0], greedy(25, ignore_eos=True)),
        (PROMPTS[1], seeded),
        (PROMPTS[2], greedy(1, ignore_eos=True)),  # ends with its first token, in the prefill
        (PROMPTS[4], greedy(12, ignore_eos=True)),
    ]
    expected = [alone(engine, p, s) for p, s in cases]
    batch = Batch(engine.model, "cpu", engine._eos_ids, engine._decode, capacity=8)
    jobs = [job(engine, p, s) for p, s in cases]
    ended = dict(batch.admit_all(jobs[:4]))
    assert list(ended) == [jobs[3]] and batch.running == 3
    assert batch._cache.layers[0].keys.shape[-2] == batch._mask.shape[1] == len(jobs[0].prompt_ids)
    batch.step()
    assert batch.admit(jobs[4]) is None  # a later prompt joins the prefilled rows
    while batch.running:
        ended.update(batch.step())
    assert [text(j) for j in jobs] == [t for t, _ in expected]
    assert [ended[j] for j in jobs] == [o for _, o in expected]


class _CountingLoop:
    """Records the wake-ups the generation thread sends to the event loop."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def call_soon_threadsafe(self, callback, *args) -> None:
        self.calls.append((callback, args))


def test_a_step_wakes_the_event_loop_once_for_all_its_streams():
    loop = _CountingLoop()
    streams = [Job([1], greedy(4), loop) for _ in range(8)]  # type: ignore[arg-type]
    with held_wakeups():
        for each in streams:
            each.emit("first ")
    assert len(loop.calls) == 1  # one wake-up for the eight streams, not eight
    with held_wakeups():
        for each in streams:
            each.emit("second")  # their streams have not read the first text yet: no new wake-up
    assert len(loop.calls) == 1
    assert [text(each) for each in streams] == ["first second"] * 8
