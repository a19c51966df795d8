"""Names read from files reach the terminal and the Markdown report as text: no escape sequence
(``ESC [2J``, an OSC window title), C1 control, lone CR or bidi override passes through
(``core.text.printable``). JSON output is left alone: JSON escapes them itself."""

from __future__ import annotations

import io
import json
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpu_preflight.checks.diagnose import Report, diagnose
from gpu_preflight.core.findings import Finding, Severity
from gpu_preflight.core.host import Host, ProbeError
from gpu_preflight.core.text import printable
from gpu_preflight.report.markdown import render_report_markdown
from gpu_preflight.report.terminal import Style, render_report

from support.host_docs import T4, host_doc

# What a terminal acts on: C0 but newline, DEL, C1; the bidi controls; LS and PS; surrogates.
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")
HOSTILE = [
    "\x1b[2J\x1b[H",  # clear the screen
    "\x1b]0;pwned\x07",  # set the window title
    "\x9b31m",  # C1 CSI
    "ok\rEVIL",  # a lone CR overwrites the line
    "\u202eevil\u202c",  # right-to-left override
    "a|b`c`</details><img src=x>",
    "\ud800",  # a lone surrogate: printing it would raise
]
NAMES = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40))


def _style() -> Style:
    return Style(io.TextIOWrapper(io.BytesIO(), encoding="utf-8"))


def _snapshot(hostname: str, gpu_name: str) -> Host:
    doc = host_doc(hostname, "550.54.15", "12.4", T4)
    doc["gpus"][0]["name"] = gpu_name
    doc["errors"] = [{"probe": "nvml", "message": f"cannot read {gpu_name}"}]
    return Host.from_dict(json.loads(json.dumps(doc)))  # as read from a --snapshot file


def test_printable_escapes_controls_and_keeps_the_rest():
    assert printable("\x1b]0;t\x07 T4\r\n\u202e·é") == "\\x1b]0;t\\x07 T4\\r\n\\u202e·é"
    assert printable("a\nb", one_line=True) == "a\\nb"
    assert printable("NVIDIA H100 80GB HBM3") == "NVIDIA H100 80GB HBM3"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostname=NAMES, gpu_name=NAMES)
def test_snapshot_names_reach_terminal_and_markdown_as_text(hostname, gpu_name):
    report = diagnose(_snapshot(hostname, gpu_name))
    for text in (
        render_report(report, _style()),
        render_report(report, _style(), verbose=True),
        render_report_markdown(report),
    ):
        text.encode("utf-8")  # no lone surrogate left
        assert not UNSAFE.search(text), UNSAFE.search(text)


@given(text=st.text(max_size=60))
def test_printable_output_is_always_safe(text):
    assert not UNSAFE.search(printable(text))
    assert "\n" not in printable(text, one_line=True)


def test_markdown_structure_survives_a_hostile_name():
    host = Host(hostname="a`b|</details>", source="snapshot", errors=[ProbeError("nvml", "x | <b>y</b>")])
    finding = Finding(code="gpu", severity=Severity.WARN, title="GPU 0: <img src=x> `T4`", fix=["pip install `x`"])
    text = render_report_markdown(Report(host=host, findings=[finding]))
    assert "on ``a`b|</details>``" in text  # a longer fence: the backtick stays inside the span
    assert "<img" not in text and "</details>" in text.splitlines()[-1]  # only the report's own
    assert "- nvml: x | &lt;b&gt;y&lt;/b&gt;" in text
    assert "fix: `` pip install `x` ``" in text  # padded: the span ends with a backtick
