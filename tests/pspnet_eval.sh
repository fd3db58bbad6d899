#!/bin/sh
# pspnet-eval end to end on synthetic Cityscapes (12 training and 2 val frames
# of 128x64): pspnet-train trains PSPNet on resnet26 at width 0.25 for 20
# iterations, then pspnet-eval evaluates its last.h5 on the val split.
#   - Whole mode reproduces the mIoU, pixel accuracy and per-class IoU of
#     pspnet-train's last validation (log.jsonl, to its 10 digits).
#   - tests/pspnet_eval_ref.py, in numpy over the files alone: every
#     prediction format (trainid, labelid, color, overlay) is right for every
#     frame, and mIoU, category IoU and accuracies recomputed from the trainId
#     PNGs and the ground truth equal results.json's.
#   - The PyTorch twin (tests/ref/pspnet_torch.py) with the same weights
#     predicts the same classes, at the frames' own size and at --base-size 96
#     (image resized, probabilities resized back, as semseg's test does);
#     --base-size 128 (the frames' longer side), with --device cpu, changes
#     nothing.
#   - Slide mode (--crop 48 --stride 32: 2x4 overlapping windows, with --flip;
#     and --base-size 40, an image smaller than the crop, padded) agrees with
#     the twin running semseg's scale_process / net_process.
#   - --scales (multi-scale, slide and whole) with --save-prob agrees with
#     the twin's multi-scale test: labels on >= 99.9% of pixels and
#     probabilities within 1e-4.
#   - The saved labelId PNGs scored with --score give the same numbers.
#   - --images predicts a folder of PNG and JPEG images without labels;
#     hidden files and folders are left out, other files skipped and counted.
#   - Slide windows that are mostly padding (the crop more than twice the
#     image on a side) give one warning on stderr, others none.
#   - Outputs that would land among the inputs are refused before any work,
#     naming both, the inputs untouched: --save-pred inside --images, or
#     --images inside a folder --save-pred writes; --save-pred or --out inside
#     the data's leftImg8bit/ or gtFine/.
#   - Bad input is refused by name, with a non-zero exit and no --out left
#     behind: a missing or classifier weights file, a label outside the
#     classes, a label of another size, a missing split, a fractional option,
#     an --out that is a file or would overwrite the weights, an unknown
#     --mode, a stride larger than the crop, --crop in whole mode, --images
#     without --save-pred or without images, two images whose predictions
#     would share a name, --device with --score, and a --device that cannot
#     be used (lib.sh device_refusals).
# usage: pspnet_eval.sh PATH/TO/pspnet-eval PATH/TO/pspnet-train PATH/TO/facs-data [WORK_DIR]
set -u
usage="usage: pspnet_eval.sh PATH/TO/pspnet-eval PATH/TO/pspnet-train PATH/TO/facs-data [WORK_DIR]"
tool=${1:?$usage}
train_tool=${2:?$usage}
data_tool=${3:?$usage}
python=/usr/bin/python3
here=$(dirname "$0")
. "$here/lib.sh"
make_work pspnet_eval "${4:-}"
ref() { "$python" "$here/pspnet_eval_ref.py" "$@"; }

"$data_tool" synth cityscapes "$work/cs" --n 12 --size 128x64 2>/dev/null || bad "facs-data synth cityscapes"
"$train_tool" --data "$work/cs" --out "$work/train" --arch pspnet_resnet26 --width 0.25 --crop 64 --batch 4 \
    --iters 20 --log-every 10 --val-every 20 --workers 1 >"$work/train.out" 2>&1 || bad "training: $(cat "$work/train.out")"
weights=$work/train/last.h5

"$tool" --weights "$weights" --data "$work/cs" --split val --out "$work/ev" --save-pred "$work/pred//" --mode whole \
    >"$work/ev.out" 2>"$work/err"
expect_rc "pspnet-eval --data" 0 $?
contains "the predictions' folder, trailing slashes and all" "$work/ev.out" "predictions: $work/pred/{trainid,"
grep -E "^(mIoU|  all|absent|flat|vehicle)" "$work/ev.out"
"$python" - "$work/train/log.jsonl" "$work/ev/results.json" <<'PY' && ok "reproduces pspnet-train's last validation" ||
import json, sys
last = [json.loads(l) for l in open(sys.argv[1]) if "val_miou" in l][-1]
got = json.load(open(sys.argv[2]))
digits = lambda v: None if v is None else float("%.10g" % v)  # the log keeps 10 significant digits
assert digits(got["miou"]) == last["val_miou"], (got["miou"], last["val_miou"])
assert digits(got["pixel_acc"]) == last["val_pixel_acc"], (got["pixel_acc"], last["val_pixel_acc"])
assert {k: digits(v) for k, v in got["iou"].items()} == last["val_iou"], (got["iou"], last["val_iou"])
print("val mIoU", last["val_miou"], "at iteration", last["iter"], "= results.json", got["miou"])
PY
    bad "results.json differs from the last validation of log.jsonl"
[ -s "$work/ev/confusion.csv" ] && head -1 "$work/ev/confusion.csv" | grep -q '^true\\predicted,road,' && ok ||
    bad "confusion.csv"
ref check "$work/pred" "$work/cs" val "$work/ev/results.json" && ok || bad "predictions or metrics (numpy)"
ref twin "$weights" "$work/cs" val "$work/pred" && ok || bad "whole-image predictions differ from the PyTorch twin"
# The labelId PNGs, scored as predictions made elsewhere, give the same numbers again.
"$tool" --score "$work/pred/labelid" --data "$work/cs" --out "$work/scored" >/dev/null 2>"$work/err"
expect_rc "--score of the labelId predictions" 0 $?
"$python" -c "import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for k in ('miou', 'iou', 'category_miou', 'category_iou', 'pixel_acc', 'mean_acc'):
    assert a[k] == b[k], (k, a[k], b[k])
assert b['miiou'] is not None" "$work/ev/results.json" "$work/scored/results.json" &&
    ok "--score of the saved labelIds reproduces the evaluation" || bad "--score of the labelIds differs"

"$tool" --weights "$weights" --data "$work/cs" --out "$work/ev96" --save-pred "$work/pred96" --base-size 96 \
    --mode whole >/dev/null 2>"$work/err"
expect_rc "--base-size 96" 0 $?
ref twin "$weights" "$work/cs" val "$work/pred96" 96 && ok || bad "--base-size 96 differs from the PyTorch twin"
ref check "$work/pred96" "$work/cs" val "$work/ev96/results.json" && ok || bad "--base-size 96: metrics (numpy)"
"$tool" --weights "$weights" --data "$work/cs" --out "$work/ev128" --base-size 128 --mode whole --device cpu \
    >/dev/null 2>"$work/err"
expect_rc "--base-size 128 --device cpu" 0 $?
cmp -s "$work/ev/results.json" "$work/ev128/results.json" &&
    ok "--base-size of the longer side and --device cpu change nothing" || bad "--base-size 128 changed the results"

# Slide mode: 48x48 windows every 32 (2x4 windows over a 64x128 frame), with --flip; and at --base-size 40
# (20x40, smaller than the crop: padded with the mean) with the default stride ceil(2/3 * 48) = 32.
"$tool" --weights "$weights" --data "$work/cs" --out "$work/evs" --save-pred "$work/preds" --crop 48 --stride 32 \
    --flip --save-prob >/dev/null 2>"$work/err"
expect_rc "--mode slide --flip" 0 $?
grep -q "warning" "$work/err" && bad "48x48 windows over 64x128 frames warned: $(cat "$work/err")" || ok
ref twin "$weights" "$work/cs" val "$work/preds" 0 48 32 1 && ok || bad "slide + flip differs from the PyTorch twin"
ref check "$work/preds" "$work/cs" val "$work/evs/results.json" && ok || bad "slide: metrics (numpy)"
"$tool" --weights "$weights" --data "$work/cs" --out "$work/evs40" --save-pred "$work/preds40" --crop 48 \
    --base-size 40 >/dev/null 2>"$work/err"
expect_rc "--mode slide --base-size 40" 0 $?
contains "48x48 windows over 20x40 frames" "$work/err" "warning: --crop 48x48 is more than twice the size of"
ref twin "$weights" "$work/cs" val "$work/preds40" 40 48 32 0 && ok || bad "slide, padded, differs from the PyTorch twin"

# Multi-scale, semseg's: the longer side at round(scale x base size) in turn, probabilities resized back and averaged;
# in slide mode (0.6 x 96 = 58: one padded window high) with flip, and in whole mode at the frames' own size.
"$tool" --weights "$weights" --data "$work/cs" --out "$work/evms" --save-pred "$work/predms" --crop 48 \
    --base-size 96 --scales 0.6,1,1.25 --flip --save-prob >/dev/null 2>"$work/err"
expect_rc "--scales in slide mode" 0 $?
ref twin "$weights" "$work/cs" val "$work/predms" 96 48 32 1 0.6,1,1.25 && ok ||
    bad "multi-scale slide differs from the PyTorch twin"
[ "$(ls "$work"/predms/prob/*.h5 | wc -l)" = "$(ls "$work"/cs/leftImg8bit/val/*/*.png | wc -l)" ] &&
    ok "--save-prob wrote one prob/NAME.h5 per frame" || bad "--save-prob: prob/ is not one file per frame"
"$tool" --weights "$weights" --data "$work/cs" --out "$work/evmw" --save-pred "$work/predmw" --mode whole \
    --scales 0.5,1.5 --save-prob >/dev/null 2>"$work/err"
expect_rc "--scales in whole mode" 0 $?
ref twin "$weights" "$work/cs" val "$work/predmw" 0 0 0 0 0.5,1.5 && ok ||
    bad "multi-scale whole differs from the PyTorch twin"
ref check "$work/predmw" "$work/cs" val "$work/evmw/results.json" && ok || bad "multi-scale: metrics (numpy)"

# --images: the val frames as PNGs and one as a JPEG in a sub-folder, no labels.
mkdir -p "$work/images/sub"
cp "$work"/cs/leftImg8bit/val/*/*.png "$work/images/"
"$python" -c 'import sys; from PIL import Image; Image.open(sys.argv[1]).save(sys.argv[2], quality=95)' \
    "$(ls "$work"/cs/leftImg8bit/val/*/*.png | head -1)" "$work/images/sub/frame.jpg"
"$tool" --weights "$weights" --images "$work/images" --save-pred "$work/pred_images" --mode whole >/dev/null 2>"$work/err"
expect_rc "--images" 0 $?
"$python" - "$work/pred" "$work/pred_images" <<'PY' && ok "--images predicts PNGs and JPEGs" || bad "--images predictions"
import os, sys
import numpy as np
from PIL import Image
data, images = sys.argv[1:3]
names = sorted(os.listdir(os.path.join(data, "trainid")))
for kind in ("trainid", "labelid", "color", "overlay"):
    assert sorted(os.listdir(os.path.join(images, kind))) == names + ["sub"], kind
    assert os.listdir(os.path.join(images, kind, "sub")) == ["frame.png"], kind
for n in names:  # the same image gives the same prediction
    a, b = (np.array(Image.open(os.path.join(d, "trainid", n))) for d in (data, images))
    assert (a == b).all(), n
assert Image.open(os.path.join(images, "trainid", "sub", "frame.png")).size == (128, 64)
PY

# --images beside what is not an image: hidden files and folders left out, other files skipped and counted.
mkdir -p "$work/photos/.hidden" "$work/photos/sub"
frame=$(ls "$work"/cs/leftImg8bit/val/*/*.png | head -1)
cp "$frame" "$work/photos/a.png"
cp "$frame" "$work/photos/.hidden/b.png"
cp "$frame" "$work/photos/sub/.c.png"
echo "not an image" >"$work/photos/notes.txt"
echo "not decoded here" >"$work/photos/sub/thumb.webp"
"$tool" --weights "$weights" --images "$work/photos" --save-pred "$work/pred_photos" --mode whole >"$work/out" \
    2>"$work/err"
expect_rc "--images with other files" 0 $?
contains "--images with other files" "$work/out" "skipped 2 files that are not .jpg, .jpeg or .png"
[ "$(cd "$work/pred_photos/trainid" && find . -type f)" = "./a.png" ] && ok "--images: hidden entries left out" ||
    bad "--images predicted $(cd "$work/pred_photos/trainid" && find . -type f)"

# Outputs among the inputs: refused before any work, naming both; the inputs untouched.
mkdir -p "$work/q/color"
cp "$frame" "$work/q/x.png"
cp "$(ls "$work"/cs/leftImg8bit/train/*/*.png | head -1)" "$work/q/color/x.png"
before=$(cksum "$work"/q/x.png "$work"/q/color/x.png)
expect_failure 1 "--save-pred equal to --images" "$tool" "--save-pred $work/q lies inside --images $work/q" -- \
    --weights "$weights" --images "$work/q" --save-pred "$work/q" --mode whole
expect_failure 1 "--save-pred inside --images" "$tool" "--save-pred $work/q/pred lies inside --images $work/q" -- \
    --weights "$weights" --images "$work/q" --save-pred "$work/q/pred" --mode whole
expect_failure 1 "--images where --save-pred writes" "$tool" \
    "--images $work/q/color is or lies inside $work/q/color, where --save-pred $work/q writes its color predictions" \
    -- --weights "$weights" --images "$work/q/color" --save-pred "$work/q" --mode whole
[ "$(cksum "$work"/q/x.png "$work"/q/color/x.png)" = "$before" ] && [ "$(find "$work/q" | wc -l)" -eq 4 ] &&
    ok "--images untouched" || bad "a refused --save-pred wrote into --images: $(find "$work/q")"
cities=$(ls "$work/cs/leftImg8bit/val" | wc -l)
expect_failure 1 "--save-pred inside the data" "$tool" "is or lies inside $work/cs/leftImg8bit," -- \
    --weights "$weights" --data "$work/cs" --out "$work/bad" --save-pred "$work/cs/leftImg8bit/val"
expect_failure 1 "--out inside the data" "$tool" "--out $work/cs/gtFine/val/ev is or lies inside $work/cs/gtFine" -- \
    --weights "$weights" --data "$work/cs" --out "$work/cs/gtFine/val/ev"
[ ! -e "$work/bad" ] && [ ! -e "$work/cs/gtFine/val/ev" ] &&
    [ "$(ls "$work/cs/leftImg8bit/val" | wc -l)" -eq "$cities" ] && ok "the data untouched" ||
    bad "a refused output inside the data was written"

# refuse WHAT NEEDLE ARGS...: a non-zero exit naming NEEDLE, and no $work/bad left behind.
refuse() {
    what=$1 needle=$2
    shift 2
    "$tool" "$@" >"$work/out" 2>"$work/err"
    [ $? -ne 0 ] && ok || bad "$what: exit 0"
    contains "$what" "$work/err" "$needle"
    if [ -e "$work/bad" ]; then bad "$what: left $work/bad"; rm -rf "$work/bad"; else ok; fi
}
data="--data $work/cs --out $work/bad"
# shellcheck disable=SC2086
{
refuse "a missing weights file" "$work/nothing.h5" --weights "$work/nothing.h5" $data
"$python" -c 'import h5py, sys
with h5py.File(sys.argv[1], "w") as f:
    f.attrs.update({"format": "facs-weights", "format_version": 1, "architecture": "resnet26", "classes": 10,
                    "width": 0.25})' "$work/classifier.h5"
refuse "a classifier's weights" "holds resnet26, not a PSPNet" --weights "$work/classifier.h5" $data
refuse "a missing split" "$work/cs/leftImg8bit/test" --weights "$weights" $data --split test
refuse "a fractional --base-size" "--base-size needs a whole number" --weights "$weights" $data --base-size 96.5
refuse "an unknown --mode" "--mode must be" --weights "$weights" $data --mode tiles
refuse "a stride larger than the crop" "--stride 40x40 is larger than --crop 32x32" --weights "$weights" $data \
    --crop 32 --stride 40
refuse "--crop in whole mode" "--crop sets the windows of --mode slide" --weights "$weights" $data --mode whole \
    --crop 32
refuse "--images without --save-pred" "--images needs --save-pred" --weights "$weights" --images "$work/images"
refuse "--save-prob without --save-pred" "--save-prob writes under --save-pred" --weights "$weights" $data --save-prob
refuse "an empty scale" "--scales needs comma-separated numbers" --weights "$weights" $data --scales 0.5,,1
refuse "a scale of 0" "--scales needs a number in [0.05, 8], not '0'" --weights "$weights" $data --scales 0,1
refuse "a scale that is not a number" "--scales" --weights "$weights" $data --scales 1,big
refuse "--device with --score" "--score scores predictions made elsewhere; --device belongs to running a model" \
    --score "$work/pred/labelid" $data --device cpu
device_refusals "$tool" --weights "$weights" $data
if [ -e "$work/bad" ]; then bad "a refused --device left $work/bad"; rm -rf "$work/bad"; else ok; fi
}
cp -r "$work/cs" "$work/cs_label"
label=$(ls "$work"/cs_label/gtFine/val/*/*_labelTrainIds.png | head -1)
"$python" -c 'import sys, numpy as np; from PIL import Image
a = np.array(Image.open(sys.argv[1])); a[3, 5] = 50; Image.fromarray(a).save(sys.argv[1])' "$label"
refuse "a label outside the classes" "$(basename "$label"): trainId 50 at x=5, y=3" --weights "$weights" \
    --data "$work/cs_label" --out "$work/bad"
cp -r "$work/cs" "$work/cs_size"
label=$(ls "$work"/cs_size/gtFine/val/*/*_labelTrainIds.png | head -1)
"$python" -c "from PIL import Image; import sys; Image.new('L', (32, 16)).save(sys.argv[1])" "$label"
refuse "a label of another size" "$(basename "$label") is 32x16" --weights "$weights" --data "$work/cs_size" \
    --out "$work/bad"
mkdir "$work/empty"
refuse "--images without images" "no image found" --weights "$weights" --images "$work/empty" \
    --save-pred "$work/bad"
cp "$work/images/sub/frame.jpg" "$work/images/sub/frame.png"
refuse "two images with one prediction name" "would both be predicted as sub/frame.png" --weights "$weights" \
    --images "$work/images" --save-pred "$work/bad"
touch "$work/file"
refuse "an --out that is a file" "--out $work/file: exists and is not a folder" --weights "$weights" \
    --data "$work/cs" --out "$work/file"
mkdir "$work/keep"
cp "$weights" "$work/keep/results.json"
before=$(cksum <"$work/keep/results.json")
refuse "an --out that would overwrite the weights" "is the input" --weights "$work/keep/results.json" \
    --data "$work/cs" --out "$work/keep"
[ "$(cksum <"$work/keep/results.json")" = "$before" ] && ok || bad "the weights file was overwritten"

# Ctrl-C within a frame: a frame at several scales with flip takes long on a CPU (minutes at 2048x1024), so the
# windows ask the interrupt flag and the run stops within the frame: no prediction, no results, exit 130. It used
# to finish the frame and, the frame being the last, write every result as if not interrupted.
mkdir -p "$work/slow"
cp "$(find "$work/cs/leftImg8bit/val" -name "*.png" | head -1)" "$work/slow/"
"$tool" --weights "$weights" --images "$work/slow" --save-pred "$work/slow_pred" --crop 32 --stride 8 --flip \
    --scales 0.5,0.75,1,1.25,1.5,1.75,2,2.5,3 >"$work/slow.out" 2>&1 &
pid=$!
i=0
while [ $i -lt 600 ] && ! grep -q "windows every" "$work/slow.out"; do sleep 0.05; i=$((i + 1)); done
sleep 0.5
kill -INT $pid
wait $pid
expect_rc "Ctrl-C within a frame" 130 $?
contains "Ctrl-C within a frame" "$work/slow.out" "interrupted: no results written"
[ -z "$(find "$work/slow_pred" -type f 2>/dev/null)" ] && ok || bad "Ctrl-C within a frame: a prediction was written"

# A --save-pred folder that cannot be written is named before the first frame (it failed at the first prediction).
mkdir -p "$work/ro_pred" "$work/one_image"
cp "$(find "$work/cs/leftImg8bit/val" -name "*.png" | head -1)" "$work/one_image/"
chmod 555 "$work/ro_pred"
if can_run_unprivileged "$tool" "$weights" "$(find "$work/one_image" -type f)"; then
    unprivileged "$tool" --weights "$weights" --images "$work/one_image" --save-pred "$work/ro_pred" >"$work/out" \
        2>"$work/err" && bad "an unwritable --save-pred: exit 0" || ok
    contains "an unwritable --save-pred" "$work/err" "--save-pred: cannot write into the folder $work/ro_pred"
fi
chmod 755 "$work/ro_pred"

finish
