"""Streaming text: incremental detokenisation, stop strings, the <think> split."""

from __future__ import annotations

import pytest

from gpu_preflight.serve.text import IncrementalDecoder, ReasoningSplitter, StopMatcher, split_reasoning

# A byte-level vocabulary: token i decodes to BYTES[i]; several tokens may make one character.
BYTES = [b"He", b"llo", b" w", b"\xc3", b"\xa9", b"\xe2\x82", b"\xac", b"!"]


def decode(ids: list[int]) -> str:
    return b"".join(BYTES[i] for i in ids).decode("utf-8", errors="replace")


def test_incremental_decoder_matches_whole_decode_and_never_emits_half_a_character():
    decoder = IncrementalDecoder(decode)
    ids = [0, 1, 2, 3, 4, 5, 6, 7]
    pieces = [decoder.push(i) for i in ids]
    assert "".join(pieces) + decoder.flush() == decode(ids) == "Hello wé€!"
    assert all("\ufffd" not in piece for piece in pieces)
    assert pieces[3] == "" and pieces[4] == "é"  # held until the character is whole


def test_incremental_decoder_flushes_an_unfinished_character_at_the_end():
    decoder = IncrementalDecoder(decode)
    assert decoder.push(0) == "He"
    assert decoder.push(5) == ""
    assert decoder.flush() == "\ufffd"


@pytest.mark.parametrize(
    ("stops", "chunks", "emitted"),
    [
        ((), ["a", "b"], "ab"),
        (("END",), ["abc E", "N", "D tail"], "abc "),
        (("END",), ["abc E", "Nx"], "abc ENx"),  # a false start is released
        (("xyz", "c"), ["ab", "cxyz"], "ab"),  # the earliest stop wins
        (("\n\n",), ["line\n", "\nnext"], "line"),
    ],
)
def test_stop_matcher(stops, chunks, emitted):
    matcher = StopMatcher(stops)
    out = "".join(matcher.feed(c) for c in chunks)
    if not matcher.stopped:
        out += matcher.flush()
    assert out == emitted
    assert matcher.stopped == (emitted != "".join(chunks))


def test_stop_matcher_holds_back_only_a_possible_start():
    matcher = StopMatcher(("STOP",))
    assert matcher.feed("abcST") == "abc"
    assert matcher.feed("x") == "STx"


@pytest.mark.parametrize(
    ("text", "opened", "expected"),
    [
        ("plain answer", False, (None, "plain answer")),
        ("<think>step 1</think>\n\nanswer", False, ("step 1", "\n\nanswer")),
        ("step 1</think>answer", True, ("step 1", "answer")),  # the template opened the block
        ("<think>unfinished", False, ("unfinished", "")),  # max_tokens hit while thinking
        ("a </think> b", False, (None, "a </think> b")),  # a closing tag alone is content
    ],
)
def test_split_reasoning(text, opened, expected):
    assert split_reasoning(text, opened) == expected


def test_reasoning_splitter_streams_tags_split_across_chunks():
    splitter = ReasoningSplitter()
    pieces = []
    for chunk in ["<th", "ink>ab", "c</th", "ink", ">def"]:
        pieces += splitter.feed(chunk)
    pieces += splitter.flush()
    joined = {kind: "".join(t for k, t in pieces if k == kind) for kind in ("reasoning", "content")}
    assert joined == {"reasoning": "abc", "content": "def"}
    assert all("<" not in text for _, text in pieces)
