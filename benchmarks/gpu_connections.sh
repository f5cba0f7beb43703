#!/usr/bin/env bash
# Issue 25, second device call: is the CUDA-graph engine's concurrency (2.55x over 20 lanes,
# 2026-12-04) capped by the device's hardware work queues? CUDA_DEVICE_MAX_CONNECTIONS (8 by
# default) maps streams onto that many queues; 20 lanes on 8 queues serialize. The same 20
# genomes as gpu_session.sh, graphs and graphs+fused at 8 (the control) and at 32 queues,
# the lanes-together profile at 32, then the batched engine (eager, one padded model).
#   OUT=/tmp/out PYTHON=.venv/bin/python bash benchmarks/gpu_connections.sh --dry-run
#   device tool, carry=[".device"]: bash benchmarks/gpu_connections.sh
set -u
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT" /tmp/site /tmp/data/MNIST/raw
"$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .device/whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD
for f in .device/mnist/*.gz; do gunzip -c "$f" > "/tmp/data/MNIST/raw/$(basename "$f" .gz)"; done
if [ "${1:-}" = "--dry-run" ]; then
    tools=(--device cpu --threads 1 --train-samples 300 --test-samples 100 --genomes 3); rounds=3
else
    tools=(--device cuda); rounds=50
fi
for q in 8 32; do
    CUDA_DEVICE_MAX_CONNECTIONS=$q timeout -k 5 70 "$PY" -m galstm_torch.bench gpu --data-root /tmp/data \
        "${tools[@]}" --variants graphs,graphs+fused --spread-seeds 1 --out "$OUT/queues$q.json" \
        > "$OUT/queues$q.log" 2>&1
    echo "queues $q exit $? at $SECONDS s" >> "$OUT/queues$q.log"
done
CUDA_DEVICE_MAX_CONNECTIONS=32 timeout -k 5 50 "$PY" -m galstm_torch.bench gpuprofile \
    --data-root /tmp/data "${tools[@]}" --rounds "$rounds" --out "$OUT/profile32.json" \
    > "$OUT/profile32.log" 2>&1
echo "profile exit $? at $SECONDS s" >> "$OUT/profile32.log"
timeout -k 5 60 "$PY" -m galstm_torch.bench gpu --data-root /tmp/data "${tools[@]}" \
    --variants batched --spread-seeds 1 --out "$OUT/batched.json" > "$OUT/batched.log" 2>&1
echo "batched exit $? at $SECONDS s" >> "$OUT/batched.log"
cat "$OUT"/queues*.log "$OUT/profile32.log" "$OUT/batched.log" | grep -v "^\[20\|USDT\|gpuGetDevice\|_warn_once\|UserWarning"
