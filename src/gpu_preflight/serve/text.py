"""Generated tokens -> text, as it streams: incremental detokenisation, stop strings, and the
``<think>...</think>`` split. Each holds back only what the next token may still change."""

from __future__ import annotations

from collections.abc import Callable

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
REPLACEMENT = "\ufffd"  # what a tokenizer decodes half of a multi-byte character to


class IncrementalDecoder:
    """Decodes one token at a time in O(1) per token: each step decodes a short window (the
    last emitted token for context, so that tokenizers which drop a word's leading space when
    it stands alone keep it) instead of the whole sequence."""

    def __init__(self, decode: Callable[[list[int]], str]):
        self._decode = decode
        self._ids: list[int] = []
        self._prefix = 0  # window start: context that was already emitted
        self._read = 0  # window end of what was already emitted
        self._prefix_text = ""

    def push(self, token_id: int) -> str:
        self._ids.append(token_id)
        text = self._decode(self._ids[self._prefix :])
        if len(text) <= len(self._prefix_text) or text.endswith(REPLACEMENT):
            return ""  # half a character, or a token that decodes to nothing yet
        delta = text[len(self._prefix_text) :]
        self._prefix, self._read = self._read, len(self._ids)
        self._prefix_text = self._decode(self._ids[self._prefix : self._read])
        return delta

    def flush(self) -> str:
        """What is still pending at the end (an incomplete character stays U+FFFD)."""
        text = self._decode(self._ids[self._prefix :])
        return text[len(self._prefix_text) :] if len(text) > len(self._prefix_text) else ""


class StopMatcher:
    """Cuts the text at the first stop string; holds back a tail that may begin one."""

    def __init__(self, stops: tuple[str, ...] = ()):
        self._stops = tuple(s for s in stops if s)
        self._held = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        if not self._stops:
            return text
        buffer = self._held + text
        found = [i for i in (buffer.find(s) for s in self._stops) if i >= 0]
        if found:
            self.stopped, self._held = True, ""
            return buffer[: min(found)]
        keep = _partial_suffix(buffer, self._stops)
        self._held = buffer[len(buffer) - keep :]
        return buffer[: len(buffer) - keep]

    def flush(self) -> str:
        held, self._held = self._held, ""
        return held


class ReasoningSplitter:
    """Splits text into ("reasoning", ...) inside <think>...</think> and ("content", ...)
    outside. ``in_reasoning``: the prompt already opened the block (templates that end the
    generation prompt with <think>)."""

    def __init__(self, in_reasoning: bool = False):
        self.in_reasoning = in_reasoning
        self._held = ""

    def feed(self, text: str) -> list[tuple[str, str]]:
        buffer, pieces = self._held + text, list[tuple[str, str]]()
        while True:
            tag = THINK_CLOSE if self.in_reasoning else THINK_OPEN
            at = buffer.find(tag)
            if at < 0:
                break
            self._add(pieces, buffer[:at])
            buffer, self.in_reasoning = buffer[at + len(tag) :], not self.in_reasoning
        keep = _partial_suffix(buffer, (tag,))
        self._add(pieces, buffer[: len(buffer) - keep])
        self._held = buffer[len(buffer) - keep :]
        return pieces

    def flush(self) -> list[tuple[str, str]]:
        pieces: list[tuple[str, str]] = []
        self._add(pieces, self._held)
        self._held = ""
        return pieces

    def _add(self, pieces: list[tuple[str, str]], text: str) -> None:
        if text:
            pieces.append(("reasoning" if self.in_reasoning else "content", text))


def split_reasoning(text: str, in_reasoning: bool = False) -> tuple[str | None, str]:
    """The whole text at once: (reasoning or None, content)."""
    splitter = ReasoningSplitter(in_reasoning)
    parts = {"reasoning": "", "content": ""}
    for kind, piece in splitter.feed(text) + splitter.flush():
        parts[kind] += piece
    return (parts["reasoning"] or None), parts["content"]


def _partial_suffix(text: str, needles: tuple[str, ...]) -> int:
    """Length of the longest tail of ``text`` that is a proper prefix of one of ``needles``."""
    longest = min(len(text), max(len(n) for n in needles) - 1)
    for size in range(longest, 0, -1):
        tail = text[-size:]
        if any(n.startswith(tail) for n in needles):
            return size
    return 0
