#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: installs what is missing, builds,
# writes a synthetic CIFAR-10 (facs-data synth, once) and fine-tunes a small
# FACS network on it with facs-finetune, which shows each epoch's loss and
# accuracy, then the per-class table. Extra arguments go to facs-finetune
# (later options win: e.g. --epochs 8, --arch resnet26); the run's files
# (log.jsonl, curves.png, last.h5, best.h5, confusion.csv) land in build/demo_run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/setup.sh" "$root/build" -DCMAKE_BUILD_TYPE=Release -DFACS_CUDA=AUTO
data="$root/build/demo_data/cifar-10-batches-bin"
if [ ! -f "$data/test_batch.bin" ]; then
    mkdir -p "$root/build/demo_data"
    "$root/build/facs-data" synth cifar10 "$data" --n 1500
fi
rm -rf "$root/build/demo_run" # a fresh run each time (facs-finetune never overwrites a checkpoint)
exec "$root/build/facs-finetune" --data "$data" --out "$root/build/demo_run" --arch facs_resnet26 --width 0.25 \
    --epochs 4 --batch 64 "$@"
