#!/bin/sh
# pspnet-eval --score on synthetic Cityscapes with gtFine instanceIds (15
# training and 3 val frames of 256x128, persons and cars of many sizes):
#   - tests/cityscapes_score_ref.py writes labelId predictions with every kind
#     of error (wrong evaluated classes, labelIds outside the 19 including
#     caravan and trailer, erased instances), one as a palette PNG in a nested
#     folder, and the same as trainId PNGs; then recomputes, as the official
#     evalPixelLevelSemanticLabeling does over its 34x34 labelId matrix, every
#     number of results.json: class and category IoU and iIoU, their means
#     and the accuracies (within 1e-9).
#   - --pred-format trainid scores the trainId PNGs the same way.
#   - Refused by name with a non-zero exit: a frame without prediction, two
#     predictions for a frame, a PNG of no frame, a prediction of another
#     size, a value outside the labelIds or the trainIds, instanceIds for
#     some frames only, --score without --out, --score with --weights, an
#     --out inside the data's leftImg8bit/ (not created).
# usage: pspnet_score.sh PATH/TO/pspnet-eval PATH/TO/facs-data [WORK_DIR]
set -u
usage="usage: pspnet_score.sh PATH/TO/pspnet-eval PATH/TO/facs-data [WORK_DIR]"
tool=${1:?$usage}
data_tool=${2:?$usage}
python=/usr/bin/python3
here=$(dirname "$0")
. "$here/lib.sh"
make_work pspnet_score "${3:-}"
ref() { "$python" "$here/cityscapes_score_ref.py" "$@"; }

"$data_tool" synth cityscapes "$work/cs" --n 15 --size 256x128 >/dev/null 2>&1 || bad "facs-data synth cityscapes"
ref predict "$work/cs" val "$work/pred" 7 || bad "writing the predictions"

"$tool" --score "$work/pred" --data "$work/cs" --out "$work/s" >"$work/out" 2>"$work/err"
expect_rc "--score" 0 $?
grep -E "^(mIoU|iIoU|car|person)" "$work/out"
ref score "$work/pred" "$work/cs" val "$work/s/results.json" && ok || bad "--score differs from the official rules"
"$tool" --score "$work/pred_trainid" --pred-format trainid --data "$work/cs" --out "$work/st" >/dev/null 2>"$work/err"
expect_rc "--score --pred-format trainid" 0 $?
ref score "$work/pred_trainid" "$work/cs" val "$work/st/results.json" trainid && ok ||
    bad "--pred-format trainid differs from the official rules"

refuse() { # what needle args...: a non-zero exit whose message holds needle
    what=$1 needle=$2
    shift 2
    "$tool" "$@" >"$work/out" 2>"$work/err"
    [ $? -ne 0 ] && ok || bad "$what: exit 0"
    contains "$what" "$work/err" "$needle"
}
one=$(ls "$work"/pred/lindau/*.png)
cp -r "$work/pred" "$work/p_missing" && rm "$work/p_missing/lindau/$(basename "$one")"
refuse "a frame without prediction" "no prediction for $work/cs/leftImg8bit/val/lindau/lindau_000000_000019" \
    --score "$work/p_missing" --data "$work/cs" --out "$work/bad"
cp -r "$work/pred" "$work/p_two" && cp "$one" "$work/p_two/lindau/lindau_000000_000019_other.png"
refuse "two predictions for a frame" "two predictions for lindau_000000_000019_leftImg8bit.png" \
    --score "$work/p_two" --data "$work/cs" --out "$work/bad"
cp -r "$work/pred" "$work/p_extra" && cp "$one" "$work/p_extra/lindau/lindau_000099_000019_pred.png"
refuse "a PNG of no frame" "lindau/lindau_000099_000019_pred.png belongs to no frame of split val" \
    --score "$work/p_extra" --data "$work/cs" --out "$work/bad"
cp -r "$work/pred" "$work/p_size" && "$python" -c "from PIL import Image; import sys
Image.new('L', (100, 50), 7).save(sys.argv[1])" "$work/p_size/lindau/$(basename "$one")"
refuse "a prediction of another size" "$(basename "$one") is 100x50 but its ground truth is 256x128" \
    --score "$work/p_size" --data "$work/cs" --out "$work/bad"
cp -r "$work/pred" "$work/p_value" && "$python" -c "import sys, numpy as np; from PIL import Image
a = np.array(Image.open(sys.argv[1])); a[2, 9] = 40; Image.fromarray(a).save(sys.argv[1])" \
    "$work/p_value/lindau/$(basename "$one")"
refuse "a labelId outside 0..33" "40 at x=9, y=2 is not a Cityscapes labelId" \
    --score "$work/p_value" --data "$work/cs" --out "$work/bad"
refuse "a labelId read as trainId" "is not a trainId" \
    --score "$work/pred" --pred-format trainid --data "$work/cs" --out "$work/bad"
cp -r "$work/cs" "$work/cs_inst" && rm "$work"/cs_inst/gtFine/val/lindau/*_instanceIds.png
refuse "instanceIds for some frames only" "2 of the 3 frames have gtFine instanceIds" \
    --score "$work/pred" --data "$work/cs_inst" --out "$work/bad"
refuse "--score without --out" "--score PRED_DIR needs --data ROOT" --score "$work/pred" --data "$work/cs"
refuse "--score with --weights" "--weights belongs to running a model" --score "$work/pred" --data "$work/cs" \
    --out "$work/bad" --weights "$work/x.h5"
refuse "--out inside the data" "--out $work/cs/leftImg8bit/scores is or lies inside $work/cs/leftImg8bit" \
    --score "$work/pred" --data "$work/cs" --out "$work/cs/leftImg8bit/scores"
[ ! -e "$work/cs/leftImg8bit/scores" ] && ok || bad "a refused --out inside the data was created"
rm -rf "$work"/cs_inst/gtFine/val/*/*_instanceIds.png
"$tool" --score "$work/pred" --data "$work/cs_inst" --out "$work/s_noinst" >/dev/null 2>"$work/err"
expect_rc "--score without any instanceIds" 0 $?
"$python" -c "import json, sys
r = json.load(open(sys.argv[1]))
assert all(r[k] is None for k in ('miiou', 'iiou', 'category_miiou', 'category_iiou')), r
assert r['miou'] == json.load(open(sys.argv[2]))['miou']" "$work/s_noinst/results.json" "$work/s/results.json" &&
    ok "without instanceIds: the same mIoU, iIoU null" || bad "scoring without instanceIds"

finish
