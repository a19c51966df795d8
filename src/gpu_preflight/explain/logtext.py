"""A pasted log, cleaned once and searched many times.

Real logs arrive with CRLF or bare-CR progress bars, ANSI colours, lines wrapped by a terminal
or a GitHub comment box, UTF-16 from PowerShell redirection, and now and then megabytes of
training output around the one line that matters. ``LogText`` keeps the cleaned lines (for
evidence and fact extraction) and a folded copy of the whole text for phrase search:
ASCII-only, lower case, every character that is not a letter or digit turned into a space,
newlines included, and *the same length* as the text, so an offset found in the folded copy
is an offset in the text. Matching whole words across line ends is what makes wrapped lines
match; searching bytes with ``bytes.find`` and literal-anchored patterns keeps a 10 MB log fast
and every search linear.
"""

from __future__ import annotations

import codecs
import re
import sys
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from itertools import accumulate

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.limits import MAX_LOG_BYTES, MAX_LOG_KEPT_CHARS, MAX_LOG_LINES
from gpu_preflight.core.readers import read_input

MAX_LINE = 4096  # longer lines are split into pieces of this size (a JSON blob, a one-line dump)
_WORDS_CHUNK = 1 << 20  # bytes of the folded text split into words at a time
GAP = 240  # "..." in a phrase: at most this many characters between the words around it
MAX_HITS = 3  # evidence kept per phrase
MAX_ANCHORED = 64  # a phrase whose rarest word occurs more often is searched over the whole text

# CSI (colours, cursor moves), OSC (titles, hyperlinks; bounded), and two-byte escapes.
_ANSI = re.compile(r"\x1b\[[0-?]{0,32}[ -/]{0,8}[@-~]|\x1b\][^\x07\x1b]{0,512}(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")
# Control characters that never occur in text: their share tells a binary file from a log.
_BINARY = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
# What str.splitlines() also ends a line at, besides \n and \r: rare, so replaced only when present.
_OTHER_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
# Blank (or blank after rstrip) lines in a row: kept as one, they carry nothing. Single-character
# repeats only: a repeated group would keep a backtracking frame per line (GiBs for 30M lines).
_BLANK_RUN = re.compile(r"\n[ \t\n]*\n")
_LEADING_BLANKS = re.compile(r"\A[ \t\n]*\n")
# A blank run that removes line ends (three or more): the same spans as _BLANK_RUN's, for numbering.
_LONG_BLANK_RUN = re.compile(r"\n[ \t]*\n[ \t\n]*\n")
MAX_NUMBERED_FOLDS = 100_000  # past this many folded runs (a hostile log) later line numbers drift
# Folding table: ASCII letters to lower case, digits kept, every other byte to a space.
_FOLD = bytes((c | 0x20) if (65 <= c <= 90 or 97 <= c <= 122) else c if 48 <= c <= 57 else 32 for c in range(256))


def _without_escapes(line: str) -> str:
    line = _ANSI.sub("", line).rstrip()
    return line.replace("\x1b", "")  # a stray escape the pattern did not consume


def read_log(path: str, limit: int = MAX_LOG_BYTES) -> bytes:
    """The bytes of a log file, or of stdin for ``-``; one clear UsageError when unreadable.

    An empty log is readable (it simply explains nothing).
    """
    if path == "-" and (sys.stdin is None or sys.stdin.isatty()):
        raise UsageError("no log given: name a FILE, or pipe the log in with '-' (preflight explain - < log.txt)")
    return read_input(path, "log", limit, allow_empty=True, too_big="pass the part around the error")


def decode_log(data: bytes, origin: str = "log") -> str:
    """Text from bytes: UTF-8 (BOM or not), UTF-16 (PowerShell's ``>``), else a legacy 8-bit
    encoding (a GBK or cp1252 console log keeps its ASCII, which is all the signatures need).
    Binary data, recognised by control characters that text never holds, is refused."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = data.decode("utf-16", errors="replace")
    elif len(data) >= 4 and data[1:64:2].count(0) > len(data[1:64:2]) * 0.8 and data[0:64:2].count(0) == 0:
        text = data.decode("utf-16-le", errors="replace")  # UTF-16 without a BOM: every other byte 0
    else:
        text = data.decode("utf-8", errors="replace").removeprefix("\ufeff")
        if text.count("\ufffd", 0, 1 << 20) > min(len(text), 1 << 20) // 100:
            text = data.decode("latin-1")  # not UTF-8: keep every byte, ASCII stays readable
    sample = min(len(text), 1 << 20)
    if sample and sum(1 for _ in _BINARY.finditer(text, 0, sample)) > max(8, sample // 100):
        raise UsageError(f"{origin}: not a text log (binary data)")
    return text


@dataclass
class LogText:
    """Cleaned lines plus the folded search copy (see the module docstring)."""

    lines: list[str]
    omitted: int = 0  # lines of the log not in ``lines``: blank runs folded, the middle of a huge log
    numbering: LineNumbers | None = None  # kept line -> line number in the log as given
    text: str = field(init=False, repr=False)
    folded: bytes = field(init=False, repr=False)
    starts: list[int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.text = "\n".join(self.lines)
        # errors="replace" turns each non-ASCII character into one "?": offsets stay aligned.
        self.folded = self.text.encode("ascii", errors="replace").translate(_FOLD)
        self.starts = list(accumulate((len(line) + 1 for line in self.lines[:-1]), initial=0)) if self.lines else []

    @property
    def line_count(self) -> int:
        """Lines in the log as given (each piece of a split over-long line counted)."""
        return len(self.lines) + self.omitted

    @classmethod
    def from_text(cls, text: str) -> LogText:
        """Lines as ``str.splitlines`` would cut them, in time and memory linear in the text and
        bounded in lines: runs of blank lines fold to one, and past MAX_LOG_LINES only the head
        and the tail are kept, with a line saying how many were left out."""
        numbering = LineNumbers()
        raw_lines, omitted = _bounded_lines(text, numbering=numbering)
        lines: list[str] = []
        for raw in raw_lines:
            # Escapes are rare: a plain line skips the pattern (30 MB of short lines stays fast).
            line = _without_escapes(raw) if "\x1b" in raw else raw.rstrip()
            if len(line) <= MAX_LINE:
                lines.append(line)
            else:
                first = len(lines) + 1
                lines.extend(line[i : i + MAX_LINE] for i in range(0, len(line), MAX_LINE))
                numbering.split(first, len(lines) - first)
        return cls(lines, omitted, numbering)

    def number(self, index: int) -> int:
        """The 1-based line number, in the log as given, of kept line ``index``."""
        return self.numbering.number(index) if self.numbering is not None else index + 1

    @classmethod
    def from_bytes(cls, data: bytes, origin: str = "log") -> LogText:
        return cls.from_text(decode_log(data, origin))

    def line_of(self, offset: int) -> int:
        return max(bisect_right(self.starts, offset) - 1, 0)

    @cached_property
    def word_counts(self) -> Counter[bytes]:
        """How often each folded word occurs. Split a megabyte at a time (cut at a space): 32 MB
        of words is millions of objects at once."""
        found: Counter[bytes] = Counter()
        start, size = 0, len(self.folded)
        while start < size:
            end = self.folded.find(b" ", min(start + _WORDS_CHUNK, size))
            end = size if end < 0 else end
            found.update(self.folded[start:end].split())
            start = end + 1
        return found

    @property
    def words(self) -> Counter[bytes]:
        """Every folded word (a phrase whose words are not all here cannot match): ``in`` works."""
        return self.word_counts

    def lines_with(self, needle: str, limit: int = 200, whole: bool = False) -> list[int]:
        """Indices of lines whose folded text contains ``needle`` (a folded fragment); with
        ``whole``, only where its words are whole words of the log, which the word counts rule
        out without a scan. Several fact rules share a needle: each is searched once."""
        key = fold(needle)
        if whole and not all(word in self.word_counts for word in key.split()):
            return []
        cached = self._lines_with.get((key, limit))
        if cached is None:
            cached = self._lines_with[(key, limit)] = self._find_lines(key, limit)
        return cached

    @cached_property
    def _lines_with(self) -> dict[tuple[bytes, int], list[int]]:
        return {}

    def _find_lines(self, key: bytes, limit: int) -> list[int]:
        found: list[int] = []
        position = self.folded.find(key)
        while position >= 0 and len(found) < limit:
            index = self.line_of(position)
            if not found or found[-1] != index:
                found.append(index)
            position = self.folded.find(key, self.starts[index] + len(self.lines[index]) + 1)
        return found

    def line_has(self, index: int, phrases: Iterable[Phrase]) -> bool:
        """Whether one of ``phrases`` occurs within kept line ``index`` (every occurrence counts,
        not only the first MAX_HITS that ``search`` keeps)."""
        start = self.starts[index]
        line = self.folded[start : start + len(self.lines[index])]
        return any(all(w in self.words for w in p.words) and p.pattern.search(line) for p in phrases)

    def search(self, phrase: Phrase) -> list[tuple[int, int]]:
        """(first line, last line) of up to MAX_HITS places where the phrase occurs.

        A match holds every word of the phrase, so when its rarest word occurs only a few times
        the pattern runs in a window around each occurrence (as wide as the longest match the
        phrase allows) instead of over the whole log: one search per phrase stays well under a
        millisecond on a megabyte of log."""
        counts = self.word_counts
        if not all(word in counts for word in phrase.words):
            return []
        anchor = min(phrase.words, key=lambda word: counts[word])
        if counts[anchor] > MAX_ANCHORED:
            return self._hits(phrase.pattern.finditer(self.folded))
        hits: list[tuple[int, int]] = []
        for low, high in self._windows(anchor, phrase.span):
            hits.extend(h for h in self._hits(phrase.pattern.finditer(self.folded, low, high)) if h not in hits)
            if len(hits) >= MAX_HITS:
                break
        return hits[:MAX_HITS]

    def _hits(self, matches: Iterator[re.Match[bytes]]) -> list[tuple[int, int]]:
        hits: list[tuple[int, int]] = []
        for match in matches:
            hits.append((self.line_of(match.start()), self.line_of(match.end() - 1)))
            if len(hits) >= MAX_HITS:
                break
        return hits

    def _windows(self, word: bytes, span: int) -> list[tuple[int, int]]:
        """Merged (start, end) ranges of the folded text within ``span`` of each whole-word
        occurrence of ``word``; each end falls on a space (or the end), so the pattern's
        "no letter after the last word" holds there as it does in the whole text."""
        folded, size = self.folded, len(self.folded)
        windows: list[tuple[int, int]] = []
        position = folded.find(word)
        while position >= 0:
            end = position + len(word)
            whole = (position == 0 or folded[position - 1] == 32) and (end == size or folded[end] == 32)
            if whole:
                low = max(position - span, 0)
                high = folded.find(b" ", min(end + span, size))
                high = size if high < 0 else high
                if windows and low <= windows[-1][1]:
                    windows[-1] = (windows[-1][0], high)
                else:
                    windows.append((low, high))
            position = folded.find(word, end)
        return windows


class LineNumbers:
    """Kept line index -> 1-based line number in the log as given, through the three ways the
    reader changes lines: blank runs folded, the middle of a huge log left out, over-long lines
    split. Each is recorded as a few breakpoints; a lookup is a bisection."""

    def __init__(self) -> None:
        self.folds: list[int] = []  # line index after folding where ...
        self.folded: list[int] = []  # ... this many line ends were removed before it (cumulative)
        self.head = -1  # lines kept before the "left out of the middle" note; -1: nothing left out
        self.tail_first = 0  # line index (after folding) of the first line after the note
        self.pieces: list[tuple[int, int]] = []  # (first, last) kept index of a split line's extra pieces
        self.extra: list[int] = []  # pieces added up to and including that line (cumulative)

    def fold(self, index: int, removed: int) -> None:
        self.folds.append(index)
        self.folded.append((self.folded[-1] if self.folded else 0) + removed)

    def split(self, first: int, added: int) -> None:
        """Kept lines first .. first + added - 1 are more pieces of the line before ``first``."""
        self.pieces.append((first, first + added - 1))
        self.extra.append((self.extra[-1] if self.extra else 0) + added)

    def number(self, index: int) -> int:
        at = bisect_right(self.pieces, (index, sys.maxsize)) - 1
        if at >= 0 and self.pieces[at][0] <= index <= self.pieces[at][1]:
            index = self.pieces[at][0] - 1  # a piece: the line it was cut from
            at -= 1
        raw = index - (self.extra[at] if at >= 0 else 0)
        if 0 <= self.head < raw:
            raw = raw - self.head - 1 + self.tail_first
        at = bisect_right(self.folds, raw) - 1
        return raw + (self.folded[at] if at >= 0 else 0) + 1


def _bounded_lines(
    text: str, limit: int = MAX_LOG_LINES, kept_chars: int = MAX_LOG_KEPT_CHARS, numbering: LineNumbers | None = None
) -> tuple[list[str], int]:
    """(raw lines, lines left out) of ``text``; every pass is one C-level scan of the text. At most
    ``limit`` lines and about ``kept_chars`` characters are kept: the head and the tail. The
    changes to line numbers are recorded in ``numbering``."""
    # \r\n, \n and bare \r (progress bars) all end a line, as in str.splitlines().
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for other in _OTHER_BREAKS:
        if other in text:
            text = text.replace(other, "\n")
    before = _line_count(text)
    if "\n\n" in text or "\n " in text or "\n\t" in text:  # else no line is blank: skip the scan
        leading = _LEADING_BLANKS.match(text)  # the leading blanks first: the same result, simpler numbers
        if leading is not None:
            if numbering is not None and leading.group().count("\n") > 1:
                numbering.fold(1, leading.group().count("\n") - 1)
            text = "\n" + text[leading.end() :]
        if numbering is not None:
            _number_folds(text, numbering)
        text = _BLANK_RUN.sub("\n\n", text)
    end = text.rstrip(" \t\n")
    if "\n" in text[len(end) :]:  # blank lines at the end: none is kept
        text = end + "\n" if end else "\n"
    folded = before - _line_count(text)
    if text.count("\n") < limit and len(text) <= kept_chars:
        return text.splitlines(), folded
    text = text.removesuffix("\n")  # the last line's end, which splitlines does not count
    half, half_chars = limit // 2, kept_chars // 2
    head_end = -1
    for _ in range(half):
        following = text.find("\n", head_end + 1, half_chars)
        if following < 0:
            break
        head_end = following
    if head_end < 0:  # no line end in the first half_chars: one huge line, cut inside it
        head_end = min(half_chars, len(text))
    tail_start, floor = len(text), max(head_end, len(text) - half_chars)
    for _ in range(half):
        previous = text.rfind("\n", floor, tail_start)
        if previous < 0:
            break
        tail_start = previous
    if tail_start == len(text):
        tail_start = floor
    middle = text.count("\n", head_end, tail_start)
    chars = tail_start - head_end
    if numbering is not None:
        numbering.head = len(text[:head_end].splitlines())
        numbering.tail_first = text.count("\n", 0, tail_start + 1)
    note = (
        f"[preflight: {middle:,} lines ({chars:,} characters) left out of the middle of this log; "
        "pass the part around the error]"
    )
    return text[:head_end].splitlines() + [note] + text[tail_start + 1 :].splitlines(), folded + middle - 1


def _number_folds(text: str, numbering: LineNumbers) -> None:
    """Record where _BLANK_RUN will remove line ends (runs of two or more blank lines)."""
    position = line = removed = 0
    for count, match in enumerate(_LONG_BLANK_RUN.finditer(text)):
        if count >= MAX_NUMBERED_FOLDS:
            break
        line += text.count("\n", position, match.end())
        position = match.end()
        run = match.group().count("\n") - 2
        removed += run
        numbering.fold(line - removed, run)


def _line_count(text: str) -> int:
    """``len(text.splitlines())`` once every line end is a newline, without making the list."""
    return text.count("\n") + (0 if not text or text.endswith("\n") else 1)


def fold(text: str) -> bytes:
    return text.encode("ascii", errors="replace").translate(_FOLD)


@dataclass(frozen=True)
class Phrase:
    """A loose phrase: words in order, any punctuation, case or line breaks between them.

    ``...`` stands for up to GAP characters of anything. Words match whole: ``oom`` does not
    match inside ``room``. Compiled to a bytes pattern anchored on a literal first word, with
    only bounded repetition, so a search is linear in the log's size whatever the log holds.
    """

    text: str
    words: tuple[bytes, ...]
    source: bytes  # the pattern, compiled on first use: most phrases never meet a log with all their words
    span: int  # the longest text a match can cover

    @cached_property
    def pattern(self) -> re.Pattern[bytes]:
        return re.compile(self.source, re.DOTALL)

    @classmethod
    def compile(cls, text: str) -> Phrase:
        segments = [fold(part).split() for part in text.split("...")]
        if not segments[0] or not all(segments):
            raise ValueError(f"phrase {text!r}: '...' must stand between words")
        words = tuple(w for segment in segments for w in segment)
        if len(words[0]) < 2:
            raise ValueError(f"phrase {text!r}: must start with a distinctive word")
        body = (rb"[^a-z0-9]{1,%d}" % 40).join  # punctuation and spaces between words
        joined = (rb"(?:[^a-z0-9]{1,40}|[^a-z0-9].{0,%d}?[^a-z0-9])" % GAP).join(
            body(re.escape(w) for w in segment) for segment in segments
        )
        source = rb"(?<![a-z0-9])" + joined + rb"(?![a-z0-9])"
        between = sum(len(segment) - 1 for segment in segments)
        span = sum(len(w) for w in words) + 40 * between + (GAP + 2) * (len(segments) - 1) + 2
        return cls(text, words, source, span)
