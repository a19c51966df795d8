"""`preflight db`: the document and its text rendering."""

from __future__ import annotations

import json

from gpu_preflight.knowledge import DATA_FILES, KnowledgeBase
from gpu_preflight.report.db import SCHEMA, db_document, render_db_text


def test_db_document_shape(kb: KnowledgeBase) -> None:
    doc = db_document(kb)
    json.dumps(doc)  # serialisable as is
    assert doc["schema"] == SCHEMA == "gpu-preflight/db/v1"
    data = doc["data"]
    assert (data["version"], data["date"]) == ("2026.12.06", "2026-12-06")  # the newest file's header
    # the newest dated source says how current the facts are (sources.toml `date`)
    dated = [s for s in kb.sources.values() if s.date]
    assert data["newest_source"]["date"] == max(s.date for s in dated)
    assert kb.sources[data["newest_source"]["key"]].date == data["newest_source"]["date"]
    assert doc["counts"]["toolkit_releases"] == len(kb.toolkit_releases) == 73  # + 12.3.2 12.8.2 12.9.2 13.1.2
    assert doc["counts"]["minor_compat_floors"] == 3
    assert doc["counts"]["gpu_products"] == len(kb.gpu_products)
    assert doc["counts"]["torch_releases"] == 16
    assert doc["counts"]["cuda_require_values"] == 54  # + 13.1.1, 13.2.0 read from images
    assert all(isinstance(n, int) and n > 0 for n in doc["counts"].values())
    assert doc["newest"] == {
        "cuda": "13.5",
        "cuda_status": "unconfirmed",
        "cuda_confirmed": "13.3.1",  # its runfile name confirms the third-party table copies
        "driver_branch": 620,
        "driver_branch_max_cuda": None,
        "driver_branch_status": "unconfirmed",
        "torch": "2.14",
    }
    files = doc["loaded_from"]["files"]
    assert [f["name"] for f in files] == list(DATA_FILES)
    assert {f["origin"] for f in files} == {"packaged"} and doc["loaded_from"]["directory"] is None
    assert doc["loaded_from"]["env_var"] == "GPU_PREFLIGHT_DB"
    keys = [s["key"] for s in doc["sources"]]
    assert keys == sorted(keys) and "RN1322" in keys
    rn = next(s for s in doc["sources"] if s["key"] == "RN1322")
    assert rn["url"].startswith("https://docs.nvidia.com/")
    assert doc["quality"]["rows_with_conflict"] > 0 and doc["quality"]["rows_unconfirmed"] > 0


def test_render_db_text(kb: KnowledgeBase) -> None:
    text = render_db_text(db_document(kb))
    newest = db_document(kb)["data"]["newest_source"]
    assert text.startswith(
        f"Knowledge base 2026.12.06 (2026-12-06; newest source dated {newest['date']} ({newest['key']})), "
        "from packaged data"
    )
    assert "13.5 (unconfirmed)" in text and "R620" in text and "2.14" in text
    assert "GPU_PREFLIGHT_DB" in text
