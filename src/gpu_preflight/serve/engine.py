"""The built-in engine: a transformers model on one device, many requests at once
(continuous batching, serve/batching.py), streaming text as it goes.

Runs in the generation thread only (serve/jobs.py), except ``encode_*``, which request
handlers call. Fast tokenizers are not safe to share between threads, so requests encode
with their own copy of the tokenizer, behind their own lock: a long prompt being tokenized
never holds up the decoding of the streams that are generating.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from gpu_preflight.serve.batching import Batch, cache_is_batchable, returned_cache
from gpu_preflight.serve.jobs import Job, Outcome, Sampling
from gpu_preflight.serve.text import THINK_OPEN

log = logging.getLogger("gpu_preflight.serve")
WARM_UP_TEXT = "Hello"
COMPILE_CHECK_STEPS = 8  # decode steps timed, eager and compiled, before a compiled model is kept
# The batches --compile compiles with, then those it is timed with (other lengths): one row and two.
COMPILE_TEXTS = ((WARM_UP_TEXT,), (WARM_UP_TEXT, WARM_UP_TEXT + " again"))
CHECK_TEXTS = ((WARM_UP_TEXT + " once more",), (WARM_UP_TEXT + ", at other lengths", "a longer prompt " * 6))


class EngineError(Exception):
    """The engine cannot do what was asked; the message says why and what to change."""


class PromptError(EngineError):
    """The messages cannot become a prompt for this model (a 400, not a server fault)."""


class PromptTooLong(PromptError):
    """The prompt's first characters alone exceed the context: the rest was not tokenized."""

    def __init__(self, at_least: int, max_context: int):
        super().__init__(
            f"the prompt is more than {at_least} tokens; this server's context is {max_context} tokens (prompt plus "
            "output)"
        )
        self.at_least = at_least


HEAD_CHARS_PER_TOKEN = 8  # a prompt longer than this many characters per context token: its head is tokenized first
_T = TypeVar("_T")
CUT_SLACK_TOKENS = 16  # cutting text mid-word can add a few tokens that the whole text would not have


class TransformersEngine:
    _decode_ids: Callable[..., str]  # set by load(): the tokenizer's fastest exact decoder

    def __init__(
        self,
        model_path: str,
        device: str,
        dtype: str,
        memory_share: float | None = None,
        trust_remote_code: bool = False,
        max_context: int | None = None,
        max_batch: int = 1,
        threads: int | None = None,
        compile: bool = False,
    ):
        self.model_path = model_path
        self.max_batch = max(1, max_batch)  # sequences decoded together (the memory plan's, serve/settings.py)
        self.threads = threads  # torch's intra-op threads; None: torch's own choice
        self.compile = compile  # --compile: the decode step through torch.compile, compiled before /ready
        self.compiled: str | None = None  # what happened to --compile: "compiled", or why not
        self._batch: Batch | None = None
        self.max_context = max_context  # prompts that cannot fit are refused before all of them is tokenized
        self.device = device
        self.dtype = dtype
        self.memory_share = memory_share
        self.trust_remote_code = trust_remote_code  # never True unless --trust-remote-code
        self.model: Any = None
        self.tokenizer: Any = None  # the generation thread's (decoding)
        self._request_tokenizer: Any = None  # request handlers' (encoding)
        self.max_token_chars: int | None = None  # the longest vocabulary entry: len(text) // this <= its tokens
        self._eos_ids: frozenset[int] = frozenset()
        self._tokenizer_lock = threading.Lock()
        self._request_lock = threading.Lock()

    def load(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as transformers_logging

        # transformers leaves this unannotated: called through a typed name.
        disable_progress_bar: Callable[[], None] = transformers_logging.disable_progress_bar
        disable_progress_bar()  # a progress bar per load is noise in a server log
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        if self.device == "cuda":
            if not torch.cuda.is_available():
                raise EngineError(
                    "torch cannot use CUDA in this process (torch.cuda.is_available() is False); --device cuda does "
                    "not fall back to the CPU"
                )
            if self.memory_share:
                # Our allocator stops at the planned share: a request beyond it fails alone with
                # an out-of-memory error instead of starving other processes on the GPU.
                torch.cuda.set_per_process_memory_fraction(self.memory_share, 0)
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_path, trust_remote_code=self.trust_remote_code)
        try:
            self._request_tokenizer = copy.deepcopy(self.tokenizer)
        except Exception:  # noqa: BLE001 - a tokenizer that cannot be copied is loaded twice
            self._request_tokenizer = AutoTokenizer.from_pretrained(
                self.model_path, trust_remote_code=self.trust_remote_code
            )
        self.max_token_chars = _longest_token(self.tokenizer)
        model: Any = AutoModelForCausalLM.from_pretrained(
            self.model_path, dtype=getattr(torch, self.dtype), trust_remote_code=self.trust_remote_code
        )
        self.model = model.to(self.device).eval()
        eos = model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if self.tokenizer.eos_token_id is not None:
            eos_ids.add(self.tokenizer.eos_token_id)
        self._eos_ids = frozenset(eos_ids)
        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        # The Rust decoder directly, when transformers' decode would add nothing to it (no space
        # clean-up): it runs twice per generated token.
        self._decode_ids = (
            backend.decode
            if backend is not None and not self.tokenizer.clean_up_tokenization_spaces
            else self.tokenizer.decode
        )
        pad = (
            self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else min(self._eos_ids, default=None)
        )
        # Sampling comes from each request (and the profile), never from the checkpoint's own
        # generation_config.json, which generate() would otherwise merge in (top_k 50, penalties...).
        self.model.generation_config = _generation_config(
            eos_token_id=sorted(self._eos_ids) or None,
            pad_token_id=pad,
            bos_token_id=model.generation_config.bos_token_id,
        )
        cache = self._warm_up(torch)
        if self.max_batch > 1 and not cache_is_batchable(cache):
            log.info(
                "this model's KV cache is not a plain growing one (sliding or static layers): one request at a time"
            )
            self.max_batch = 1
        if self.compile:
            self._compile(torch)
        self._batch = self._new_batch(self.max_batch)

    def _new_batch(self, capacity: int) -> Batch:
        return Batch(self.model, self.device, self._eos_ids, self._decode, capacity)

    def _warm_up(self, torch: Any) -> Any:
        """One real forward pass: /ready turns 200 only after the model has computed on the
        device. Returns the pass's KV cache (its kind decides whether requests can batch)."""
        ids = self.encode_text(WARM_UP_TEXT) or sorted(self._eos_ids)[:1] or [0]
        with torch.inference_mode():
            out = self.model(torch.tensor([ids], device=self.device), use_cache=True)
        if not bool(torch.isfinite(out.logits).all()):
            raise EngineError(
                f"the first forward pass gave NaN or infinite logits ({self.dtype} on {self.device}): try --dtype "
                "float32"
            )
        return returned_cache(out)

    def _compile(self, torch: Any) -> None:
        """--compile: the model's forward through torch.compile, compiled now (a prefill and
        batched decode steps), before /ready. It is kept only when its decode steps are faster
        than eager ones at new cache lengths (a step that recompiles per length is far slower);
        on a failure or a slower step the eager model stays, and why is logged."""
        eager = self.model.forward
        try:
            self._time_decode(COMPILE_CHECK_STEPS, COMPILE_TEXTS[-1])  # eager's first-call costs, untimed
            eager_s = sum(self._time_decode(COMPILE_CHECK_STEPS, texts) for texts in CHECK_TEXTS)
            self.model.forward = torch.compile(eager, dynamic=True)
            for texts in COMPILE_TEXTS:  # compiles: prefills, then steps at a few lengths, one row and two
                self._time_decode(COMPILE_CHECK_STEPS, texts)
            # Timed at cache lengths the compile did not see: a step that recompiles per length is caught here.
            compiled_s = sum(self._time_decode(COMPILE_CHECK_STEPS, texts) for texts in CHECK_TEXTS)
        except Exception as exc:  # noqa: BLE001 - compilers fail in many ways; serving eagerly still works
            self.model.forward = eager
            first_line = (str(exc).splitlines() or [""])[0][:200]
            self.compiled = f"not compiled, eager instead: {type(exc).__name__}: {first_line}"
            log.warning("--compile: %s", self.compiled)
            return
        timing = f"{compiled_s * 1000:.1f} ms compiled vs {eager_s * 1000:.1f} ms eager for the warm-up's steps"
        if compiled_s >= eager_s:
            self.model.forward = eager
            self.compiled = f"not kept, eager instead: the compiled decode step was not faster ({timing})"
            log.warning("--compile: %s", self.compiled)
            return
        self.compiled = f"compiled (torch.compile, dynamic shapes) during warm-up: {timing}"
        log.info("--compile: %s", self.compiled)

    def _time_decode(self, steps: int, texts: tuple[str, ...]) -> float:
        """Seconds for ``steps`` decode steps of a warm-up batch of ``texts`` (after their prefills)."""
        warm = self._new_batch(len(texts))
        loop = _NoLoop()
        for text in texts:
            warm.admit(Job(self.encode_text(text) or [0], _WARM_SAMPLING, loop))  # type: ignore[arg-type]
        start = time.perf_counter()
        for _ in range(steps):
            warm.step()
        elapsed = time.perf_counter() - start
        warm.clear()
        return elapsed

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    def encode_chat(self, messages: list[dict[str, str]]) -> tuple[list[int], bool]:
        """Token ids of the chat prompt, and whether the prompt opens a <think> block."""
        if not self.has_chat_template:
            raise PromptError("this model's tokenizer has no chat template: use /v1/completions with a plain prompt")
        with self._request_lock:
            try:
                text = self._request_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            except Exception as exc:  # noqa: BLE001 - templates raise what they like (jinja2 errors, exceptions they raise on purpose)
                raise PromptError(f"the model's chat template refused these messages: {exc}") from None
            ids = self._tokenize(text, add_special_tokens=False)
        return ids, text.rstrip().endswith(THINK_OPEN)

    def encode_text(self, text: str) -> list[int]:
        with self._request_lock:
            return self._tokenize(text, add_special_tokens=True)

    def _tokenize(self, text: str, add_special_tokens: bool) -> list[int]:
        """Token ids; a long text's head first: one that alone fills the context refuses the
        prompt without the cost (seconds, gigabytes) of tokenizing megabytes."""
        tokenizer, limit = self._request_tokenizer, self.max_context
        if limit and len(text) > HEAD_CHARS_PER_TOKEN * limit:
            head = tokenizer(text[: HEAD_CHARS_PER_TOKEN * limit], add_special_tokens=add_special_tokens)["input_ids"]
            if len(head) - CUT_SLACK_TOKENS >= limit:
                raise PromptTooLong(len(head) - CUT_SLACK_TOKENS, limit)
        return list(tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"])

    def _decode(self, ids: list[int]) -> str:
        with self._tokenizer_lock:
            return self._decode_ids(ids, skip_special_tokens=True)

    # --- the batch (serve/jobs.py's BatchEngine)
    @property
    def running(self) -> int:
        return self._batch.running if self._batch is not None else 0

    @property
    def free(self) -> int:
        return self._batch.free if self._batch is not None else 0

    def admit(self, job: Job) -> Outcome | None:
        return self._guard(lambda: self._loaded().admit(job), job)

    def admit_all(self, jobs: list[Job]) -> list[tuple[Job, Outcome]]:
        return self._guard(lambda: self._loaded().admit_all(jobs), max(jobs, key=lambda job: len(job.prompt_ids)))

    def step(self) -> list[tuple[Job, Outcome]]:
        return self._guard(self._loaded().step, None)

    def abandon(self) -> list[Job]:
        batch = self._loaded()
        jobs = [row.job for row in batch.rows]
        self._batch = self._new_batch(batch.capacity)
        return jobs

    def generate(self, job: Job) -> Outcome:
        """One job alone, start to end (through the same batch code as many)."""
        batch = self._new_batch(1)
        outcome = self._guard(lambda: batch.admit(job), job)
        while outcome is None:
            ended = self._guard(batch.step, job)
            outcome = ended[0][1] if ended else None
        return outcome

    def _loaded(self) -> Batch:
        if self._batch is None:
            raise EngineError("the model is not loaded")
        return self._batch

    def _guard(self, run: Callable[[], _T], job: Job | None) -> _T:
        import torch

        try:
            return run()
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()
            at = f"a {len(job.prompt_ids)}-token prompt" if job is not None else f"{self.running} sequences"
            raise EngineError(
                f"out of GPU memory at {at} within the {self.memory_share} share: ask for fewer max_tokens, or "
                "restart with a smaller --max-context or --max-batch"
            ) from None


def _longest_token(tokenizer: Any) -> int | None:
    """The most characters one token stands for (byte-level and byte-fallback entries spell a
    byte with one or more characters, so an entry is never shorter than its text)."""
    try:
        vocab = tokenizer.get_vocab()
    except Exception:  # noqa: BLE001 - a tokenizer without a readable vocabulary: no early check
        return None
    return max((len(entry) for entry in vocab), default=0) or None


def _generation_config(**settings: Any) -> Any:
    """transformers' GenerationConfig; its constructor is unannotated, so it is called through a typed name."""
    from transformers import GenerationConfig

    make: Callable[..., Any] = GenerationConfig
    return make(**settings)


class _NoLoop:
    """The warm-up's jobs have no listener: what they emit is dropped."""

    def call_soon_threadsafe(self, *args: Any) -> None:
        pass


_WARM_SAMPLING = Sampling(max_tokens=COMPILE_CHECK_STEPS + 2, temperature=0, top_p=1, top_k=0, ignore_eos=True)
