#!/usr/bin/env bash
# The one prepared check on a machine with an NVIDIA GPU: what preflight reports against what
# the driver itself says, and doctor's verdicts there. Results go to $OUT (or ./gpu-check-out).
# Run from the repository root; needs python3 with nvidia-ml-py (pynvml) and packaging.
set -uo pipefail
OUT=${OUT:-./gpu-check-out}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 NO_COLOR=1
PF="python3 -m gpu_preflight"
log() { echo "== $*" | tee -a "$OUT/summary.txt"; }

log "machine"
nvidia-smi -L | tee -a "$OUT/summary.txt"
nvidia-smi -q -x > "$OUT/nvidia-smi.xml"
nvidia-smi --query-gpu=index,name,uuid,compute_cap,memory.total,memory.used,driver_version --format=csv,noheader \
  > "$OUT/query-gpu.csv"

log "probe vs nvidia-smi"
$PF probe --json > "$OUT/probe.json" 2> "$OUT/probe.err"; echo "probe exit $?" | tee -a "$OUT/summary.txt"
python3 scripts/compare_probe.py "$OUT/probe.json" "$OUT/nvidia-smi.xml" "$OUT/query-gpu.csv" | tee -a "$OUT/summary.txt"

log "timings (whole process, 5 runs each)"
for cmd in "probe --json" "doctor --json"; do
  python3 - "$cmd" <<'PY' | tee -a "$OUT/summary.txt"
import statistics, subprocess, sys, time
cmd = ["python3", "-m", "gpu_preflight", *sys.argv[1].split()]
times = []
for _ in range(5):
    t = time.perf_counter(); subprocess.run(cmd, capture_output=True); times.append(time.perf_counter() - t)
print(f"{sys.argv[1]:>14}: median {statistics.median(times) * 1000:.0f} ms")
PY
done

log "doctor verdicts"
run_doctor() {  # name, args...
  local name=$1; shift
  $PF doctor --json "$@" > "$OUT/doctor-$name.json"; local rc=$?
  python3 - "$OUT/doctor-$name.json" "$name" "$rc" <<'PY' | tee -a "$OUT/summary.txt"
import json, sys
doc = json.load(open(sys.argv[1]))
bad = [f"{f['severity']}:{f['cause'] or f['code']}" for f in doc["findings"] if f["severity"] in ("warn", "fail")]
print(f"{sys.argv[2]:>22}: exit {sys.argv[3]} status {doc['status']} {' '.join(bad)}")
PY
}
run_doctor installed --deep
run_doctor torch-2.11-cu130 --torch 2.11.0+cu130
run_doctor torch-2.4-cu121 --torch 2.4.1+cu121
run_doctor torch-1.13-cu117 --torch 1.13.1+cu117
run_doctor cuda-13.2 --cuda 13.2
run_doctor driver-535-whatif --torch 2.11.0+cu130 --assume-driver 535.104.05

# Later checks (fit, monitor, serve) append below when those commands exist.
for extra in scripts/gpu-check.d/*.sh; do
  [ -e "$extra" ] && { log "$(basename "$extra")"; OUT="$OUT" bash "$extra"; }
done
log "done"
