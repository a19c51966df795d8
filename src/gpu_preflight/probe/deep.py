"""``--deep``: import torch for real, in a child process with a timeout, and launch one kernel.

Metadata says which CUDA a wheel was built for; only running a kernel proves the GPU has code
it can execute ("no kernel image is available" appears at the first launch, not at import).
A crash or hang in the child is a result, not our failure.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from gpu_preflight.core.host import Framework, Host
from gpu_preflight.probe.isolated import run_isolated

MARKER = "@@gpu-preflight-deep@@"

# Runs in the child. Every step is guarded so a partial answer still comes back.
TORCH_SCRIPT = r"""
import json, sys
out = {"steps": []}
def emit():
    sys.stdout.write("\n@MARKER@" + json.dumps(out) + "\n"); sys.stdout.flush()
try:
    import torch
    out["version"] = torch.__version__
    out["cuda"] = torch.version.cuda
    out["hip"] = getattr(torch.version, "hip", None)
    out["steps"].append("import")
    out["cuda_available"] = bool(torch.cuda.is_available())
    out["arch_list"] = list(torch.cuda.get_arch_list()) if out["cuda"] else []
    out["devices"] = []
    if out["cuda_available"]:
        for i in range(torch.cuda.device_count()):
            out["devices"].append({"index": i, "name": torch.cuda.get_device_name(i),
                                   "compute_capability": "%d.%d" % torch.cuda.get_device_capability(i)})
        out["steps"].append("devices")
        emit()  # in case the kernel launch below kills the process
        for d in out["devices"]:
            try:
                x = torch.ones(16, device="cuda:%d" % d["index"])
                d["kernel_ok"] = float((x * 2).sum().item()) == 32.0
            except Exception as exc:
                d["kernel_ok"] = False
                d["kernel_error"] = str(exc).strip().splitlines()[0][:400] if str(exc).strip() else type(exc).__name__
        out["steps"].append("kernels")
except Exception as exc:
    out["error"] = "%s: %s" % (type(exc).__name__, str(exc)[:400])
emit()
""".replace("@MARKER@", MARKER)


def probe_torch_deep(host: Host, python: str | None, timeout: float) -> None:
    """Attach what a real torch import saw to the torch framework entry (adding one if metadata
    missed it)."""
    outcome = run_isolated([python or sys.executable, "-c", TORCH_SCRIPT], timeout)
    result = _last_marked_json(outcome.stdout)
    torch = next((f for f in host.frameworks if f.name == "torch"), None)
    if result is None:
        if torch is not None:
            torch.details["deep_error"] = outcome.describe_failure()
        host.add_error("deep", "torch: " + outcome.describe_failure())
        return
    if not outcome.ok:
        result["crashed"] = outcome.describe_failure()
    if "version" not in result and torch is None:
        host.add_error("deep", "torch: " + result.get("error", "not importable"))
        return
    if torch is None:
        torch = Framework(name="torch", version=result["version"], cuda=result.get("cuda"), source="deep")
        host.frameworks.append(torch)
    torch.details["deep"] = result


def _last_marked_json(stdout: str) -> dict[str, Any] | None:
    """The child's last report; None when there is none, or it is not a JSON object (a torch
    import that printed our marker itself cannot pass for a result)."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARKER):
            try:
                result = json.loads(line[len(MARKER) :])
            except ValueError:
                return None
            return result if isinstance(result, dict) else None
    return None
