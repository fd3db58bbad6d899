#!/bin/sh
# facs-finetune refuses bad input with a message naming the file or problem and
# a non-zero exit, and never damages the checkpoint of an earlier run: every
# failing command below points at an OUT whose last.h5 (and best.h5, log.jsonl)
# must hash the same before and after, with no temporary file left behind
# (a --device that cannot be used too: lib.sh device_refusals). At the end the
# checkpoint resumes, on another device than it records. A resume on other
# data says that the data changed, not that an option ("--classes") did.
# usage: finetune_bad_input.sh PATH/TO/facs-finetune PATH/TO/facs-data [WORK_DIR]
set -u
tool=${1:?usage: finetune_bad_input.sh PATH/TO/facs-finetune PATH/TO/facs-data [WORK_DIR]}
data_tool=${2:?usage: finetune_bad_input.sh PATH/TO/facs-finetune PATH/TO/facs-data [WORK_DIR]}
python=/usr/bin/python3
. "$(dirname "$0")/lib.sh"
make_work finetune_bad_input "${3:-}"

data="$work/data"
out="$work/out"
"$data_tool" synth cifar10 "$data" --n 100 --seed 2 2>/dev/null || bad "facs-data synth"
common="--arch facs_resnet26 --width 0.25 --epochs 2 --batch 20 --workers 1"
# shellcheck disable=SC2086
"$tool" --data "$data" $common --out "$out" --stop-after 1 >"$work/setup.out" 2>&1 ||
    bad "setup run failed: $(cat "$work/setup.out")"
hashes() { cksum "$out/last.h5" "$out/best.h5" "$out/log.jsonl" 2>&1; }
before=$(hashes)

# refuse WHAT NEEDLE... -- ARGS: runs the tool with ARGS, wants a non-zero exit,
# every NEEDLE in stderr, and OUT untouched.
refuse() {
    what=$1
    shift
    expect_failure nonzero "$what" "$tool" "$@"
    if [ "$(hashes)" = "$before" ]; then ok; else bad "$what: changed a file in OUT"; fi
    if ls "$out" | grep -q partial; then bad "$what: left a temporary file in OUT"; else ok; fi
}

# shellcheck disable=SC2086
{
refuse "missing data folder" "$work/nowhere" -- --data "$work/nowhere" $common --out "$out" --resume
cp -r "$data" "$work/no_test"
rm "$work/no_test/test_batch.bin"
refuse "missing test file" "test_batch.bin" -- --data "$work/no_test" $common --out "$out" --resume
cp -r "$data" "$work/short"
head -c 5000 "$data/data_batch_2.bin" >"$work/short/data_batch_2.bin"
refuse "truncated data file" "data_batch_2.bin" "truncated" -- --data "$work/short" $common --out "$out" --resume
refuse "wrong --dataset" "--dataset cifar100" "CIFAR-10" -- \
    --data "$data" $common --dataset cifar100 --out "$out" --resume
refuse "fresh run over a checkpoint" "last.h5 exists" "--resume" -- --data "$data" $common --out "$out"
refuse "--resume with another --arch" "last.h5 was written with --arch facs_resnet26, not resnet26" -- \
    --data "$data" --arch resnet26 --width 0.25 --epochs 2 --batch 20 --out "$out" --resume
refuse "--resume with another --batch" "--batch 20, not 10" -- --data "$data" $common --batch 10 --out "$out" --resume
refuse "--resume with another --lr" "--lr 0.0078125, not 0.5" -- --data "$data" $common --lr 0.5 --out "$out" --resume
refuse "--resume with another --epochs" "--epochs 2, not 5" -- --data "$data" $common --epochs 5 --out "$out" --resume
refuse "--resume with --sync-bn" "last.h5 was written with --sync-bn at its default, not true" -- \
    --data "$data" $common --sync-bn --out "$out" --resume
"$tool" --data "$data" $common --sync-bn --out "$work/sync" --stop-after 1 >"$work/sync.out" 2>&1 ||
    bad "--sync-bn run failed: $(cat "$work/sync.out")"
expect_failure nonzero "--resume of a --sync-bn run without it" "$tool" \
    "last.h5 was written with --sync-bn true, not at its default" -- --data "$data" $common --out "$work/sync" --resume
# What the data gives is described, not named as an option it is not (there is no --classes): the data changed.
"$data_tool" synth cifar100 "$work/c100" --n 100 --seed 2 2>/dev/null || bad "facs-data synth cifar100"
refuse "--resume on CIFAR-100" "last.h5 was written with 10 classes in --data, not 100; --data changed since" -- \
    --data "$work/c100" $common --out "$out" --resume
"$data_tool" synth cifar10 "$work/more" --n 140 --seed 2 2>/dev/null || bad "facs-data synth cifar10 --n 140"
refuse "--resume on more images" "with the training images of --data numbering 100, not 140; --data changed since" \
    -- --data "$work/more" $common --out "$out" --resume
refuse "--batch 1" "--batch 1: BatchNorm needs at least 2 images per batch in training" -- \
    --data "$data" $common --batch 1 --out "$work/batch1"
[ ! -e "$work/batch1" ] && ok || bad "--batch 1: created its --out"
for empty in --data= --out= --eval=; do
    expect_failure 2 "$empty (empty)" "$tool" "${empty%=} is empty" -- --data "$data" --out "$work/e" "$empty"
done
expect_failure 2 "--stop-after beyond --epochs" "$tool" "--stop-after 5 is beyond the run's 1 epoch (--epochs)" -- \
    --data "$data" $common --epochs 1 --stop-after 5 --out "$work/e"
expect_failure 2 "--nesterov 0" "$tool" "write --nesterov=0" -- --data "$data" $common --nesterov 0 --out "$work/e"
[ ! -e "$work/e" ] && ok || bad "a refused command line created its --out"
refuse "non-existent --out parent" "its parent $work/no/such does not exist" -- \
    --data "$data" $common --out "$work/no/such/out"
refuse "unknown --arch" "unknown architecture 'resnet27'" -- --data "$data" --arch resnet27 --out "$out" --resume
refuse "diverging loss" "the loss is" "epoch 1, batch" -- --data "$data" $common --lr 1e30 --out "$work/nan_out"
[ ! -e "$work/nan_out/last.h5" ] && ok || bad "diverging loss: wrote a checkpoint"
}

# Weights of another architecture: a bare state_dict-style file (as h5py writes
# one) of a network with other layers.
"$python" - "$work/other.h5" <<'PY' || bad "writing other.h5"
import sys
import h5py
import numpy as np

with h5py.File(sys.argv[1], "w") as f:
    f["model/conv1/weight"] = np.zeros((64, 3, 3, 3), np.float32)
    f["model/features/0/weight"] = np.zeros((64, 3, 3, 3), np.float32)
    f["model/fc/weight"] = np.zeros((1000, 512), np.float32)
PY
# shellcheck disable=SC2086
{
refuse "--init of another architecture" "--init" "$work/other.h5" -- \
    --data "$data" $common --out "$work/init_out" --init "$work/other.h5"
refuse "--eval of another architecture" "$work/other.h5" -- \
    --data "$data" --arch facs_resnet26 --width 0.25 --eval "$work/other.h5"
refuse "--eval of a missing file" "$work/none.h5" -- --data "$data" --eval "$work/none.h5"
head -c 3000 "$out/last.h5" >"$work/cut.h5"
refuse "--eval of a truncated file" "$work/cut.h5" -- --data "$data" --eval "$work/cut.h5"
# run_options no facs-finetune run writes: an input size of 0 (the loader's message named neither file nor
# option), 2^33 + 32 (evaluated at 32), a norm of neither kind, and text that is no JSON (ignored).
for bad_options in size0 size2p33 norm notjson; do
    cp "$out/last.h5" "$work/$bad_options.h5"
    "$python" - "$work/$bad_options.h5" $bad_options <<'PY'
import json, sys, h5py
with h5py.File(sys.argv[1], "a") as f:
    o = json.loads(f.attrs["run_options"])
    o.update({"size0": {"input-size": 0}, "size2p33": {"input-size": 2**33 + 32}, "norm": {"norm": "bogus"},
              "notjson": {}}[sys.argv[2]])
    f.attrs["run_options"] = "{not json" if sys.argv[2] == "notjson" else json.dumps(o)
PY
done
refuse "--eval of input size 0" "$work/size0.h5: run_options records input-size 0" -- \
    --data "$data" --eval "$work/size0.h5"
refuse "--eval of input size 2^33 + 32" "input-size 8589934624" -- --data "$data" --eval "$work/size2p33.h5"
refuse "--eval of a bogus norm" "norm 'bogus'" -- --data "$data" --eval "$work/norm.h5"
refuse "--eval of options that are no JSON" "$work/notjson.h5: run_options is not JSON" -- \
    --data "$data" --eval "$work/notjson.h5"
# A count of epochs done that no run reaches (2^62: its product with the batches per epoch overflowed, UBSan).
mkdir -p "$work/far"
cp "$out/last.h5" "$work/far/"
"$python" -c 'import json, sys, h5py
with h5py.File(sys.argv[1], "a") as f:
    s = json.loads(f.attrs["run_state"])
    s["done"] = 2**62
    f.attrs["run_state"] = json.dumps(s)' "$work/far/last.h5"
refuse "--resume of 2^62 epochs done" "4611686018427387904 epochs done (run_state)" -- \
    --data "$data" $common --out "$work/far" --resume
refuse "--resume without a checkpoint" "$work/fresh/last.h5 does not exist" -- \
    --data "$data" $common --out "$work/fresh" --resume
refuse "bad option value" "--batch needs a whole number" -- --data "$data" --batch many --out "$out"
device_refusals "$tool" --data "$data" $common --out "$out" --resume
device_refusals "$tool" --data "$data" --eval "$out/last.h5"
}
if [ "$(hashes)" = "$before" ]; then ok; else bad "--device refusals: changed a file in OUT"; fi

# The untouched checkpoint still resumes and finishes, on another device than
# the one last.h5 records (as if its first epoch had run on a GPU): the device
# is no part of the result, and the checkpoint then records the new one.
device_of() {
    "$python" -c 'import json, sys, h5py
with h5py.File(sys.argv[1], "a") as f:
    o = json.loads(f.attrs["run_options"])
    print(o.get("device"))
    if len(sys.argv) > 2:
        o["device"] = sys.argv[2]
        f.attrs["run_options"] = json.dumps(o)' "$@"
}
[ "$(device_of "$out/last.h5" cuda:0)" = cpu ] && ok || bad "last.h5 does not record device cpu"
# shellcheck disable=SC2086
"$tool" --data "$data" $common --out "$out" --resume --device cpu >"$work/final.out" 2>&1 && ok ||
    bad "resume after the failures, on another device: $(cat "$work/final.out")"
[ "$(device_of "$out/last.h5")" = cpu ] && ok || bad "the resumed last.h5 does not record device cpu"

finish
