#!/usr/bin/env bash
# Put into .device/ (git-ignored) what the GPU machine's image lacks, for the device tool to
# carry: the wheels of hydra-core, omegaconf and antlr4 (pure Python), and MNIST, gzipped
# (the raw files would nearly fill the 64 MiB the tool carries). Run once per machine here:
#   bash benchmarks/prepare_device.sh [MNIST_ROOT]      # default ../shared/data
set -euo pipefail
root=${1:-../shared/data}
mkdir -p .device/whl .device/mnist
python3 -m pip wheel -q --no-deps -w .device/whl \
    hydra-core==1.3.8 omegaconf==2.3.1 antlr4-python3-runtime==4.9.3
for f in "$root"/MNIST/raw/*-ubyte; do
    gzip -c "$f" > ".device/mnist/$(basename "$f").gz"
done
du -sh .device
