"""`preflight db` shows the engine rules: each release row with its builds, floors and status."""

from __future__ import annotations

from gpu_preflight.knowledge import load_knowledge
from gpu_preflight.report.db import db_document, render_db_text


def test_db_lists_every_engine_rule_with_its_builds_and_provenance() -> None:
    kb = load_knowledge()
    doc = db_document(kb)
    assert doc["counts"]["engine_releases"] == len(doc["engines"]) == len(kb.engine_releases)
    (row,) = [r for r in doc["engines"] if (r["engine"], r["release"]) == ("vllm", "0.20.0")]
    assert row["torch"] == "2.11.0" and row["min_cc"] == "7.5" and row["through"] == "0.27.x"
    assert [(b["variant"], b["cuda"], b["default"]) for b in row["builds"]] == [
        ("cu130", "13.0", True),
        ("cu129", "12.9", False),
    ]
    assert row["status"] == "confirmed" and "VLLM_RN_0200" in row["sources"] and row["conflict"]
    text = render_db_text(doc)
    assert "vllm 0.20.0 .. 0.27.x" in text and "cu129 CUDA 12.9" in text
    assert "llama.cpp 0 (any release; unconfirmed)" in text
