#!/usr/bin/env bash
# serve (issue 8): a VibeThinker-shaped random model (Qwen2: 28 layers, hidden 1536, 12 heads,
# 2 KV heads, intermediate 8960, vocab 151936, tied embeddings; built here, no download) served
# on this GPU by `preflight serve`: the settings it derives, then tokens/s for one client, one
# streamed client and 8 clients at once, beside model.generate on the same model. About 2-3 min.
# Needs CUDA torch, transformers, fastapi, uvicorn and httpx; wheels in .whl/ are installed
# first when fastapi/uvicorn are missing (the device README says how to carry them).
set -uo pipefail
MODEL=/tmp/vibethinker-shaped-random
if [ -d .whl ] && ! python3 -c "import fastapi, uvicorn" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/serve-site .whl/*.whl \
    && export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}/tmp/serve-site"
fi
if ! python3 -c "import torch, transformers, fastapi, uvicorn, httpx; assert torch.cuda.is_available(), 'no CUDA'" 2> "$OUT/serve-deps.err"; then
  echo "serve: skipped: $(tail -1 "$OUT/serve-deps.err")" | tee "$OUT/serve-skipped.txt"
  exit 0
fi
start=$SECONDS
python3 tests/support/tiny_model.py "$MODEL" --vibethinker-shape --init-device cuda > /dev/null 2> "$OUT/serve-build.err"
echo "build VibeThinker-shaped random model exit $? ($((SECONDS - start)) s)"
python3 -m gpu_preflight serve "$MODEL" --dry-run --json > "$OUT/serve-dry-run.json" 2> "$OUT/serve-dry-run.err"
echo "serve --dry-run exit $? (expect 0)"
python3 - "$OUT/serve-dry-run.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
s = d["settings"]
print(f"derived: engine {d['engine']}, device {s['device']}, dtype {s['dtype']} ({s['why']['dtype']}); "
      f"max context {s['max_context']} ({s['why']['max_context']}); memory share {s['memory_share']} ({s['why'].get('memory_share')})")
PY
timeout 170 python3 benchmarks/serve_overhead.py --model "$MODEL" --device cuda --dtype bfloat16 --gate \
  --tokens 128 --rounds 3 --concurrent-rounds 1 --json "$OUT/serve-tokens-per-s.json" 2> "$OUT/serve-bench.err"
echo "serve tokens/s benchmark exit $? (figures in serve-tokens-per-s.json)"
