#!/usr/bin/env bash
# monitor: one NVML sample against nvidia-smi --query-gpu, JSON lines, replay, the exporter.
set -uo pipefail
PF="python3 -m gpu_preflight"
python3 tests/monitor/test_monitor_gpu.py | tee "$OUT/monitor-vs-smi.txt"; echo "monitor vs nvidia-smi exit ${PIPESTATUS[0]}"
$PF monitor --count 5 --interval 1 --json > "$OUT/monitor.jsonl" 2> "$OUT/monitor.err"; echo "monitor --json exit $?"
$PF monitor --replay "$OUT/monitor.jsonl" > "$OUT/monitor-replay.txt"; echo "replay own JSON exit $?"
$PF monitor --prometheus 9401 --listen 127.0.0.1 > /dev/null 2>&1 & pid=$!; sleep 4
python3 -c "import urllib.request as u; print(u.urlopen('http://127.0.0.1:9401/metrics').read().decode())" \
  | grep -E '^gpu_preflight_(build_info|up|gpu_utilization_ratio|power_watts)' | tee "$OUT/monitor-metrics.txt"
kill -INT $pid; wait $pid; echo "monitor after Ctrl-C exit $? (expect 0)"
