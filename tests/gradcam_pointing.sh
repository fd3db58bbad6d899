#!/bin/sh
# The GradCAM pointing game (paper §4.4) on a network facs-finetune trains:
#   - tests/ref/pointing_data.py writes an image folder (48x48 PNGs: clutter
#     alike in every class, one 12x12 coloured class pattern at a random place,
#     and a pattern-free class "plain") and the box of each val pattern;
#   - facs-finetune trains FACS-ResNet-26 (width 0.25, CIFAR stem) on it with
#     the image-folder recipe; it must learn: val top-1 >= 0.8 (chance 0.2);
#   - facs-gradcam --save-cam maps every val image for its top-1 class at
#     layer4.1 (the default tap); over the correctly classified pattern images,
#     /cam's argmax must fall in the box (plus MARGIN) for >= 80% of them;
#   - the same score for maps that ignore the evidence must be far lower: a
#     uniformly random point (its expected score: the mean of the grown box's
#     share of the image) and each image's box scored against the next
#     image's map (GradCAM's own spatial bias, the boxes' too, but the wrong
#     place): at least 0.4 and 0.3 below GradCAM's.
# It fails when the maps do not follow the evidence (scored on this run's
# maps: flipped left-right 0.31, transposed 0.38, the runner-up class's map
# 0.64) or when training does not learn.
# Deterministic: fixed data, weight and order seeds. 16 s on 2 idle cores
# (training most of it); 70-80 s measured while other jobs loaded them.
# usage: gradcam_pointing.sh PATH/TO/facs-finetune PATH/TO/facs-gradcam [WORK_DIR]
set -u
usage="usage: gradcam_pointing.sh PATH/TO/facs-finetune PATH/TO/facs-gradcam [WORK_DIR]"
finetune=${1:?$usage}
gradcam=${2:?$usage}
py=/usr/bin/python3
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
make_work gradcam_pointing "${3:-}"
start=$(date +%s)

data=$work/data
# Two copies of the pattern in each training image: RandomResizedCrop keeps as
# little as 8% of the image, and a crop without the pattern is a "plain" image
# with another label; with one copy "plain" was barely learned (0.0-0.4).
"$py" "$here/ref/pointing_data.py" "$data" --train 100 --val 20 --copies 2 --seed 1 >"$work/err" 2>&1
expect_rc "pointing_data.py" 0 $?

# --input-size 42: evaluation resizes to 42 x 256 / 224 = 48, the images' own
# size, which is also what facs-gradcam sees, so both classify at one scale.
"$finetune" --data "$data" --out "$work/run" --arch facs_resnet26 --width 0.25 --cifar-stem --input-size 42 \
    --epochs 6 --batch 32 --seed 1 >"$work/train.out" 2>"$work/err"
expect_rc "facs-finetune" 0 $?
grep "^epoch" "$work/train.out"
top1=$(sed -n 's/^epoch   6\/6 .*test_top1 \([0-9.]*\).*/\1/p' "$work/train.out")
if [ -n "$top1" ] && awk "BEGIN { exit !($top1 >= 0.8) }"; then ok "learns: val top-1 $top1 (chance 0.2)"; else
    bad "val top-1 after 6 epochs is '$top1', want >= 0.8"; fi

# --input-size 48: the images as they are (the boxes are in their pixels), not the recorded training size 42.
"$gradcam" --weights "$work/run/best.h5" --image "$data/val" --out "$work/cam" --save-cam --input-size 48 \
    >"$work/cam.out" 2>"$work/err"
expect_rc "facs-gradcam on val/" 0 $?

if "$py" - "$data" "$work/cam" <<'PY' >"$work/game" 2>&1
import os
import sys

import h5py
import numpy as np

data, cams = sys.argv[1:]
# layer4.1 has stride 8 (CIFAR stem, then layer2..4 halve), so /cam is a 6x6
# map resized bilinearly: its maximum sits at a cell centre, and a pattern
# that straddles cells may peak at one up to half a cell, 4 px, off its box.
MARGIN = 4
classes = sorted(os.listdir(os.path.join(data, "train")))
rows = []  # (argmax (y, x), box, right), per val image with a pattern
for line in open(os.path.join(data, "boxes.txt")):
    rel, *box = line.split()
    stem = os.path.splitext(os.path.relpath(rel, "val"))[0].replace("/", "_")
    with h5py.File(os.path.join(cams, stem + ".cam.h5"), "r") as f:
        cam = f["cam"][()]
        right = int(f.attrs["class"]) == classes.index(rel.split("/")[1])
    rows.append((np.unravel_index(np.argmax(cam), cam.shape), [int(v) for v in box], right))
h, w = cam.shape


def grown(b):
    return max(b[0] - MARGIN, 0), max(b[1] - MARGIN, 0), min(b[2] + MARGIN, w), min(b[3] + MARGIN, h)


def hit(peak, b):
    x0, y0, x1, y1 = grown(b)
    return x0 <= peak[1] < x1 and y0 <= peak[0] < y1


right = [i for i, r in enumerate(rows) if r[2]]
game = np.mean([hit(rows[i][0], rows[i][1]) for i in right])
chance = np.mean([(g[2] - g[0]) * (g[3] - g[1]) / (h * w) for g in map(grown, (r[1] for r in rows))])
shifted = np.mean([hit(rows[i][0], rows[(i + 1) % len(rows)][1]) for i in right])
print(f"pointing game over {len(right)} of {len(rows)} pattern images classified right: GradCAM {game:.3f}, "
      f"random point {chance:.3f}, next image's map {shifted:.3f}")
assert len(right) >= 0.8 * len(rows), "too few pattern images classified right"
assert game >= 0.8, f"GradCAM's argmax is in the box for {game:.3f} of the images, want >= 0.8"
assert chance < 0.4 and chance <= game - 0.4, "a random point scores too close to GradCAM"
assert shifted <= game - 0.3, "another image's map scores too close to GradCAM's own"
PY
then ok; else bad "the pointing game"; fi
cat "$work/game"
echo "$(($(date +%s) - start)) s"
finish
