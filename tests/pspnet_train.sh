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
#     that cannot be used (lib.sh device_refusals).
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
# first had run on a GPU): the device is no part of the result.
# shellcheck disable=SC2086
{
"$tool" --data "$work/cs" --out "$work/split" $args --stop-after 12 >"$work/split1.out" 2>&1 || bad "--stop-after 12"
"$python" -c 'import json, sys, h5py
with h5py.File(sys.argv[1], "a") as f:
    o = json.loads(f.attrs["run_options"])
    assert o["device"] == "cpu", o.get("device")
    o["device"] = "cuda:0"
    f.attrs["run_options"] = json.dumps(o)' "$work/split/last.h5" && ok || bad "last.h5 does not record device cpu"
"$tool" --data "$work/cs" --out "$work/split" $args --resume --device cpu >"$work/split2.out" 2>&1 ||
    bad "--resume: $(cat "$work/split2.out")"
}
"$python" "$here/compare_checkpoints.py" "$work/full/last.h5" "$work/split/last.h5" --steps 30 && ok ||
    bad "resumed last.h5 differs"
strip() { sed 's/, "images_per_s": [-0-9.e+]*//' "$1"; }
[ "$(strip "$work/full/log.jsonl")" = "$(strip "$work/split/log.jsonl")" ] && ok "resumed log equal" ||
    bad "resumed log differs"

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
refuse "a crop the images cannot fill" "--crop 713x713 is larger than the padded image" "$work/cs" --crop 713
refuse "a crop wider than the images at --scale-max" "is 64x128 (HxW), at most 64x128 at --scale-max 1" \
    "$work/cs" --crop 64x300 --scale-max 1
# shellcheck disable=SC2086
device_refusals "$tool" --data "$work/cs" --out "$work/bad" $args
[ ! -e "$work/bad" ] && ok || bad "a refused --device created OUT"
[ "$(cksum <"$work/full/last.h5")" = "$before" ] && ok || bad "a failing run changed another run's checkpoint"

finish
