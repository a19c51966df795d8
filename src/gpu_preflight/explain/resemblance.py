"""When no signature fires: the programs' own messages (wordings.toml) the log's lines read most
like, as a guess at the cause, never as a finding.

A line and a message are compared as sets of words and word pairs, each weighted by how rare it
is among the messages (tf-idf, cosine). Only lines that mention the stack are compared
(stack_words in wordings.toml), so a pip or Python error yields no guess. The causes of the K
closest messages vote with their similarity: several close messages of one cause outweigh a
single one. Words are the folded words of the log (lowercase letters and digits, as the phrases
see them), so a guess costs one pass over the lines the gate lets through.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from gpu_preflight.core.findings import CAUSES
from gpu_preflight.core.readers import parse_toml
from gpu_preflight.explain.logtext import LogText, Phrase, fold
from gpu_preflight.explain.matcher import LineMatch, line_matches

NEAREST = 5  # messages whose causes vote
SHOWN = 3  # causes guessed at most
MIN_SIMILARITY = 0.15  # below this a message shares a common word or two with the line, no more
MAX_LINES = 500  # lines read at each end of a long log (the end first): a cause shows near either
MAX_WORDS = 80  # of a line: a message is shorter; a longer line is data (a dump, a JSON blob)
MAX_WORK = 400_000  # (term, message) pairs weighed per log: a real log needs a few thousand
TRACEBACK_FRAME = 'File "'  # a Python traceback's frame line: a place in the code, not a message
WORD_SIZES = range(2, 31)  # shorter is noise (a unit, a variable); longer is a hash or a path


@dataclass(frozen=True)
class Wording:
    """A program's own message and the cause it means (a row of wordings.toml)."""

    text: str
    cause: str
    project: str
    source: str


@dataclass(frozen=True)
class Resemblance:
    """A cause guessed because a line of the log reads like a message that means it."""

    cause: str
    similarity: float  # the cosine of the line and the message, 0..1
    match: LineMatch  # the line of the log
    wording: Wording  # the message it resembles
    title: str = ""  # what the cause means (its title in signatures.toml)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cause": self.cause,
            "title": self.title,
            "similarity": self.similarity,
            "match": self.match.to_dict(),
            "resembles": {"text": self.wording.text, "project": self.wording.project, "source": self.wording.source},
        }


@dataclass(frozen=True)
class WordingIndex:
    wordings: tuple[Wording, ...]
    postings: dict[str, tuple[tuple[int, float], ...]]  # term -> (wording, its unit-length weight)
    weight: dict[str, float]  # term -> idf
    unknown: float  # the idf of a term no message has: it lengthens the line, shares nothing
    stack_words: frozenset[str]
    stack_prefixes: tuple[str, ...]

    def is_stack_line(self, words: list[str]) -> bool:
        return any(w in self.stack_words or w.startswith(self.stack_prefixes) for w in words)


class WordingsError(ValueError):
    """wordings.toml is malformed (a bug in the shipped data; tests catch it)."""


def terms(words: list[str]) -> set[str]:
    """A line's words and adjacent word pairs, letters first (a bare number says little)."""
    kept = [w for w in words if len(w) in WORD_SIZES and w[0].isalpha()]
    return set(kept) | {f"{a} {b}" for a, b in zip(kept, kept[1:], strict=False)}


def parse_wordings(text: str) -> WordingIndex:
    data = parse_toml(text, "wordings.toml", error=WordingsError)
    wordings = []
    for row in data.get("message", []):
        if not {"text", "cause", "project", "source"} <= set(row) or row["cause"] not in CAUSES:
            raise WordingsError(f"message {str(row.get('text'))[:60]!r}: needs text, a known cause, project, source")
        if row.get("expect") != "none":  # printed as information: never a reason to guess
            wordings.append(Wording(str(row["text"]), str(row["cause"]), str(row["project"]), str(row["source"])))
    stack_words = frozenset(str(w) for w in data.get("stack_words", []))
    return build_index(wordings, stack_words, tuple(str(p) for p in data.get("stack_prefixes", [])))


def build_index(wordings: list[Wording], stack_words: frozenset[str], stack_prefixes: tuple[str, ...]) -> WordingIndex:
    counted = [terms(_words(w.text)) for w in wordings]
    frequency: dict[str, int] = defaultdict(int)
    for found in counted:
        for term in found:
            frequency[term] += 1
    size = len(wordings)
    weight = {term: math.log((size + 1) / (count + 0.5)) for term, count in frequency.items()}
    postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for number, found in enumerate(counted):
        length = math.sqrt(sum(weight[t] ** 2 for t in found)) or 1.0
        for term in found:
            postings[term].append((number, weight[term] / length))
    return WordingIndex(
        tuple(wordings),
        {term: tuple(rows) for term, rows in postings.items()},
        weight,
        math.log((size + 1) / 0.5),
        stack_words,
        stack_prefixes,
    )


@lru_cache(maxsize=1)
def wording_index() -> WordingIndex:
    return parse_wordings(resources.files("gpu_preflight.explain").joinpath("wordings.toml").read_text("utf-8"))


def resemble(
    log: LogText, index: WordingIndex | None = None, information: tuple[Phrase, ...] = ()
) -> list[Resemblance]:
    """The causes whose messages the log's stack lines read most like, closest first; lines that
    are ``information`` (printed by a program that goes on: pip's progress) are not compared."""
    if not log.words:  # blank: nothing to compare (and the messages need not be read)
        return []
    index = index or wording_index()
    # Lines alike in the words the messages know differ only in length: the shortest is closest.
    shortest: dict[frozenset[str], tuple[float, int]] = {}
    for line, found in _stack_lines(log, index, information):
        known = frozenset(found & index.postings.keys())
        length = math.sqrt(sum(index.weight.get(t, index.unknown) ** 2 for t in found))
        if known and (known not in shortest or length < shortest[known][0]):
            shortest[known] = (length, line)
    best: dict[int, tuple[float, int]] = {}  # wording -> (similarity, line index)
    budget = MAX_WORK
    for known, (length, line) in shortest.items():
        work = sum(len(index.postings[term]) for term in known)
        if work > budget:
            break  # a hostile log: what was compared stands
        budget -= work
        shared: dict[int, float] = defaultdict(float)
        for term in known:
            share = index.weight[term] / length
            for number, weight in index.postings[term]:
                shared[number] += share * weight
        for number, similarity in shared.items():
            if similarity > best.get(number, (0.0, 0))[0]:
                best[number] = (similarity, line)
    nearest = sorted(best.items(), key=lambda item: (-item[1][0], item[0]))[:NEAREST]
    votes: dict[str, float] = defaultdict(float)
    closest: dict[str, tuple[float, int, int]] = {}
    for number, (similarity, line) in nearest:
        if similarity < MIN_SIMILARITY:
            break
        cause = index.wordings[number].cause
        votes[cause] += similarity
        closest.setdefault(cause, (similarity, line, number))
    out = []
    for cause in sorted(votes, key=lambda c: -votes[c])[:SHOWN]:
        similarity, line, number = closest[cause]
        match = line_matches(log, [line])[0]
        out.append(Resemblance(cause, round(similarity, 2), match, index.wordings[number]))
    return out


def _stack_lines(log: LogText, index: WordingIndex, information: tuple[Phrase, ...] = ()) -> list[tuple[int, set[str]]]:
    """(line index, terms) of the distinct lines that mention the stack: all of them, or in a long
    log the last MAX_LINES lines, then the first MAX_LINES."""
    count = len(log.lines)
    numbers = range(count) if count <= 2 * MAX_LINES else [*range(count - MAX_LINES, count), *range(MAX_LINES)]
    seen: set[str] = set()
    found: list[tuple[int, set[str]]] = []
    for number in numbers:
        line = log.lines[number]
        if not line.strip() or line in seen or line.lstrip().startswith(TRACEBACK_FRAME):
            continue
        seen.add(line)
        words = log.folded[log.starts[number] : log.starts[number] + len(line)].decode("ascii").split()[:MAX_WORDS]
        if index.is_stack_line(words) and not log.line_has(number, information):
            found.append((number, terms(words)))
    return found


def _words(text: str) -> list[str]:
    return fold(text).decode("ascii").split()
