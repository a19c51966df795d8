"""Compare `preflight probe --json` with what nvidia-smi says on the same machine; print one
line per fact and a final verdict. Used by scripts/gpu-check.sh on a machine with a GPU."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from gpu_preflight.probe.smi_xml import parse_smi_xml


def main(probe_path: str, xml_path: str, csv_path: str) -> int:
    probe = json.loads(Path(probe_path).read_text())
    smi = parse_smi_xml(Path(xml_path).read_bytes())
    rows = list(csv.reader(Path(csv_path).read_text().splitlines()))
    checks = [
        ("driver version", probe["driver"]["version"], smi.driver.version),
        ("driver CUDA", probe["driver"]["cuda"], smi.driver.cuda),
        ("GPU count", len(probe["gpus"]), len(smi.gpus)),
    ]
    # The GPU counts may differ: that is the check above, not an error here.
    for gpu, xml_gpu, row in zip(probe["gpus"], smi.gpus, rows, strict=False):
        cells = [c.strip() for c in row]
        checks += [
            (f"GPU {gpu['index']} name", gpu["name"], xml_gpu.name),
            (f"GPU {gpu['index']} uuid", gpu["uuid"], xml_gpu.uuid),
            (f"GPU {gpu['index']} compute capability", gpu["compute_capability"], cells[3]),
            (f"GPU {gpu['index']} memory total MiB", gpu["memory_total_mib"], xml_gpu.memory_total_mib),
        ]
    failed = 0
    for what, ours, theirs in checks:
        same = str(ours) == str(theirs)
        failed += not same
        print(f"  {'same' if same else 'DIFF'}  {what}: preflight {ours!r} / nvidia-smi {theirs!r}")
    print(f"  probe vs nvidia-smi: {len(checks) - failed}/{len(checks)} facts agree")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:4]))
