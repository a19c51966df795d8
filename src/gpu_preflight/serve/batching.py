"""Continuous batching for the built-in engine: requests join and leave one running batch at
token boundaries.

Requests that wait together are prefilled together (``admit_all``: one forward pass, left-padded,
the padding masked; one alone has no padding), their first tokens sampled, then they join the
batch: the batch's KV cache is one transformers ``DynamicCache`` whose rows are the sequences,
left-padded to the longest (the attention mask hides the padding; positions count each row's own
tokens; with no padding in any row no mask is passed). Every ``step`` decodes one token for
every row in one forward pass. A row that ends (a stop, EOS, max_tokens, its client left) is
dropped at once, and the columns that were padding for every remaining row are cut, so its
memory is freed.

Sampling is per row, with transformers' rules in transformers' order (temperature, top-k,
top-p) and a generator per request when it has a seed: a request samples the same tokens
alone or in any batch. Greedy rows take one argmax over the whole batch's logits (EOS banned
for ignore_eos rows in one masked write); what a step needs to know of its rows is worked out
when rows join or leave, not at every token.

Runs in the generation thread only (serve/jobs.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gpu_preflight.serve.jobs import Job, Outcome
from gpu_preflight.serve.text import IncrementalDecoder, StopMatcher


class Sampler:
    """One request's next-token choice from its logits (a 1-D tensor over the vocabulary)."""

    def __init__(self, job: Job, eos_ids: frozenset[int], torch: Any) -> None:
        s = job.sampling
        self.greedy = s.temperature <= 0
        self.temperature, self.top_p, self.top_k = s.temperature, s.top_p, s.top_k
        # ignore_eos is min_new_tokens = max_tokens: the EOS logits are -inf for every token.
        self.banned = sorted(eos_ids) if s.ignore_eos else []
        self.generator: Any = None
        if s.seed is not None and not self.greedy:
            self.generator = torch.Generator(device="cpu")
            self.generator.manual_seed(s.seed)
        self._torch = torch

    def pick(self, logits: Any) -> int:
        torch = self._torch
        scores = logits.float()
        if self.banned:
            scores = scores.clone()
            scores[self.banned] = -float("inf")
        if self.greedy:
            return int(torch.argmax(scores).item())
        scores = scores / self.temperature
        if 0 < self.top_k < scores.shape[-1]:
            threshold = torch.topk(scores, self.top_k).values[-1]
            scores = scores.masked_fill(scores < threshold, -float("inf"))
        if self.top_p < 1.0:
            ordered, order = torch.sort(scores, descending=False)
            cumulative = ordered.softmax(dim=-1).cumsum(dim=-1)
            remove = cumulative <= (1 - self.top_p)
            remove[-1] = False  # at least one token stays
            scores = scores.masked_fill(remove.scatter(0, order, remove), -float("inf"))
        probs = scores.softmax(dim=-1).cpu()
        return int(torch.multinomial(probs, 1, generator=self.generator).item())


@dataclass
class _Row:
    job: Job
    sampler: Sampler
    decoder: IncrementalDecoder
    stops: StopMatcher
    length: int  # this sequence's tokens in the cache (no padding)
    last: int = 0  # the token sampled last: the next step's input
    generated: int = 0


class Batch:
    """The running batch of one model. ``admit`` prefills a job and adds it (or finishes it at
    once); ``step`` decodes one token for every row. Both return the jobs that ended, with
    their outcomes; the caller hands those to the job (``job.finish``)."""

    def __init__(
        self,
        model: Any,
        device: str,
        eos_ids: frozenset[int],
        decode: Callable[[list[int]], str],
        capacity: int,
    ) -> None:
        import torch

        self._torch = torch
        self.model = model
        self.device = device
        self.eos_ids = eos_ids
        self.decode = decode
        self.capacity = max(1, capacity)
        self.rows: list[_Row] = []
        self._cache: Any = None
        self._mask: Any = None  # [rows, columns] 1 where a cached token is real, 0 for padding
        self._layout: _Layout | None = None  # what a step needs to know of the rows; None: rows changed
        self._cache_name = cache_argument(model)
        # Only the last position's logits from a prefill, where the forward can say so.
        self._last_logits = {"logits_to_keep": 1} if "logits_to_keep" in _parameters(model) else {}

    @property
    def running(self) -> int:
        return len(self.rows)

    @property
    def free(self) -> int:
        return self.capacity - len(self.rows)

    def admit(self, job: Job) -> Outcome | None:
        """Prefill ``job``'s prompt and sample its first token; None when it joined the batch."""
        torch = self._torch
        decoder, stops = IncrementalDecoder(self.decode), StopMatcher(job.sampling.stop)
        row = _Row(job, Sampler(job, self.eos_ids, torch), decoder, stops, 0)
        if job.cancelled:
            return self._outcome(row, "cancelled")
        prompt = torch.tensor([job.prompt_ids], device=self.device)
        with torch.inference_mode():
            out = self.model(input_ids=prompt, use_cache=True, **self._last_logits)
        row.length = len(job.prompt_ids)
        ended = self._accept(row, row.sampler.pick(out.logits[0, -1]))
        if ended is not None:
            return self._outcome(row, ended)
        self._join([row], returned_cache(out), torch.ones((1, row.length), dtype=torch.long, device=self.device))
        return None

    def admit_all(self, jobs: list[Job]) -> list[tuple[Job, Outcome]]:
        """Prefill several prompts in one forward pass (left-padded to the longest, the padding
        masked), sample each one's first token, and add those that go on to the batch; returns
        the jobs that ended at once. A failed pass changes nothing (the caller may admit the
        jobs one by one to find the one at fault)."""
        torch = self._torch
        rows: list[_Row] = []
        ended: list[tuple[Job, Outcome]] = []
        for job in jobs:
            row = _Row(
                job,
                Sampler(job, self.eos_ids, torch),
                IncrementalDecoder(self.decode),
                StopMatcher(job.sampling.stop),
                0,
            )
            if job.cancelled:
                ended.append((job, self._outcome(row, "cancelled")))
            else:
                rows.append(row)
        if len(rows) <= 1:
            return ended + [(row.job, outcome) for row in rows if (outcome := self.admit(row.job)) is not None]
        width = max(len(row.job.prompt_ids) for row in rows)
        pad = [width - len(row.job.prompt_ids) for row in rows]
        prompts = torch.tensor(
            [[0] * n + row.job.prompt_ids for n, row in zip(pad, rows, strict=True)], device=self.device
        )
        mask = torch.tensor([[0] * n + [1] * (width - n) for n in pad], dtype=torch.long, device=self.device)
        with torch.inference_mode():
            out = self.model(
                input_ids=prompts,
                attention_mask=mask,
                position_ids=(mask.cumsum(dim=1) - 1).clamp(min=0),
                use_cache=True,
                **self._last_logits,
            )
        keep: list[int] = []
        for k, row in enumerate(rows):
            row.length = len(row.job.prompt_ids)
            reason = self._accept(row, row.sampler.pick(out.logits[k, -1]))
            if reason is not None:
                ended.append((row.job, self._outcome(row, reason)))
            else:
                keep.append(k)
        if keep:
            cache, index = returned_cache(out), torch.tensor(keep, device=self.device)
            first = min(pad[k] for k in keep)  # columns that are padding in every row that stays: cut
            for layer in cache.layers:
                layer.keys = layer.keys[index, :, first:, :]
                layer.values = layer.values[index, :, first:, :]
            self._join([rows[k] for k in keep], cache, mask[index, first:])
        return ended

    def step(self) -> list[tuple[Job, Outcome]]:
        """One token for every running row; the rows that ended leave the batch."""
        torch = self._torch
        done = self._drop([i for i, row in enumerate(self.rows) if row.job.cancelled], "cancelled")
        if not self.rows:
            return done
        rows = self.rows
        if self._layout is None:
            self._layout = _Layout(rows, self._mask, torch, self.device)
        layout = self._layout
        self._mask = torch.cat([self._mask, self._mask.new_ones((len(rows), 1))], dim=1)
        inputs = torch.tensor([[row.last] for row in rows], device=self.device)
        positions = torch.tensor([[row.length] for row in rows], device=self.device)
        with torch.inference_mode():
            out = self.model(
                input_ids=inputs,
                # No padding in any row (one row, or rows of one length): no mask to build at every layer.
                attention_mask=self._mask if layout.padded else None,
                position_ids=positions,
                use_cache=True,
                **{self._cache_name: self._cache},
            )
            self._cache = returned_cache(out)
            logits = out.logits[:, -1, :]
            picks: list[int] = []
            if layout.greedy:  # one argmax for the whole batch; the sampling rows' entries are not used
                scores = logits
                if layout.banned_rows is not None:
                    scores = logits.clone()
                    scores[layout.banned_rows, layout.banned_ids] = -float("inf")
                picks = torch.argmax(scores, dim=-1).tolist()
        ended: dict[int, str] = {}
        for i, row in enumerate(rows):
            row.length += 1
            token = picks[i] if row.sampler.greedy else row.sampler.pick(logits[i])
            reason = self._accept(row, token)
            if reason is not None:
                ended[i] = reason
        return done + self._drop(list(ended), ended)

    def clear(self, reason: str = "cancelled") -> list[tuple[Job, Outcome]]:
        """End every row (an error in the forward pass): the cache is dropped."""
        return self._drop(list(range(len(self.rows))), reason)

    # --- one row's token
    def _accept(self, row: _Row, token: int) -> str | None:
        """Take ``token`` for ``row``: emit its text; the finish reason when the row ends."""
        job = row.job
        if job.first_token_at is None:
            job.first_token_at = time.perf_counter()
        row.generated += 1
        row.last = token
        if token in self.eos_ids and not job.sampling.ignore_eos:
            return "stop"
        job.emit(row.stops.feed(row.decoder.push(token)))
        if row.stops.stopped:
            return "stop"
        if job.cancelled:
            return "cancelled"
        if row.generated >= job.sampling.max_tokens:
            return "length"
        return None

    def _outcome(self, row: _Row, reason: str) -> Outcome:
        if not row.stops.stopped:
            row.job.emit(row.stops.feed(row.decoder.flush()) + row.stops.flush())
        if row.job.cancelled:
            reason = "cancelled"
        return Outcome(reason, len(row.job.prompt_ids), row.generated)

    # --- the batch's cache
    def _join(self, rows: list[_Row], cache: Any, mask: Any) -> None:
        """``rows`` join the batch with their prefill's ``cache`` and ``mask`` (0 for their padding)."""
        torch = self._torch
        self._layout = None
        if not self.rows:
            self.rows, self._cache, self._mask = list(rows), cache, mask
            return
        width = max(self._mask.shape[1], mask.shape[1])
        for mine, theirs in zip(self._cache.layers, cache.layers, strict=True):
            mine.keys = torch.cat([_left_pad(mine.keys, width, torch), _left_pad(theirs.keys, width, torch)])
            mine.values = torch.cat([_left_pad(mine.values, width, torch), _left_pad(theirs.values, width, torch)])
        self._mask = torch.cat([_left_pad(self._mask, width, torch), _left_pad(mask, width, torch)])
        self.rows.extend(rows)

    def _drop(self, indices: list[int], reasons: dict[int, str] | str) -> list[tuple[Job, Outcome]]:
        if not indices:
            return []
        torch = self._torch
        gone = set(indices)
        self._layout = None
        ended = [
            (self.rows[i].job, self._outcome(self.rows[i], reasons if isinstance(reasons, str) else reasons[i]))
            for i in indices
        ]
        keep = [i for i in range(len(self.rows)) if i not in gone]
        self.rows = [self.rows[i] for i in keep]
        if not keep:
            self._cache = self._mask = None
            return ended
        index = torch.tensor(keep, device=self.device)
        mask = self._mask[index]
        # Columns that are padding in every remaining row: cut, so a long sequence that left frees its memory.
        first = int((mask.cumsum(dim=1) == 0).sum(dim=1).min().item())
        self._mask = mask[:, first:]
        for layer in self._cache.layers:
            layer.keys = layer.keys[index, :, first:, :]
            layer.values = layer.values[index, :, first:, :]
        return ended


class _Layout:
    """What the decode step needs to know about the rows, worked out once each time rows join or
    leave (not at every token): whether any row is left-padded, whether any samples greedily, and
    the rows whose EOS ids are banned (ignore_eos) as index tensors for one masked write."""

    def __init__(self, rows: list[_Row], mask: Any, torch: Any, device: str) -> None:
        self.padded = bool((mask == 0).any().item())
        self.greedy = any(row.sampler.greedy for row in rows)
        pairs = [(i, token) for i, row in enumerate(rows) if row.sampler.greedy for token in row.sampler.banned]
        self.banned_rows: Any = None
        self.banned_ids: Any = None
        if pairs:
            self.banned_rows = torch.tensor([i for i, _ in pairs], device=device)
            self.banned_ids = torch.tensor([token for _, token in pairs], device=device)


def _left_pad(tensor: Any, width: int, torch: Any) -> Any:
    """``tensor`` with zero columns before its sequence axis (-2 for K/V, 1 for a mask) to ``width``."""
    axis = 1 if tensor.dim() == 2 else -2
    missing = width - tensor.shape[axis]
    if missing <= 0:
        return tensor
    shape = list(tensor.shape)
    shape[axis] = missing
    return torch.cat([tensor.new_zeros(shape), tensor], dim=axis)


def cache_argument(model: Any) -> str:
    """The forward's name for the KV cache: ``cache`` (transformers 5.x), ``past_key_values`` before."""
    return "cache" if "cache" in _parameters(model) else "past_key_values"


def _parameters(model: Any) -> frozenset[str]:
    import inspect

    try:
        return frozenset(inspect.signature(model.forward).parameters)
    except (TypeError, ValueError):
        return frozenset()


def returned_cache(out: Any) -> Any:
    cache = getattr(out, "cache", None)
    return cache if cache is not None else getattr(out, "past_key_values", None)


def cache_is_batchable(cache: Any) -> bool:
    """Whether every layer of a prefill's cache is a plain growing one (rows can be joined and cut)."""
    from transformers.cache_utils import DynamicLayer

    layers: list[Any] = list(getattr(cache, "layers", None) or [])
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)
