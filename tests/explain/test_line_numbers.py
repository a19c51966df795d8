"""The line numbers explain reports (``matches``) are those of the log as given, whatever the
reader folded, split or left out on the way (see LogText)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gpu_preflight.explain.logtext import MAX_LINE, LineNumbers, LogText, _bounded_lines

PIECES = st.one_of(
    st.sampled_from(["\n", "\r", "\r\n", "\n\n\n", " \t\n", "\x0b"]),
    st.text(alphabet="ab \t", min_size=1, max_size=6),
    st.integers(min_value=1, max_value=3).map(lambda n: "x" * (MAX_LINE * n + 7)),  # split into pieces
)


@settings(max_examples=300, deadline=None)
@given(st.lists(PIECES, max_size=40).map("".join))
def test_every_kept_line_is_numbered_where_it_was(text):
    log = LogText.from_text(text)
    original = text.splitlines()
    for index, line in enumerate(log.lines):
        number = log.number(index)
        assert 1 <= number <= max(len(original), 1)
        if line:
            assert line in original[number - 1], (index, number)


def test_the_tail_of_a_huge_log_keeps_its_numbers():
    text = "".join(f"line {i}\n\n\n" if i % 7 == 0 else f"line {i}\n" for i in range(600))
    numbering = LineNumbers()
    lines, _ = _bounded_lines(text, limit=100, numbering=numbering)
    original = text.splitlines()
    for index, line in enumerate(lines):
        if "left out of the middle" not in line:
            assert original[numbering.number(index) - 1] == line
