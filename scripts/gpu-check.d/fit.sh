#!/usr/bin/env bash
# fit: estimate vs measured peak (issue 7: within 10%), and fit on this host.
set -uo pipefail
PF="python3 -m gpu_preflight"
FIT_RESULTS="$OUT/fit-measured.jsonl" python3 -m pytest tests/fit/test_fit_gpu.py -q -s -rA -p no:cacheprovider \
  | tee "$OUT/fit-measured.txt"; echo "fit estimate vs measured exit ${PIPESTATUS[0]}"
for ctx in 4096 32768; do
  $PF fit VibeThinker-1.5B --engine transformers --dtype bfloat16 --context $ctx --json > "$OUT/fit-hf-$ctx.json"; echo "fit transformers $ctx exit $?"
done
$PF fit VibeThinker-1.5B --json > "$OUT/fit-live.json"; echo "fit live host (vllm rule) exit $?"
$PF fit VibeThinker-1.5B --assume-gpu "Tesla T4" --json > "$OUT/fit-t4.json"; echo "fit what-if T4 exit $? (expect 0, dtype warning)"
