#!/usr/bin/env bash
# Issue 17's one prepared GPU run, at most 10 minutes on an H200: the GPU bench (the engines
# on the same 20 random genomes, and the seed-to-seed spread; at most 400 s), then the
# article's 20x40 search end to end with executor=graphs (at most 170 s). Prepare and check here first:
#   bash benchmarks/prepare_device.sh
#   OUT=/tmp/out PYTHON=.venv/bin/python bash benchmarks/gpu_session.sh --dry-run
#   (the same steps on CPU at tiny sizes: it checks the script and measures nothing)
# then the device tool: run(command="bash benchmarks/gpu_session.sh", carry=[".device"],
# timeout_s=600). Everything lands flat in $OUT (at most 8 files come back).
set -u
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}  # the device's python3 holds torch; here: PYTHON=.venv/bin/python
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT" /tmp/site /tmp/data/MNIST/raw
"$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
    .device/whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD
for f in .device/mnist/*.gz; do gunzip -c "$f" > "/tmp/data/MNIST/raw/$(basename "$f" .gz)"; done
if [ "${1:-}" = "--dry-run" ]; then  # tiny sizes on CPU: checks the script, measures nothing
    bench=(--device cpu --threads 1 --train-samples 256 --test-samples 200 --genomes 3
           --variants sequential,graphs,graphs1,batched,pool2 --spread-seeds 2)
    search=(trainer.device=cpu executor=serial ga.pop_size=4 ga.generations=2
            data.train_samples=256 data.test_samples=200)
    limit=(timeout 300)
else
    # the baseline and the candidate first: a variant that would start after --budget-s is
    # skipped, and the rows measured so far stay in gpu.json
    bench=(--device cuda --budget-s 300 --variants sequential,graphs,spread,batched,pool8,graphs1,pool4)
    search=(trainer.device=cuda executor=graphs)
    limit=(timeout 170)
fi
(nvidia-smi || echo "no nvidia-smi") > "$OUT/machine.txt" 2>&1
"$PY" -c "import torch; print(torch.__version__, torch.version.cuda, torch.backends.cudnn.version())" >> "$OUT/machine.txt" 2>&1
timeout 400 "$PY" -m galstm_torch.bench gpu --data-root /tmp/data "${bench[@]}" \
    --out "$OUT/gpu.json" > "$OUT/gpu.log" 2>&1
echo "bench exit $?" >> "$OUT/gpu.log"
start=$EPOCHREALTIME
"${limit[@]}" "$PY" train.py ga=article data.root=/tmp/data "${search[@]}" \
    hydra.run.dir=/tmp/article > "$OUT/article.log" 2>&1
rc=$?
echo "article exit $rc wall_s $(python3 -c "print(round($EPOCHREALTIME - $start, 1))")" >> "$OUT/article.log"
cp /tmp/article/generations.csv "$OUT/article_generations.csv" 2>/dev/null
cp /tmp/article/evaluations.csv "$OUT/article_evaluations.csv" 2>/dev/null
cat "$OUT/gpu.log"; tail -5 "$OUT/article.log"
