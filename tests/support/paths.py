"""Where the shared real-world fixtures and reference facts are: the `shared` folder beside the
repository. They are never copied into the repo; tests that need them skip when it is absent."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
REAL = SHARED / "fixtures" / "real"
FACTS_JSON = SHARED / "reference" / "cuda-facts.json"
MISSING = f"real fixtures not found at {REAL} (the shared folder beside the repo root)"
