#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: installs what is missing, builds,
# then runs two short demos on synthetic data (facs-data synth, made once):
#   cifar         facs-finetune trains a small FACS-ResNet on CIFAR-10 and shows
#                 each epoch's loss and accuracy, then the per-class table; its
#                 files (log.jsonl, curves.png, last.h5, best.h5, confusion.csv)
#                 land in build/demo_run;
#   segmentation  pspnet-train trains a small PSPNet on Cityscapes-layout frames,
#                 then pspnet-eval scores the val split and writes colour
#                 predictions and overlays to build/demo_seg/pred/{color,overlay}.
# usage: tools/demo.sh [cifar|segmentation] [ARGS...]
# With no part both run. ARGS go to the part's trainer (later options win:
# e.g. tools/demo.sh cifar --epochs 8, tools/demo.sh segmentation --iters 200).
# FACS_DEMO_BUILD=DIR runs the programs of an existing build instead of
# setting up and building build/ (CTest demo_script runs it that way).
# Each part starts afresh, and the previous demo's files come back when it
# fails (a mistyped option).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${FACS_DEMO_BUILD:-$root/build}
. "$root/tools/script_help.sh"
script_help "$0" "$@"
part=all
case ${1:-} in
cifar | segmentation) part=$1 && shift ;;
"") ;;
*) [ "${1#-}" != "$1" ] || { echo "usage: tools/demo.sh [cifar|segmentation] [ARGS...]" >&2 && exit 2; } ;;
esac
if [ "$part" = all ] && [ $# -gt 0 ]; then
    echo "tools/demo.sh: name the part the options are for (cifar or segmentation)" >&2
    exit 2
fi
if [ -n "${FACS_DEMO_BUILD:-}" ]; then
    for program in facs-data facs-finetune pspnet-train pspnet-eval; do
        [ -x "$build/$program" ] || { echo "tools/demo.sh: FACS_DEMO_BUILD=$build has no $program" >&2 && exit 2; }
    done
else
    "$root/tools/setup.sh" "$build" -DCMAKE_BUILD_TYPE=Release -DFACS_CUDA=AUTO
fi

# afresh DIR COMMAND...: COMMAND with DIR gone (the trainers never overwrite a
# checkpoint); when it fails, or makes no DIR (--help), the previous DIR is
# put back.
afresh() {
    local dir=$1 rc=0
    shift
    rm -rf "$dir.previous"
    [ ! -e "$dir" ] || mv "$dir" "$dir.previous"
    "$@" || rc=$?
    if { [ $rc -ne 0 ] || [ ! -e "$dir" ]; } && [ -e "$dir.previous" ]; then
        rm -rf "$dir"
        mv "$dir.previous" "$dir"
        echo "tools/demo.sh: the previous $dir is kept" >&2
    fi
    rm -rf "$dir.previous"
    return $rc
}

cifar() {
    local data=$build/demo_data/cifar-10-batches-bin
    if [ ! -f "$data/test_batch.bin" ]; then
        mkdir -p "$build/demo_data"
        "$build/facs-data" synth cifar10 "$data" --n 1500
    fi
    afresh "$build/demo_run" "$build/facs-finetune" --data "$data" --out "$build/demo_run" --arch facs_resnet26 \
        --width 0.25 --epochs 4 --batch 64 "$@"
}

# About two minutes on 2 cores: val mIoU about 0.6 over the 10 classes the
# synthetic frames hold (one class everywhere scores at most 1/19).
segmentation() {
    local data=$build/demo_data/cityscapes
    if [ ! -d "$data/leftImg8bit/val" ]; then
        "$build/facs-data" synth cityscapes "$data" --n 24 --size 256x128 --force
    fi
    afresh "$build/demo_seg" train_and_evaluate "$data" "$build/demo_seg" "$@"
}

train_and_evaluate() {
    local data=$1 out=$2
    shift 2
    mkdir -p "$out"
    "$build/pspnet-train" --data "$data" --out "$out/run" --arch pspnet_facs_resnet26 --width 0.25 --crop 128 \
        --batch 4 --iters 120 --lr 0.02 --log-every 20 --val-every 60 "$@" || return # (set -e is off under afresh)
    "$build/pspnet-eval" --weights "$out/run/best.h5" --data "$data" --split val --out "$out/eval" \
        --mode whole --save-pred "$out/pred" || return
    echo "colour predictions: $out/pred/color, over the images: $out/pred/overlay"
}

case $part in
cifar) cifar "$@" ;;
segmentation) segmentation "$@" ;;
all) cifar && segmentation ;;
esac
