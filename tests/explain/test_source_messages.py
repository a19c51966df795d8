"""Each GPU-stack message as its program's own source prints it (explain/wordings.toml;
``seen_in = "logs"`` for closed programs, known only as printed) ranks the cause it means:
first, among the first three where the message alone means several causes (``expect =
"top3"``), or no cause where the program prints it as information."""

from __future__ import annotations

from importlib import resources

import pytest

from gpu_preflight.core.findings import CAUSES
from gpu_preflight.core.readers import tomllib
from gpu_preflight.explain import explain_text

ROWS = tomllib.loads(resources.files("gpu_preflight.explain").joinpath("wordings.toml").read_text("utf-8"))["message"]


def test_the_table_is_well_formed() -> None:
    assert len(ROWS) >= 90
    assert len({row["text"] for row in ROWS}) == len(ROWS)
    for row in ROWS:
        assert row["cause"] in CAUSES and row["source"].startswith("https://") and row["why"]
        assert row.get("expect", "top1") in ("top1", "top3", "none")
        assert row.get("seen_in", "source") in ("source", "logs")  # logs: a closed program's wording, as printed


@pytest.mark.parametrize("row", ROWS, ids=[f"{row['project']}-{i}" for i, row in enumerate(ROWS)])
def test_the_message_ranks_its_cause(row: dict[str, str]) -> None:
    ranked = [cause.cause for cause in explain_text(row["text"]).causes]
    expect = row.get("expect", "top1")
    if expect == "none":
        assert ranked == [], row["why"]
    elif expect == "top3":
        assert row["cause"] in ranked[:3], ranked
    else:
        assert ranked[:1] == [row["cause"]], ranked
