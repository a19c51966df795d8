"""`preflight doctor --json` over the real nvidia-smi XML hosts and the doctor scenario table, written
one file per case so two checkouts (before and after a change) can be compared field by field.

    python scripts/compare_doctor.py dump OUT_DIR        # run every case, write OUT_DIR/<case>.json
    python scripts/compare_doctor.py diff OLD_DIR NEW_DIR  # exit 1 and list the cases that differ

Every case runs the installed command line in a child process (`python -m gpu_preflight`), so the
script does not depend on the package's internal layout. Scenario hosts come from the test table
(tests/checks) and are handed over as `--snapshot` files. The real XML dumps are read from the
shared folder beside the repository; without it only the scenarios run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
XML_DIR = ROOT.parent / "shared" / "fixtures" / "real" / "nvidia-smi-xml"

# Target sets each XML host is judged against: installed (none), a pinned wheel + a runtime, a
# default wheel, an image, and a model plan.
XML_TARGETS: dict[str, tuple[str, ...]] = {
    "none": (),
    "cu121": ("--torch", "2.4.1+cu121", "--cuda", "12.4"),
    "default": ("--torch", "2.9.0", "--cuda", "13.0"),
    "image": ("--image", "nvidia/cuda:12.4.1-runtime-ubuntu22.04"),
    "model": ("--model", "VibeThinker-1.5B", "--context", "32768", "--torch", "2.6.0+cu124"),
}

# Fields that differ from run to run, not from code to code.
VOLATILE = {"elapsed_s", "duration_s", "generated_at", "time", "timestamp"}


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]
    files: tuple[tuple[str, str], ...] = ()  # (file name, contents) written beside the case


def xml_cases() -> Iterator[Case]:
    for path in sorted(XML_DIR.glob("*.xml")) if XML_DIR.is_dir() else ():
        for label, targets in XML_TARGETS.items():
            yield Case(f"xml-{path.stem}-{label}", ("--nvidia-smi-xml", str(path), *targets))


def scenario_cases() -> Iterator[Case]:
    sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests"), str(ROOT / "tests" / "checks")]
    from test_scenarios import SCENARIOS  # type: ignore[import-not-found]

    for scenario in SCENARIOS:
        spec = scenario.host
        base = getattr(spec, "base", spec)
        files = [("snapshot.json", json.dumps(base.to_dict()))]
        args = ["--snapshot", "snapshot.json"]
        if getattr(spec, "assume_driver", None):
            args += ["--assume-driver", spec.assume_driver]
        for gpu in getattr(spec, "assume_gpus", ()):
            args += ["--assume-gpu", gpu]
        for torch in scenario.torch:
            args += ["--torch", torch]
        for cuda in scenario.cuda:
            args += ["--cuda", cuda]
        for n, text in enumerate(scenario.requirements):
            files.append((f"requirements-{n}.txt", text))
            args += ["--requirements", f"requirements-{n}.txt"]
        yield Case(f"scenario-{scenario.id}", tuple(args), tuple(files))


def scrub(value: Any, workdir: str) -> Any:
    if isinstance(value, dict):
        return {k: scrub(v, workdir) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [scrub(v, workdir) for v in value]
    if isinstance(value, str):
        return value.replace(workdir, "<case>")
    return value


def run_case(case: Case) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as workdir:
        for name, text in case.files:
            Path(workdir, name).write_text(text)
        env = dict(os.environ, NO_COLOR="1", PYTHONPATH=str(ROOT / "src"))
        proc = subprocess.run(
            [sys.executable, "-m", "gpu_preflight", "doctor", "--json", *case.args],
            capture_output=True,
            text=True,
            cwd=workdir,
            env=env,
            timeout=120,
        )
        try:
            output: Any = json.loads(proc.stdout)
        except json.JSONDecodeError:
            output = {"stdout": proc.stdout}
        return scrub({"exit": proc.returncode, "stderr": proc.stderr, "report": output}, workdir)


def dump(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    cases = [*xml_cases(), *scenario_cases()]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for case, result in zip(cases, pool.map(run_case, cases), strict=True):
            (out / f"{case.name}.json").write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(f"{len(cases)} cases written to {out}")
    return 0


def diff(old: Path, new: Path) -> int:
    old_names = {p.name for p in old.glob("*.json")}
    new_names = {p.name for p in new.glob("*.json")}
    problems = [f"only in {old}: {n}" for n in sorted(old_names - new_names)]
    problems += [f"only in {new}: {n}" for n in sorted(new_names - old_names)]
    for name in sorted(old_names & new_names):
        if (old / name).read_text() != (new / name).read_text():
            problems.append(f"differs: {name}")
    print("\n".join(problems) or f"{len(old_names)} cases identical")
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="verb", required=True)
    sub.add_parser("dump").add_argument("out", type=Path)
    compare = sub.add_parser("diff")
    compare.add_argument("old", type=Path)
    compare.add_argument("new", type=Path)
    args = parser.parse_args()
    return dump(args.out) if args.verb == "dump" else diff(args.old, args.new)


if __name__ == "__main__":
    raise SystemExit(main())
