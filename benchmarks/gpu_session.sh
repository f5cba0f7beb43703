#!/usr/bin/env bash
# The prepared GPU run of issues 24 and 25, on one H200, in one device call of at most 9
# minutes (each step has a hard limit, and the whole run a deadline):
#   1. the default preset end to end (`galstm trainer.device=cuda`, executor=auto);
#   2. the user's command with the article's GA: ga=article ga.pop_size=20 ga.generations=40;
#   3. the user's command with the default preset, for as many generations as fit;
#   4. bench gpuprofile: each lane alone, lanes together by count, kernels per step;
#   5. bench gpu: sequential on 3 genomes (its 187 s on all 20 is known), graphs as a search
#      runs it (fused Adam, 32 queues), the option-less graphs and bf16 on the same 20
#      genomes, the spread. (Run 1, 2026-12-04, also timed longest first, TF32 and fused plus
#      longest: they lost; BENCHMARKS.md, GPU.)
# Each search prints the engine executor=auto chose (its train.log line).
#
# Prepare and check here first:
#   bash benchmarks/prepare_device.sh
#   OUT=/tmp/out PYTHON=.venv/bin/python bash benchmarks/gpu_session.sh --dry-run
#   (the same steps on CPU at tiny sizes: it checks the script and measures nothing)
# Then, with the device tool (carry=[".device"], timeout_s=600):
#   bash benchmarks/gpu_session.sh
# At most 8 files come back from $OUT: machine.txt, searches.txt, default.csv, article.csv,
# user.csv, profile.json, gpu.json, gpu.log.
set -u
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}  # the device's python3 holds torch; here: PYTHON=.venv/bin/python
OUT=${OUT:-/tmp/out}
DRY=${1:-}
case "$DRY" in ""|--dry-run) ;; *) echo "usage: gpu_session.sh [--dry-run]" >&2; exit 2 ;; esac
DEADLINE=${DEADLINE:-530}  # seconds from the start; the device tool's call limit is 600
mkdir -p "$OUT" /tmp/site /tmp/data/MNIST/raw
rm -rf /tmp/runs && mkdir -p /tmp/runs  # a rerun on a warm machine starts clean
"$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .device/whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD
for f in .device/mnist/*.gz; do gunzip -c "$f" > "/tmp/data/MNIST/raw/$(basename "$f" .gz)"; done

common=(data.root=/tmp/data data.download=false progress=false)
if [ "$DRY" = "--dry-run" ]; then  # tiny sizes on CPU
    common+=(trainer.device=cpu data.train_samples=300 data.test_samples=100 model.max_units=48)
    user_extra=(ga.budget_epochs=null)
    tools=(--device cpu --threads 1 --train-samples 300 --test-samples 100 --genomes 3)
    variants=sequential2,graphs,graphs+none,graphs+bf16,spread
    rounds=3
else
    common+=(trainer.device=cuda)
    user_extra=()
    tools=(--device cuda)
    variants=sequential3,graphs,graphs+none,graphs+bf16,spread  # graphs: fused Adam (the default)
    rounds=50
fi

limit() {  # $1: this step's own cap (s); what is left before the deadline if less
    local left=$((DEADLINE - SECONDS))
    echo $(( left < $1 ? (left > 5 ? left : 5) : $1 ))
}

search() {  # $1: name, $2: cap (s), then overrides; the log's engine line and the wall time
    local name=$1 cap; cap=$(limit "$2"); shift 2
    local start=$EPOCHREALTIME
    timeout -k 10 "$cap" "$PY" train.py "${common[@]}" "$@" hydra.run.dir="/tmp/runs/$name" \
        > "/tmp/runs/$name.out" 2>&1
    local rc=$? wall
    wall=$("$PY" -c "print(round($EPOCHREALTIME - $start, 1))")
    cp "/tmp/runs/$name/generations.csv" "$OUT/$name.csv" 2>/dev/null
    local gens; gens=$(($(wc -l < "$OUT/$name.csv" 2>/dev/null || echo 1) - 1))
    {
        echo "== $name: exit $rc, wall ${wall} s (cap ${cap} s), $gens generations"
        echo "\$ train.py $*"
        grep -h "executor=auto\|training in this process\|search .*: stops" "/tmp/runs/$name/train.log" 2>/dev/null
        grep -h "WARNING\|ERROR" "/tmp/runs/$name/train.log" 2>/dev/null | head -5
        tail -8 "/tmp/runs/$name.out"
    } >> "$OUT/searches.txt"
    tail -4 "$OUT/searches.txt"
}

(nvidia-smi || echo "no nvidia-smi") > "$OUT/machine.txt" 2>&1
"$PY" -c "import torch; print(torch.__version__, torch.version.cuda, torch.backends.cudnn.version())" \
    >> "$OUT/machine.txt" 2>&1
: > "$OUT/searches.txt"

search default 60
search article 170 ga=article ga.pop_size=20 ga.generations=40
search user 75 ga.pop_size=20 ga.generations=40 "${user_extra[@]}"

timeout -k 10 "$(limit 60)" "$PY" -m galstm_torch.bench gpuprofile --data-root /tmp/data \
    "${tools[@]}" --rounds "$rounds" --out "$OUT/profile.json" > "$OUT/profile.txt" 2>&1
echo "profile exit $?" >> "$OUT/profile.txt"
cat "$OUT/profile.txt" >> "$OUT/searches.txt"  # (8 files at most come back)
rm -f "$OUT/profile.txt"

cap=$(limit 175)
timeout -k 10 "$cap" "$PY" -m galstm_torch.bench gpu --data-root /tmp/data "${tools[@]}" \
    --variants "$variants" --spread-seeds 3 --budget-s $((cap - 25)) --out "$OUT/gpu.json" \
    > "$OUT/gpu.log" 2>&1
echo "bench exit $? at ${SECONDS} s" >> "$OUT/gpu.log"
grep -h "== \|executor=auto" "$OUT/searches.txt"
cat "$OUT/gpu.log"
