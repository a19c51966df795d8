"""How good is explain's guess by wording (explain/resemblance.py) where no signature fires?

Development figures only (the held-out part is measured by explain_accuracy.py, in aggregate):
  wordings, one source left out: each message of explain/wordings.toml is guessed from the
            others, with every message of the same source (URL) left out of the references, so
            a message never meets its own program's other wordings: a wording explain has never
            seen;
  seen logs, by wording alone: each seen log of the corpus guessed from all the wordings, as
            if no signature had fired;
  healthy logs: the speed benchmark's 1 MB training/serving logs without their failing lines,
            which must draw no guess.
Prints how many got a guess, and how many had the right cause first and among three.

    python benchmarks/explain_guess.py
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests"), str(ROOT / "benchmarks")]

from explain_speed import realistic_log  # noqa: E402

from gpu_preflight.explain.logtext import LogText  # noqa: E402
from gpu_preflight.explain.resemblance import WordingIndex, build_index, resemble, wording_index  # noqa: E402
from gpu_preflight.explain.signatures import load_signatures  # noqa: E402

from support.explain_corpus import load_corpus  # noqa: E402


def tally(name: str, cases: Iterable[tuple[str, str | None, WordingIndex]]) -> None:
    information = load_signatures().information
    total = guessed = first = three = 0
    for text, cause, index in cases:
        guess = [r.cause for r in resemble(LogText.from_text(text), index, information)]
        total += 1
        guessed += bool(guess)
        first += cause is not None and guess[:1] == [cause]
        three += cause is not None and cause in guess[:3]
    print(f"  {name:<44} {total:>5} {guessed:>8} {first:>12} {three:>14}")


def main() -> int:
    full = wording_index()
    by_source: dict[str, list[int]] = defaultdict(list)
    for number, wording in enumerate(full.wordings):
        by_source[wording.source].append(number)

    def one_source_left_out() -> Iterable[tuple[str, str | None, WordingIndex]]:
        for numbers in by_source.values():
            others = [w for n, w in enumerate(full.wordings) if n not in numbers]
            index = build_index(others, full.stack_words, full.stack_prefixes)
            for n in numbers:
                yield full.wordings[n].text, full.wordings[n].cause, index

    seen = [log for log in load_corpus() if log.part == "seen"]
    print(f"the guess by wording: {len(full.wordings)} wordings from {len(by_source)} sources")
    print(f"  {'set':<44} {'items':>5} {'guessed':>8} {'right first':>12} {'right in three':>14}")
    tally("wordings, one source left out", one_source_left_out())
    tally("seen logs, by wording alone", ((log.path.read_text("utf-8"), log.cause, full) for log in seen))
    healthy = [realistic_log(1.0, seed=seed, matching=False).decode() for seed in (1, 2, 3)]
    tally("healthy 1 MB logs (must draw no guess)", ((text, None, full) for text in healthy))
    return 0


if __name__ == "__main__":
    sys.exit(main())
