#!/usr/bin/env bash
# Issue 17's prepared GPU run on an H200: the GPU bench (the engines on the same 20 random
# genomes, and the seed-to-seed spread), then the article's 20x40 search end to end with
# executor=graphs.
#
# Prepare and check here first:
#   bash benchmarks/prepare_device.sh
#   OUT=/tmp/out PYTHON=.venv/bin/python bash benchmarks/gpu_session.sh all --dry-run
#   (the same steps on CPU at tiny sizes: it checks the script and measures nothing)
# Then, with the device tool (carry=[".device"]), either one call of at most 10 minutes:
#   bash benchmarks/gpu_session.sh all        # bench <= 330 s, then the search in what is left
# or two calls, the second at once while the machine is warm (about 13 minutes of device time):
#   bash benchmarks/gpu_session.sh bench      # <= 540 s
#   bash benchmarks/gpu_session.sh article    # <= 560 s
# Everything lands flat in $OUT (at most 8 files come back).
set -u
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}  # the device's python3 holds torch; here: PYTHON=.venv/bin/python
OUT=${OUT:-/tmp/out}
MODE=${1:-all}
DRY=${2:-}
case "$MODE" in all|bench|article) ;;
    *) echo "usage: gpu_session.sh {all|bench|article} [--dry-run]" >&2; exit 2 ;;
esac
mkdir -p "$OUT" /tmp/site /tmp/data/MNIST/raw
rm -rf /tmp/article  # a rerun on a warm machine starts clean
"$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .device/whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD
for f in .device/mnist/*.gz; do gunzip -c "$f" > "/tmp/data/MNIST/raw/$(basename "$f" .gz)"; done

if [ "$DRY" = "--dry-run" ]; then  # tiny sizes on CPU
    bench=(--device cpu --threads 1 --train-samples 256 --test-samples 200 --genomes 3
           --variants sequential,graphs,spread,graphs1,batched,pool2 --spread-seeds 2)
    search=(trainer.device=cpu executor=serial ga.pop_size=4 ga.generations=2
            data.train_samples=256 data.test_samples=200)
else  # the baseline and the candidate first: a variant that would start after --budget-s
      # is skipped, and the rows measured so far stay in gpu.json
    bench=(--device cuda --variants sequential,graphs,spread,graphs1,batched,pool8,pool4)
    search=(trainer.device=cuda executor=graphs)
fi

run_bench() {  # $1: --budget-s, $2: hard limit (s)
    (nvidia-smi || echo "no nvidia-smi") > "$OUT/machine.txt" 2>&1
    "$PY" -c "import torch; print(torch.__version__, torch.version.cuda, torch.backends.cudnn.version())" \
        >> "$OUT/machine.txt" 2>&1
    timeout -k 10 "$2" "$PY" -m galstm_torch.bench gpu --data-root /tmp/data "${bench[@]}" \
        --budget-s "$1" --out "$OUT/gpu.json" > "$OUT/gpu.log" 2>&1
    echo "bench exit $?" >> "$OUT/gpu.log"
    cat "$OUT/gpu.log"
}

save_article() {  # also on a kill of the search: what it wrote so far comes back
    cp /tmp/article/generations.csv "$OUT/article_generations.csv" 2>/dev/null
    cp /tmp/article/evaluations.csv "$OUT/article_evaluations.csv" 2>/dev/null
}

run_article() {  # $1: hard limit (s)
    trap save_article EXIT
    local start=$EPOCHREALTIME
    timeout -k 10 "$1" "$PY" train.py ga=article data.root=/tmp/data "${search[@]}" \
        hydra.run.dir=/tmp/article > "$OUT/article.log" 2>&1
    local rc=$?
    echo "article exit $rc wall_s $("$PY" -c "print(round($EPOCHREALTIME - $start, 1))")" >> "$OUT/article.log"
    save_article
    tail -5 "$OUT/article.log"
}

case "$MODE" in
    bench) run_bench 420 540 ;;
    article) run_article 560 ;;
    all) run_bench 240 330; left=$((580 - SECONDS)); run_article $((left > 30 ? left : 30)) ;;
esac
