"""The held-out freeze (scripts/freeze_heldout.py, HELD_OUT.sha256) notices exactly the changes
that matter: a held-out log edited, added, removed or relabelled; never a change to the seen part."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support.explain_corpus import held_out_digest, load_corpus, read_freeze

ROOT = Path(__file__).resolve().parents[2]

INDEX = """
[[log]]
file = "a.txt"
source = "https://github.com/o/r/issues/1"
cause = "no-driver"
resolution = "Installed the driver and rebooted, reporter confirmed."
part = "held-out"

[[log]]
file = "b.txt"
source = "https://github.com/o/r/issues/2"
cause = "out-of-memory"
resolution = "Lowered the batch size, reporter confirmed it works."
part = "seen"
"""

EXTRA = """
[[log]]
file = "c.txt"
source = "https://forums.example.org/t/3"
cause = "driver-too-old"
resolution = "Updated the driver to 535, reporter confirmed it works."
part = "held-out"
year = 2024
platform = "wsl"
stack = "pytorch"
"""


def _corpus(tmp_path: Path) -> Path:
    (tmp_path / "index.toml").write_text(INDEX)
    (tmp_path / "a.txt").write_text("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n")
    (tmp_path / "b.txt").write_text("torch.OutOfMemoryError: CUDA out of memory.\n")
    return tmp_path


def test_every_index_is_loaded_with_its_optional_fields(tmp_path):
    corpus = _corpus(tmp_path)
    (corpus / "index-drivers.toml").write_text(EXTRA)
    (corpus / "c.txt").write_text("CUDA driver version is insufficient for CUDA runtime version\n")
    logs = load_corpus(corpus)
    assert [log.file for log in logs] == ["a.txt", "b.txt", "c.txt"]
    assert (logs[2].index, logs[2].year, logs[2].platform, logs[2].stack) == (
        "index-drivers.toml",
        2024,
        "wsl",
        "pytorch",
    )
    assert logs[0].year is None and logs[0].platform is None


def test_the_digest_changes_with_the_held_out_part_only(tmp_path):
    corpus = _corpus(tmp_path)
    frozen, count = held_out_digest(load_corpus(corpus))
    assert count == 1

    (corpus / "b.txt").write_text("something else entirely\n")  # a seen log: free to change
    assert held_out_digest(load_corpus(corpus))[0] == frozen

    (corpus / "a.txt").write_text("NVIDIA-SMI has failed.\n")  # a held-out excerpt edited
    assert held_out_digest(load_corpus(corpus))[0] != frozen


def test_relabelling_or_adding_a_held_out_log_changes_the_digest(tmp_path):
    corpus = _corpus(tmp_path)
    frozen, _ = held_out_digest(load_corpus(corpus))
    (corpus / "index.toml").write_text(INDEX.replace('cause = "no-driver"', 'cause = "container-no-gpu"'))
    assert held_out_digest(load_corpus(corpus))[0] != frozen

    (corpus / "index.toml").write_text(INDEX)
    (corpus / "index-drivers.toml").write_text(EXTRA)
    (corpus / "c.txt").write_text("CUDA driver version is insufficient for CUDA runtime version\n")
    assert held_out_digest(load_corpus(corpus)) != (frozen, 1)


def test_the_freeze_file_round_trips(tmp_path):
    path = tmp_path / "HELD_OUT.sha256"
    path.write_text("# comment\n# split: 2026-12-06\n# count: 42\n" + "ab" * 32 + "\n")
    frozen = read_freeze(path)
    assert frozen is not None and (frozen.sha256, frozen.count, frozen.date) == ("ab" * 32, 42, "2026-12-06")
    assert read_freeze(tmp_path / "absent") is None


def test_the_freeze_script_refuses_a_bad_date():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "freeze_heldout.py"), "--date", "yesterday"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "expected YYYY-MM-DD" in result.stderr and "Traceback" not in result.stderr
