#!/bin/sh
# pspnet-train end to end on synthetic Cityscapes (12 training and 2 val
# frames of 128x64, 19 trainIds): PSPNet on resnet26 at width 0.25, crop 64,
# batch 4, 30 iterations, validated at 15 and 30.
#   - It learns: the last validation's mIoU is above 0.2 and its pixel
#     accuracy above 0.55 (measured 0.31 / 0.74; a network that predicts one
#     class everywhere scores at most 1/19 mIoU, and the largest class, sky,
#     covers 0.28 of the val pixels).
#   - The run's files: log.jsonl lines with the issue's keys, curves.png,
#     best.h5 chosen by val_miou.
#   - Resume is exact: stopped at iteration 12 (mid log interval) and resumed
#     (with another --device recorded in last.h5 than the resumed leg's),
#     last.h5 equals the uninterrupted run's (every tensor and attribute,
#     timing aside) and so does the log.
#   - Bad input is refused by name with earlier checkpoints kept: a label
#     outside the classes, an image and label of different sizes, an empty
#     val split, a loss that blows up, a non-PSPNet --arch, a crop larger
#     than the largest scaled image (every sample mostly padding), a --device
#     that cannot be used (lib.sh device_refusals), trainIds saved under the
#     labelIds name, void labels that are not --ignore-index, a run that
#     diverges with a finite loss (non-finite BatchNorm statistics, or an
#     output that is not finite at validation), a PSPNet file as --init, an
#     --init inside --out that the run's best.h5 would overwrite, an
#     --out inside the data's folders, a --stop-after already passed, and a
#     --resume without the run's options (named, before the data checks).
#   - A short run (4 iterations validated at 2 and 4, crop 48x64, which the
#     header gives as HxW) against which: a val label that fails validation
#     leaves last.h5 saved, and once fixed --resume validates and ends equal
#     to it; labels whose void value is 254 (trainIds in train, labelIds in
#     val) with --ignore-index 254 give its log; a val split without labelled
#     pixels logs null and no best.h5.
#   - stdout to a file keeps every log line when the process is killed.
# usage: pspnet_train.sh PATH/TO/pspnet-train PATH/TO/facs-data [WORK_DIR]
set -u
tool=${1:?usage: pspnet_train.sh PATH/TO/pspnet-train PATH/TO/facs-data [WORK_DIR]}
data_tool=${2:?usage: pspnet_train.sh PATH/TO/pspnet-train PATH/TO/facs-data [WORK_DIR]}
python=/usr/bin/python3
here=$(dirname "$0")
. "$here/lib.sh"
make_work pspnet_train "${3:-}"

"$data_tool" synth cityscapes "$work/cs" --n 12 --size 128x64 2>/dev/null || bad "facs-data synth cityscapes"
args="--arch pspnet_resnet26 --width 0.25 --crop 64 --batch 4 --iters 30 --log-every 10 --val-every 15 --workers 1"
# shellcheck disable=SC2086
"$tool" --data "$work/cs" --out "$work/full" $args >"$work/full.out" 2>&1 || bad "training: $(cat "$work/full.out")"
grep -v "^ " "$work/full.out"

"$python" - "$work/full/log.jsonl" <<'PY' && ok "learns, and the log has its keys" || bad "the log or the mIoU"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
keys = {"iter", "epoch", "loss", "main_loss", "aux_loss", "pixel_acc", "lr", "images_per_s"}
assert [l["iter"] for l in lines] == [10, 15, 20, 30], [l["iter"] for l in lines]
assert all(keys <= set(l) for l in lines)
val = [l for l in lines if "val_miou" in l]
assert [l["iter"] for l in val] == [15, 30]
assert len(val[-1]["val_iou"]) == 19 and "road" in val[-1]["val_iou"]
print("last validation: mIoU", val[-1]["val_miou"], "pixel accuracy", val[-1]["val_pixel_acc"])
assert val[-1]["val_miou"] > 0.2 and val[-1]["val_pixel_acc"] > 0.55
PY
[ -s "$work/full/curves.png" ] && [ -s "$work/full/best.h5" ] && ok || bad "curves.png or best.h5 missing"

# The resumed leg runs on another device than last.h5 records (as if the
# first had run on a GPU): the device is no part of the result. Between the
# legs, a --stop-after that last.h5 has passed is refused.
# shellcheck disable=SC2086
{
"$tool" --data "$work/cs" --out "$work/split" $args --stop-after 12 >"$work/split1.out" 2>&1 || bad "--stop-after 12"
expect_failure 1 "--resume --stop-after 4 after 12" "$tool" \
    "--stop-after 4: $work/split/last.h5 is already at iteration 12" -- \
    --data "$work/cs" --out "$work/split" $args --stop-after 4 --resume
"$python" -c 'import json, sys, h5py
with h5py.File(sys.argv[1], "a") as f:
    o = json.loads(f.attrs["run_options"])
    assert o["device"] == "cpu", o.get("device")
    o["device"] = "cuda:0"
    f.attrs["run_options"] = json.dumps(o)' "$work/split/last.h5" && ok || bad "last.h5 does not record device cpu"
# A last.h5 whose run_state its run cannot have written (a corrupt file): sums of the log interval its iterations
# cannot give (they reached the log as a negative loss), and a best that is no record of the log (best.h5 was then
# never written again).
for case in partial best log; do
    mkdir -p "$work/tampered_$case"
    cp "$work/split/last.h5" "$work/tampered_$case/"
    "$python" - "$work/tampered_$case/last.h5" $case <<'PY'
import json, sys, h5py
with h5py.File(sys.argv[1], "a") as f:
    state = json.loads(f.attrs["run_state"])
    if sys.argv[2] == "partial":
        state["partial"]["loss"] = -4.87
    elif sys.argv[2] == "best":
        state.update(best_record=1, best_value=1e300)
    else:
        f.attrs["run_log"] = json.dumps([1] * state["records"])
    f.attrs["run_state"] = json.dumps(state)
PY
done
expect_failure 1 "--resume of corrupt partial sums" "$tool" "the sums of the log interval in run_state" -- \
    --data "$work/cs" --out "$work/tampered_partial" $args --resume --device cpu
expect_failure 1 "--resume of a best from nowhere" "$tool" "is not a record of run_log" -- \
    --data "$work/cs" --out "$work/tampered_best" $args --resume --device cpu
expect_failure 1 "--resume of a log of numbers" "$tool" "run_log's record 1 is no JSON object" -- \
    --data "$work/cs" --out "$work/tampered_log" $args --resume --device cpu
"$tool" --data "$work/cs" --out "$work/split" $args --resume --device cpu >"$work/split2.out" 2>&1 ||
    bad "--resume: $(cat "$work/split2.out")"
}
"$python" "$here/compare_checkpoints.py" "$work/full/last.h5" "$work/split/last.h5" --steps 30 && ok ||
    bad "resumed last.h5 differs"
strip() { sed 's/, "images_per_s": [-0-9.e+]*//' "$1"; }
[ "$(strip "$work/full/log.jsonl")" = "$(strip "$work/split/log.jsonl")" ] && ok "resumed log equal" ||
    bad "resumed log differs"
# shellcheck disable=SC2086
"$tool" --data "$work/cs" --out "$work/split" $args --resume >"$work/done.out" 2>&1 || bad "--resume of a finished run"
contains "--resume of a finished run" "$work/done.out" "the run has finished its 30 iterations already"

# refuse WHAT NEEDLE DATA [ARGS...]: a non-zero exit naming NEEDLE; the full run's checkpoint untouched.
before=$(cksum <"$work/full/last.h5")
refuse() {
    what=$1 needle=$2 data=$3
    shift 3
    # shellcheck disable=SC2086
    "$tool" --data "$data" --out "$work/bad" $args "$@" >"$work/out" 2>"$work/err"
    [ $? -ne 0 ] && ok || bad "$what: exit 0"
    contains "$what" "$work/err" "$needle"
    rm -rf "$work/bad"
}
cp -r "$work/cs" "$work/cs_label"
label=$(ls "$work"/cs_label/gtFine/train/*/*_labelTrainIds.png | head -1)
"$python" - "$label" <<'PY' || bad "writing a bad label"
import sys
import numpy as np
from PIL import Image
a = np.array(Image.open(sys.argv[1]))
a[3, 5] = 50
Image.fromarray(a).save(sys.argv[1])
PY
refuse "label outside the classes" "$(basename "$label")" "$work/cs_label"
cp -r "$work/cs" "$work/cs_size"
label=$(ls "$work"/cs_size/gtFine/train/*/*_labelTrainIds.png | head -1)
"$python" -c "from PIL import Image; import sys; Image.new('L', (32, 16)).save(sys.argv[1])" "$label"
refuse "image and label sizes differ" "$(basename "$label")" "$work/cs_size"
cp -r "$work/cs" "$work/cs_noval"
rm -rf "$work"/cs_noval/leftImg8bit/val/*
refuse "empty val split" "val" "$work/cs_noval"
refuse "loss blows up" "loss is" "$work/cs" --lr 1e30
refuse "a classifier as --arch" "not a PSPNet" "$work/cs" --arch resnet50
refuse "a fractional --iters" "--iters needs a whole number" "$work/cs" --iters 2.5
refuse "--batch 1" "--batch 1: BatchNorm needs at least 2 images per batch in training" "$work/cs" --batch 1
refuse "a crop the images cannot fill" "--crop 713x713 is larger than the padded image" "$work/cs" --crop 713
refuse "a crop wider than the images at --scale-max" "is 64x128 (HxW), at most 64x128 at --scale-max 1" \
    "$work/cs" --crop 64x300 --scale-max 1
cp -r "$work/cs" "$work/cs_mixup"
for f in "$work"/cs_mixup/gtFine/train/*/*_labelTrainIds.png; do mv "$f" "$(echo "$f" | sed 's/TrainIds/Ids/')"; done
refuse "trainIds under the labelIds name" "a labelTrainIds PNG saved under the labelIds name" "$work/cs_mixup"
refuse "void labels that are not --ignore-index" "is neither < 19 nor 254 (ignore)" "$work/cs" --ignore-index 254
# --lr 1e10: after one step the heads' BatchNorm statistics overflow in the second step's forward while its loss and
# gradients stay finite (caught at the checkpoint of iteration 2), and the weights of iteration 1, still finite,
# give outputs that are not (caught at its validation).
refuse "BatchNorm statistics that overflow" "running_var has" "$work/cs" --lr 1e10 --save-every 2
contains "BatchNorm statistics that overflow" "$work/err" "iteration 2: "
contains "BatchNorm statistics that overflow" "$work/err" "training diverged; lower --lr"
refuse "an output that is not finite at validation" "validation after iteration 1: " "$work/cs" --lr 1e10 --val-every 1
contains "an output that is not finite at validation" "$work/err" "training diverged; lower --lr"
refuse "a PSPNet file as --init" "--init takes a classifier's (ImageNet) backbone weights" "$work/cs" \
    --init "$work/full/best.h5"
contains "a PSPNet file as --init" "$work/err" "--resume"
# --init OUT/best.h5 --out OUT: the run's own best.h5 would overwrite it.
mkdir -p "$work/init_out"
cp "$work/full/best.h5" "$work/init_out/best.h5"
# shellcheck disable=SC2086
"$tool" --data "$work/cs" --out "$work/init_out" --init "$work/init_out/best.h5" $args >"$work/out" 2>"$work/err" &&
    bad "--init OUT/best.h5: exit 0" || ok
contains "--init OUT/best.h5" "$work/err" "which this run writes"
cmp -s "$work/full/best.h5" "$work/init_out/best.h5" && ok || bad "--init OUT/best.h5 was overwritten"
# shellcheck disable=SC2086
{
expect_failure 1 "--out inside the data" "$tool" "is or lies inside $work/cs/leftImg8bit" -- \
    --data "$work/cs" --out "$work/cs/leftImg8bit/run" $args
[ ! -e "$work/cs/leftImg8bit/run" ] && ok || bad "a refused --out inside the data was created"
device_refusals "$tool" --data "$work/cs" --out "$work/bad" $args
[ ! -e "$work/bad" ] && ok || bad "a refused --device created OUT"
}
# A --resume without the run's options names the option it forgot, not what its default does to the data.
expect_failure 1 "--resume without --crop" "$tool" "written with --crop [64,64], not [713,713]" -- \
    --data "$work/cs" --out "$work/full" --resume --arch pspnet_resnet26 --width 0.25
expect_failure 1 "--resume without --batch" "$tool" "written with --batch 4, not 16" -- \
    --data "$work/cs" --out "$work/full" --resume --arch pspnet_resnet26 --width 0.25 --crop 64
[ "$(cksum <"$work/full/last.h5")" = "$before" ] && ok || bad "a failing run changed another run's checkpoint"

short="--arch pspnet_resnet26 --width 0.25 --crop 48x64 --batch 4 --iters 4 --log-every 2 --val-every 2 --workers 1"
# shellcheck disable=SC2086
"$tool" --data "$work/cs" --out "$work/short" $short >"$work/short.out" 2>&1 ||
    bad "short run: $(cat "$work/short.out")"
head -1 "$work/short.out" | grep -q "crop 48x64, " && ok "the header gives the crop as HxW" ||
    bad "the header's crop: $(head -1 "$work/short.out")"

# A val label that fails validation: last.h5 holds the iteration's weights; fixed, --resume validates them and goes on.
cp -r "$work/cs" "$work/cs_val"
label=$(ls "$work"/cs_val/gtFine/val/*/*_labelTrainIds.png | head -1)
cp "$label" "$work/good_label.png"
"$python" -c 'import sys, numpy as np; from PIL import Image
a = np.array(Image.open(sys.argv[1])); a[0, :5] = 200; Image.fromarray(a).save(sys.argv[1])' "$label"
# shellcheck disable=SC2086
{
expect_failure 1 "a bad val label" "$tool" "validation after iteration 2: " "trainId 200 at x=0, y=0" \
    "The weights of iteration 2 are saved in $work/valfail/last.h5" "--resume" -- --data "$work/cs_val" \
    --out "$work/valfail" $short
cp "$work/good_label.png" "$label"
"$tool" --data "$work/cs_val" --out "$work/valfail" $short --resume >"$work/out" 2>"$work/err"
expect_rc "--resume once the val label is fixed" 0 $?
}
"$python" "$here/compare_checkpoints.py" "$work/short/last.h5" "$work/valfail/last.h5" --steps 4 &&
    ok "a failed validation resumed ends as the run that never failed" || bad "the resumed last.h5 differs"
[ "$(strip "$work/short/log.jsonl")" = "$(strip "$work/valfail/log.jsonl")" ] && [ -s "$work/valfail/best.h5" ] &&
    ok "its log and best.h5 too" || bad "the log after a failed validation differs"

# --ignore-index 254 on labels whose void value is 254: trainIds in the train split, labelIds only in val.
cp -r "$work/cs" "$work/cs_254"
rm "$work"/cs_254/gtFine/val/*/*_labelTrainIds.png
"$python" -c 'import glob, sys, numpy as np; from PIL import Image
for p in glob.glob(sys.argv[1] + "/gtFine/train/*/*_labelTrainIds.png"):
    a = np.array(Image.open(p)); a[a == 255] = 254; Image.fromarray(a).save(p)' "$work/cs_254"
# shellcheck disable=SC2086
"$tool" --data "$work/cs_254" --out "$work/ig254" $short --ignore-index 254 >"$work/out" 2>"$work/err"
expect_rc "--ignore-index 254" 0 $?
[ "$(strip "$work/short/log.jsonl")" = "$(strip "$work/ig254/log.jsonl")" ] &&
    ok "--ignore-index 254 on void 254 trains as 255 on void 255" || bad "--ignore-index 254: the log differs"

# A val split whose labels are all ignore: said so, null in the log, no best.h5, exit 0.
cp -r "$work/cs" "$work/cs_void"
"$python" -c 'import glob, sys, numpy as np; from PIL import Image
for p in glob.glob(sys.argv[1] + "/gtFine/val/*/*_labelTrainIds.png"):
    a = np.array(Image.open(p)); a[:] = 255; Image.fromarray(a).save(p)' "$work/cs_void"
# shellcheck disable=SC2086
"$tool" --data "$work/cs_void" --out "$work/void" $short >"$work/out" 2>"$work/err"
expect_rc "a val split without labelled pixels" 0 $?
contains "a val split without labelled pixels" "$work/out" "the val split has no labelled pixels"
"$python" -c 'import json, sys
val = [json.loads(l) for l in open(sys.argv[1]) if "val_iou" in l]
assert len(val) == 2 and all(v["val_miou"] is None and v["val_pixel_acc"] is None for v in val), val' \
    "$work/void/log.jsonl" && [ ! -e "$work/void/best.h5" ] && ok "no labelled val pixels: null, no best.h5" ||
    bad "no labelled val pixels: the log or best.h5"

# stdout to a file keeps every line: killed once log.jsonl holds iteration 2, the output holds its line too.
# shellcheck disable=SC2086
"$tool" --data "$work/cs" --out "$work/killed" $args --log-every 1 >"$work/killed.out" 2>&1 &
pid=$!
n=0
while [ $n -lt 1200 ] && [ "$(cat "$work/killed/log.jsonl" 2>/dev/null | wc -l)" -lt 2 ]; do
    sleep 0.1
    n=$((n + 1))
done
kill -9 $pid
wait $pid 2>/dev/null
grep -q "^iter 2/30 " "$work/killed.out" && ok "killed, stdout kept its log lines" ||
    bad "killed: stdout lacks iteration 2: $(cat "$work/killed.out")"

finish
