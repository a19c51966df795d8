"""The built-in engine: transformers' ``generate`` on one device, streaming text as it goes.

Runs in the generation thread only (serve/jobs.py), except ``encode_*``, which request
handlers call. Fast tokenizers are not safe to share between threads, so requests encode
with their own copy of the tokenizer, behind their own lock: a long prompt being tokenized
never holds up the decoding of the streams that are generating.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from typing import Any

from gpu_preflight.serve.jobs import Job, Outcome
from gpu_preflight.serve.text import THINK_OPEN, IncrementalDecoder, StopMatcher

WARM_UP_TEXT = "Hello"


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
    ):
        self.model_path = model_path
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
        self._warm_up(torch)

    def _warm_up(self, torch: Any) -> None:
        """One real forward pass: /ready turns 200 only after the model has computed on the device."""
        ids = self.encode_text(WARM_UP_TEXT) or sorted(self._eos_ids)[:1] or [0]
        with torch.inference_mode():
            logits = self.model(torch.tensor([ids], device=self.device)).logits
        if not bool(torch.isfinite(logits).all()):
            raise EngineError(
                f"the first forward pass gave NaN or infinite logits ({self.dtype} on {self.device}): try --dtype "
                "float32"
            )

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

    def generate(self, job: Job) -> Outcome:
        import torch

        s = job.sampling
        decoder, stops = IncrementalDecoder(self._decode), StopMatcher(s.stop)
        generated: list[int] = []

        def on_token(token_id: int) -> None:
            if job.first_token_at is None:
                job.first_token_at = time.perf_counter()
            generated.append(token_id)
            if token_id not in self._eos_ids:
                job.emit(stops.feed(decoder.push(token_id)))
            if stops.stopped or job.cancelled:
                raise _Done  # out of generate() now, rather than one more forward pass

        sampling = (
            {"do_sample": True, "temperature": s.temperature, "top_p": s.top_p, "top_k": s.top_k}
            if s.temperature > 0
            else {"do_sample": False}
        )
        config = _generation_config(
            max_new_tokens=s.max_tokens, min_new_tokens=s.max_tokens if s.ignore_eos else None, **sampling
        )
        if s.seed is not None:
            torch.manual_seed(s.seed)  # one generation thread: the global generator is ours
        prompt = torch.tensor([job.prompt_ids], device=self.device)
        try:
            with torch.inference_mode():
                self.model.generate(
                    input_ids=prompt,
                    attention_mask=torch.ones_like(prompt),
                    generation_config=config,
                    streamer=_Streamer(on_token),
                )
        except _Done:
            pass
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()
            raise EngineError(
                f"out of GPU memory at {len(job.prompt_ids)} prompt + {len(generated)} generated tokens within "
                f"the {self.memory_share} share: "
                "ask for fewer max_tokens, or restart with a smaller --max-context"
            ) from None
        if not stops.stopped:
            job.emit(stops.feed(decoder.flush()) + stops.flush())
        if job.cancelled:
            reason = "cancelled"
        elif stops.stopped or (generated and generated[-1] in self._eos_ids):
            reason = "stop"
        else:
            reason = "length"
        return Outcome(reason, len(job.prompt_ids), len(generated))


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


class _Done(Exception):
    """Raised from the streamer to end generate() early: a stop string, or the client left."""


class _Streamer:
    """transformers' streamer protocol: ``put`` gets the prompt once, then each new token."""

    def __init__(self, on_token: Callable[[int], None]) -> None:
        self._on_token = on_token
        self._prompt_seen = False

    def put(self, value: Any) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        for token_id in value.reshape(-1).tolist():
            self._on_token(token_id)

    def end(self) -> None:
        pass
