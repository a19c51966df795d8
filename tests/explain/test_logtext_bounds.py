"""LogText stays linear in time and bounded in memory whatever the log holds (issue 17: 30 MiB of
bare newlines took 9-50 s and 1.6 GiB; 5 MB of bare CRs 12 s): line breaks of every kind,
blank runs folded, and only the head and tail of a log of more than MAX_LOG_LINES lines kept."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gpu_preflight.core.limits import MAX_LOG_KEPT_CHARS, MAX_LOG_LINES
from gpu_preflight.explain import explain_bytes, explain_text
from gpu_preflight.explain.logtext import MAX_LINE, LogText

BREAKS = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x85", "\u2028"]
LOGS = st.lists(st.one_of(st.sampled_from(BREAKS), st.text(alphabet="ab \t", min_size=1, max_size=6)), max_size=60).map(
    "".join
)


def _old_lines(text: str) -> list[str]:
    """The lines as the reader kept them before it was bounded: splitlines, rstrip, long lines cut."""
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        lines.extend(
            [line] if len(line) <= MAX_LINE else [line[i : i + MAX_LINE] for i in range(0, len(line), MAX_LINE)]
        )
    return lines


@settings(max_examples=400, deadline=None)
@given(LOGS)
def test_lines_are_splitlines_with_blank_runs_folded(text):
    log = LogText.from_text(text)
    old = _old_lines(text)
    assert log.line_count == len(old)  # the count the explanation reports is unchanged
    assert [line for line in log.lines if line] == [line for line in old if line]
    assert all(a or b for a, b in zip(log.lines, log.lines[1:], strict=False))  # no two blanks in a row


def test_thirty_mib_of_newlines_keeps_one_line():
    log = LogText.from_bytes(b"\n" * (30 << 20))
    assert len(log.lines) <= 2 and log.line_count == 30 << 20


def test_bare_carriage_returns_are_line_ends_and_fold():
    log = LogText.from_text("a\r\r\r\rb\r\n")
    assert log.lines == ["a", "", "b"] and log.line_count == 5


def test_a_log_longer_than_the_cap_keeps_head_and_tail_with_a_note():
    total = MAX_LOG_LINES * 3
    text = "".join(f"line {i}\n" for i in range(total))
    log = LogText.from_text(text)
    assert len(log.lines) <= MAX_LOG_LINES + 1
    assert log.lines[0] == "line 0" and log.lines[-1] == f"line {total - 1}"
    notes = [line for line in log.lines if "left out of the middle" in line]
    assert len(notes) == 1 and f"{total - MAX_LOG_LINES:,} lines" in notes[0]
    assert log.line_count == total


def test_an_error_at_the_end_of_a_huge_log_is_still_found():
    noise = "step 1 loss 0.5\n" * (MAX_LOG_LINES * 2)
    error = "RuntimeError: CUDA error: no kernel image is available for execution on the device\n"
    explanation = explain_text(noise + error)
    assert explanation.causes and explanation.causes[0].cause == "no-kernel-image"
    assert explanation.lines == MAX_LOG_LINES * 2 + 1


def test_the_explanation_counts_every_line_of_a_log_of_blank_lines():
    assert explain_bytes(b"\r" * 100_000).lines == 100_000


def test_a_log_larger_than_the_kept_characters_keeps_head_and_tail():
    """One 20 MB line of words every signature looks for: searched head and tail only (about
    MAX_LOG_KEPT_CHARS), so the phrase searches stay within the time of a 12 MB log."""
    text = "cuda error out of memory driver " * (20 << 20 >> 5) + "\nno kernel image is available for execution"
    log = LogText.from_text(text)
    assert sum(len(line) for line in log.lines) <= MAX_LOG_KEPT_CHARS + 200
    assert any("characters) left out of the middle" in line for line in log.lines)
    assert log.lines[-1] == "no kernel image is available for execution"
