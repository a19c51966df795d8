"""elsewhere.toml: the well-known non-GPU messages explain names when no GPU-stack cause fits."""

from __future__ import annotations

import pytest

from gpu_preflight.explain import explain_text
from gpu_preflight.explain.elsewhere import ElsewhereError, known_messages, parse_known_messages


def test_the_shipped_table_loads_and_every_row_names_its_source():
    messages = known_messages()
    assert messages
    assert all(m.source and m.what.endswith(".") for m in messages)


@pytest.mark.parametrize(
    "text",
    [
        "[[message]]\nid = 'x'\nmatch = ['a b']\nwhat = 'w.'\n",  # no source
        "[[message]]\nid = 'x'\nmatch = ['... a']\nwhat = 'w.'\nsource = 's'\n",  # a phrase cannot start with ...
        "[[message]]\nid = 'x'\nmatch = ['ab']\nwhat = 'w.'\nsource = 's'\n" * 2,  # a repeated id
    ],
)
def test_a_malformed_table_is_refused(text):
    with pytest.raises(ElsewhereError):
        parse_known_messages(text)


def test_a_gpu_word_in_a_pip_failure_does_not_hide_what_it_is():
    log = (
        "ERROR: Could not find a version that satisfies the requirement tensorflow-gpu==1.15 (from versions: none)\n"
        "ERROR: No matching distribution found for tensorflow-gpu==1.15\n"
    )
    explanation = explain_text(log)
    assert explanation.causes == []
    assert explanation.elsewhere is not None and explanation.elsewhere.id == "pip-no-matching-distribution"
    assert [m.line for m in explanation.elsewhere.matches] == [1, 2]


def test_a_log_with_nothing_known_still_says_what_to_run():
    explanation = explain_text("Segmentation fault (core dumped)\n")
    assert explanation.causes == [] and explanation.elsewhere is None
    assert explanation.to_dict()["next"] == explanation.next_steps and explanation.next_steps
