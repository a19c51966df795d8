"""Freeze the held-out part of the explain corpus: write tests/explain/corpus/HELD_OUT.sha256.

The file holds one sha256 over the held-out entries of every corpus index (each entry's source
URL, cause and excerpt bytes, sorted by source), with the date of the split and the count as
comments. tests/explain/test_explain_corpus.py fails when the held-out part changes without a
new freeze. Logs added later go to both parts (the `part` of an entry comes from a hash of its
URL), and the freeze is redone once, when the collection ends.

The held-out texts are hashed, never printed.

    python scripts/freeze_heldout.py [--date YYYY-MM-DD] [--check]
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests")]

from support.explain_corpus import FREEZE, held_out_digest, load_corpus, read_freeze  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--date", help="the date of the split (default: today, UTC)")
    parser.add_argument(
        "--check", action="store_true", help="only compare with the frozen digest (exit 1 if it differs)"
    )
    args = parser.parse_args()

    logs = load_corpus()
    sha, count = held_out_digest(logs)
    if args.check:
        frozen = read_freeze()
        if frozen is None:
            print(f"{FREEZE.name} is absent: run python scripts/freeze_heldout.py", file=sys.stderr)
            return 1
        same = frozen.sha256 == sha
        print(f"held-out part: {count} logs, {'unchanged' if same else 'CHANGED'} since the split of {frozen.date}")
        return 0 if same else 1
    date = args.date or datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    try:
        datetime.date.fromisoformat(date)
    except ValueError:
        print(f"--date {date!r}: expected YYYY-MM-DD", file=sys.stderr)
        return 2
    FREEZE.write_text(
        "# The held-out part of the explain corpus, frozen: sha256 over every held-out entry's source URL,\n"
        "# cause and excerpt bytes (tests/support/explain_corpus.py held_out_digest). Regenerate only with\n"
        "# python scripts/freeze_heldout.py, and add new logs to both parts.\n"
        f"# split: {date}\n"
        f"# count: {count}\n"
        f"{sha}\n",
        "utf-8",
    )
    print(f"froze {count} held-out logs ({len(logs)} in all) into {FREEZE.relative_to(ROOT)}: {sha[:16]}...")
    return 0


if __name__ == "__main__":
    sys.exit(main())
