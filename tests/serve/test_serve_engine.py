"""The built-in engine in this process: remote code never runs without --trust-remote-code,
and generation honours max_tokens, stop strings and cancellation."""

from __future__ import annotations

import asyncio
import json
import shutil

import pytest

from gpu_preflight.serve.engine import PromptTooLong, TransformersEngine
from gpu_preflight.serve.jobs import Job, Sampling

EVIL = """
import pathlib
pathlib.Path(__file__).with_name("REMOTE_CODE_RAN").write_text("yes")
from transformers import Qwen2ForCausalLM as EvilModel
"""


@pytest.fixture(scope="module")
def engine(tiny_model):
    loaded = TransformersEngine(str(tiny_model), "cpu", "float32")
    loaded.load()
    return loaded


def run(engine: TransformersEngine, sampling: Sampling, cancel_after: int | None = None):
    async def go():
        job = Job(engine.encode_text("hello"), sampling, asyncio.get_running_loop())
        if cancel_after is not None:
            original = job.emit

            def emit(text: str) -> None:
                original(text)
                if len(job._pending) >= cancel_after:
                    job.cancel()

            job.emit = emit
        outcome = await asyncio.to_thread(engine.generate, job)
        job.finish(outcome)  # what the scheduler does after generate()
        return await job.text(), outcome

    return asyncio.run(go())


def test_remote_code_is_never_run_without_the_flag(tiny_model, tmp_path):
    model = tmp_path / "remote"
    shutil.copytree(tiny_model, model)
    config = json.loads((model / "config.json").read_text())
    config["auto_map"] = {"AutoModelForCausalLM": "evil.EvilModel", "AutoConfig": "evil.EvilConfig"}
    (model / "config.json").write_text(json.dumps(config))
    (model / "evil.py").write_text(EVIL)
    engine = TransformersEngine(str(model), "cpu", "float32")
    try:
        engine.load()
    except Exception:  # noqa: BLE001 - refusing to load is fine too; running the code is not
        pass
    assert not (model / "REMOTE_CODE_RAN").exists()


def test_max_tokens_and_finish_reasons(engine):
    text, outcome = run(engine, Sampling(max_tokens=7, temperature=0, top_p=1, top_k=0, ignore_eos=True))
    assert (outcome.finish_reason, outcome.completion_tokens) == ("length", 7)
    assert text  # seven random tokens decode to something


def test_cancellation_stops_generation_within_a_token(engine):
    _, outcome = run(engine, Sampling(max_tokens=200, temperature=0, top_p=1, top_k=0, ignore_eos=True), cancel_after=3)
    assert outcome.finish_reason == "cancelled" and outcome.completion_tokens < 10


def test_cuda_is_refused_when_torch_has_none(tiny_model):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(Exception, match="does not fall back to the CPU"):
        TransformersEngine(str(tiny_model), "cuda", "float16").load()


def test_a_prompt_that_cannot_fit_is_refused_from_its_head(tiny_model, monkeypatch):
    limited = TransformersEngine(str(tiny_model), "cpu", "float32", max_context=64)
    limited.load()
    assert limited.max_token_chars and limited.max_token_chars >= 1
    assert len(limited.encode_text("hello world " * 20)) > 0  # short enough: tokenized whole
    seen: list[int] = []
    tokenizer = limited._request_tokenizer

    class Counting:
        def __call__(self, text, **kwargs):
            seen.append(len(text))
            return tokenizer(text, **kwargs)

        def __getattr__(self, name):
            return getattr(tokenizer, name)

    monkeypatch.setattr(limited, "_request_tokenizer", Counting())
    with pytest.raises(PromptTooLong):
        limited.encode_text("hello world " * 100_000)
    with pytest.raises(PromptTooLong):
        limited.encode_chat([{"role": "user", "content": "hello world " * 100_000}])
    assert seen and max(seen) <= 8 * 64  # only the head was tokenized, never the 1.2 MB


def test_a_compile_that_fails_leaves_the_eager_model_and_says_why(tiny_model, monkeypatch):
    import torch

    def no_compiler(*args, **kwargs):
        raise RuntimeError("no C compiler found for inductor")

    monkeypatch.setattr(torch, "compile", no_compiler)
    threads_before = torch.get_num_threads()
    engine = TransformersEngine(str(tiny_model), "cpu", "float32", compile=True, threads=1)
    try:
        engine.load()
        assert torch.get_num_threads() == 1  # --threads (or the derived count) reaches torch
    finally:
        torch.set_num_threads(threads_before)
    assert engine.compiled == "not compiled, eager instead: RuntimeError: no C compiler found for inductor"
    text, outcome = run(engine, Sampling(max_tokens=5, temperature=0, top_p=1, top_k=0, ignore_eos=True))
    assert (outcome.finish_reason, outcome.completion_tokens) == ("length", 5)
