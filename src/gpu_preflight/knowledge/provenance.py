"""Where a fact comes from and how sure we are of it: the one value every fact carries.

``status`` says how sure:

* ``confirmed``   an NVIDIA / PyTorch document or source code was read
* ``observed``    seen in real output (nvidia-smi, pip logs, cuobjdump)
* ``derived``     follows from confirmed data (e.g. the branch bundled with a toolkit)
* ``third-party`` copies or summaries of official material
* ``unconfirmed`` a claim we could not verify: callers must say so, never pretend

``sources`` are keys of ``sources.toml``. Where sources disagree, ``conflict`` says how and
``chosen`` which side we took (the conservative one).
"""

from __future__ import annotations

from dataclasses import dataclass

STATUSES = ("confirmed", "observed", "derived", "third-party", "unconfirmed")


def weakest_status(*statuses: str) -> str:
    """The least certain of several statuses (a fact is only as sure as its weakest input)."""
    return max(statuses, key=STATUSES.index)


@dataclass(frozen=True)
class Provenance:
    status: str
    sources: tuple[str, ...]
    note: str = ""
    conflict: str = ""
    chosen: str = ""
