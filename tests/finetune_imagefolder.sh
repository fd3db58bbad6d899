#!/bin/sh
# facs-finetune on an image folder (DIR/train/<class>/, DIR/val/<class>/):
#   - facs-data synth imagefolder writes one (4 classes, 200 + 40 JPEG/PNG
#     images of 32x32) and facs-data check passes it;
#   - a 4-epoch run of a tiny network (--input-size 32; the ImageNet recipe
#     with label smoothing, step schedule and warm-up) learns: final test top-1
#     at least 0.75, chance being 0.25;
#   - resume is exact: --stop-after 2 then --resume ends with last.h5 equal to
#     the uninterrupted run's (tests/compare_checkpoints.py) and the same log;
#     resumed on a train/ with one image more, or in another class order, it
#     is refused saying what changed (not naming options that do not exist);
#   - the checkpoint records the recipe (norm, eval resize, class names) and
#     --eval rebuilds it from the file alone;
#   - JPEG draft decoding (on by default in training) is recorded; with drafts
#     happening (--input-size 16 on 32x32 images, --jpeg-draft all) a file that
#     does not decode is still left out by --skip-bad;
#   - --classes-file fixes the class order (a byte order mark is skipped);
#     --eval refuses one that differs from the file's classes; the per-class
#     table's header is the one docs/finetune.md explains; bad input gets a
#     message naming it: a file that does not decode (and --skip-bad leaves it
#     out, listing it, but refuses a batch it leaves with one image), an empty
#     class, a val class train lacks, a val/ without images, a class file
#     naming a folder that does not exist, a folder as --classes-file, a
#     missing val/, an --out inside train/ or val/ (or a class folder linked
#     there from elsewhere), and CIFAR-only use of
#     image-folder options.
# usage: finetune_imagefolder.sh PATH/TO/facs-finetune PATH/TO/facs-data [WORK_DIR]
set -u
tool=${1:?usage: finetune_imagefolder.sh PATH/TO/facs-finetune PATH/TO/facs-data [WORK_DIR]}
data_tool=${2:?usage: finetune_imagefolder.sh PATH/TO/facs-finetune PATH/TO/facs-data [WORK_DIR]}
python=/usr/bin/python3
here=$(dirname "$0")
. "$here/lib.sh"
make_work finetune_imagefolder "${3:-}"
start=$(date +%s)

data="$work/data"
"$data_tool" synth imagefolder "$data" --classes 4 --n 200 --size 32 --seed 3 2>"$work/err"
expect_rc "facs-data synth imagefolder" 0 $?
"$data_tool" check "$data" >"$work/check.out" 2>"$work/err"
expect_rc "facs-data check" 0 $?
contains "facs-data check" "$work/check.out" "train: 200 images"
contains "facs-data check" "$work/check.out" "val: 40 images"

args="--data $data --arch facs_resnet26 --width 0.25 --input-size 32 --epochs 4 --batch 20 --workers 2 --seed 7
      --label-smoothing 0.1 --schedule step --warmup 1"
# shellcheck disable=SC2086
run() { "$tool" $args "$@"; }

run --out "$work/full" >"$work/full.out" 2>&1 || bad "uninterrupted run failed: $(cat "$work/full.out")"
grep "^epoch" "$work/full.out"
top1=$(sed -n 's/^epoch   4\/4 .*test_top1 \([0-9.]*\).*/\1/p' "$work/full.out")
if [ -n "$top1" ] && awk "BEGIN { exit !($top1 >= 0.75) }"; then ok "learns: test top-1 $top1 (chance 0.25)"; else
    bad "test top-1 after 4 epochs is '$top1', want >= 0.75"; fi
contains "per-class table" "$work/full.out" "automobile"

run --out "$work/split" --stop-after 2 >"$work/split1.out" 2>&1 || bad "--stop-after 2: $(cat "$work/split1.out")"
# Resumed on other data or classes: refused, saying what changed (no --class-names option exists).
cp -r "$data" "$work/grown"
cp "$data/train/bird/bird_00002.jpg" "$work/grown/train/bird/extra.jpg"
expect_failure 1 "--resume on a grown train/" run \
    "with the training images of --data numbering 200, not 201; --data changed since" -- \
    --data "$work/grown" --out "$work/split" --resume
printf 'cat\nbird\nautomobile\nairplane\n' >"$work/classes.txt"
expect_failure 1 "--resume with another class order" run \
    'was written with the classes ["airplane","automobile","bird","cat"] in this order, not ["cat",' -- \
    --classes-file "$work/classes.txt" --out "$work/split" --resume
run --out "$work/split" --resume >"$work/split2.out" 2>&1 || bad "--resume failed: $(cat "$work/split2.out")"
"$python" "$here/compare_checkpoints.py" "$work/full/last.h5" "$work/split/last.h5" --steps 40 && ok "exact resume" ||
    bad "last.h5 after --stop-after 2 + --resume differs from the uninterrupted run's"
strip() { sed 's/, "images_per_s": [-0-9.e+]*//' "$1"; }
[ "$(strip "$work/full/log.jsonl")" = "$(strip "$work/split/log.jsonl")" ] && ok || bad "the resumed log differs"

# The recipe in the checkpoint, and --eval from the file alone.
"$python" - "$work/full/last.h5" <<'PY' && ok "run_options record the recipe" || bad "run_options lack the recipe"
import json, sys
import h5py
o = json.loads(h5py.File(sys.argv[1], "r").attrs["run_options"])
want = {"norm": "imagenet", "input-size": 32, "eval-resize": 37, "label-smoothing": 0.1, "schedule": "step",
        "data": "imagefolder", "class-names": ["airplane", "automobile", "bird", "cat"], "jpeg-draft": "train"}
bad = {k: (o.get(k), v) for k, v in want.items() if o.get(k) != v}
print("run_options:", bad or "as expected")
sys.exit(1 if bad else 0)
PY
"$tool" --data "$data" --eval "$work/full/best.h5" >"$work/eval.out" 2>"$work/err"
expect_rc "--eval best.h5" 0 $?
contains "--eval" "$work/eval.out" "input 32x32, 40 test images"

# --classes-file: the file's order is the class order (confusion.csv's header).
"$tool" --data "$data" --classes-file "$work/classes.txt" --arch facs_resnet26 --width 0.25 --input-size 32 \
    --epochs 1 --batch 100 --out "$work/ordered" >"$work/ordered.out" 2>&1
rc=$?
expect_rc "--classes-file" 0 $rc
[ "$(head -1 "$work/ordered/confusion.csv")" = 'true\predicted,cat,bird,automobile,airplane' ] && ok ||
    bad "--classes-file: confusion.csv header is '$(head -1 "$work/ordered/confusion.csv")'"
# The per-class table's header is the one docs/finetune.md explains.
header=$(grep "^class  name" "$work/ordered.out" | tr -s ' ')
tr -s ' ' <"$here/../docs/finetune.md" | grep -qxF " $header" && ok || bad "docs/finetune.md lacks the header '$header'"
# --eval takes the classes from the file: a --classes-file in another order would score against the wrong labels.
expect_failure 1 "--eval with a --classes-file in another order" "$tool" \
    "--classes-file $work/classes.txt lists 'cat' as class 0, but $work/full/best.h5 was trained with 'airplane'" \
    -- --data "$data" --eval "$work/full/best.h5" --classes-file "$work/classes.txt"
# The same list saved with a byte order mark (Windows' editors) is the same list.
printf '\357\273\277cat\nbird\nautomobile\nairplane\n' >"$work/bom.txt"
"$tool" --data "$data" --eval "$work/ordered/best.h5" --classes-file "$work/bom.txt" >"$work/out" 2>"$work/err"
expect_rc "--classes-file with a byte order mark" 0 $?

# fails WHAT NEEDLE... -- ARGS: exit 1 and every NEEDLE in stderr.
fails() {
    what=$1
    shift
    expect_failure 1 "$what" "$tool" "$@"
}
common="--arch facs_resnet26 --width 0.25 --input-size 32 --epochs 1 --batch 20"

# A file that does not decode: named, then left out with --skip-bad.
cp -r "$data" "$work/broken"
victim="$work/broken/train/bird/bird_00002.jpg"
head -c 300 "$data/train/bird/bird_00002.jpg" >"$victim"
# shellcheck disable=SC2086
fails "a truncated JPEG" "$victim" "truncated" "--skip-bad" -- --data "$work/broken" $common --out "$work/b1"
# shellcheck disable=SC2086
"$tool" --data "$work/broken" $common --batch 100 --skip-bad --out "$work/b2" >"$work/skip.out" 2>"$work/err"
expect_rc "--skip-bad" 0 $?
contains "--skip-bad" "$work/skip.out" "skipped 1 file that does not decode (--skip-bad):"
contains "--skip-bad" "$work/skip.out" "$victim"
# shellcheck disable=SC2086
"$tool" --data "$work/broken" $common --input-size 16 --batch 100 --skip-bad --jpeg-draft all --out "$work/b3" \
    >"$work/skip_draft.out" 2>"$work/err"
expect_rc "--skip-bad with JPEG drafts" 0 $?
contains "--skip-bad with JPEG drafts" "$work/skip_draft.out" "$victim"
expect_failure 2 "--jpeg-draft maybe" "$tool" "--jpeg-draft" "maybe" -- --data "$data" --jpeg-draft maybe --out "$work/e7"
"$data_tool" check "$work/broken" >"$work/check.out" 2>"$work/err"
expect_rc "facs-data check of a bad file" 1 $?
contains "facs-data check of a bad file" "$work/check.out" "$victim"

# An empty class, a val class that train lacks, a class file naming a missing folder, no val/.
cp -r "$data" "$work/empty"
mkdir "$work/empty/train/dog"
# shellcheck disable=SC2086
fails "an empty class" "$work/empty/train" "found no valid file for the classes dog" -- \
    --data "$work/empty" $common --out "$work/e1"
cp -r "$data" "$work/extra"
mkdir "$work/extra/val/zebra" && cp "$data/val/cat/cat_00003.jpg" "$work/extra/val/zebra/"
# shellcheck disable=SC2086
fails "a val class train lacks" "$work/extra/val/zebra" "a class folder missing from the classes of $work/extra/train" \
    -- --data "$work/extra" $common --out "$work/e2"
cp -r "$data" "$work/noimages" && rm "$work"/noimages/val/*/*
# shellcheck disable=SC2086
fails "a val/ without images" "no image (.jpg, .jpeg, .png) for any of the classes of $work/noimages/train" -- \
    --data "$work/noimages" $common --out "$work/e9"
printf 'cat\nbird\nautomobile\nairplane\nhorse\n' >"$work/five.txt"
# shellcheck disable=SC2086
fails "--classes-file with a missing class" \
    "for the class horse, listed among the classes in --classes-file $work/five.txt" -- \
    --data "$data" --classes-file "$work/five.txt" $common --out "$work/e3"
printf 'cat\nbird\ncat\n' >"$work/twice.txt"
# shellcheck disable=SC2086
fails "--classes-file with a name twice" "$work/twice.txt, line 3" "twice" -- \
    --data "$data" --classes-file "$work/twice.txt" $common --out "$work/e4"
# shellcheck disable=SC2086
fails "--classes-file naming a folder" "--classes-file $data is a folder, not a class list" -- \
    --data "$data" --classes-file "$data" $common --out "$work/e10"
mkdir -p "$work/noval" && cp -r "$data/train" "$work/noval/"
# shellcheck disable=SC2086
fails "no val/" "$work/noval/val/" -- --data "$work/noval" $common --out "$work/e5"
"$data_tool" synth cifar10 "$work/c10" --n 50 2>/dev/null
# shellcheck disable=SC2086
fails "--classes-file on CIFAR" "--classes-file applies to image folders" -- \
    --data "$work/c10" --classes-file "$work/classes.txt" $common --out "$work/e6"
# shellcheck disable=SC2086
fails "--jpeg-draft on CIFAR" "--jpeg-draft applies to image folders" -- \
    --data "$work/c10" --jpeg-draft off $common --out "$work/e8"
# An --out inside train/ or val/ would become a class of its own: refused before anything is created.
# shellcheck disable=SC2086
fails "--out inside train/" "--out $data/train/bird/run is or lies inside $data/train" -- \
    --data "$data" $common --out "$data/train/bird/run"
[ ! -e "$data/train/bird/run" ] && ok || bad "--out inside train/: created it"
fails "--eval --out inside val/" "--out $data/val/run is or lies inside $data/val" -- \
    --data "$data" --eval "$work/full/best.h5" --out "$data/val/run"
[ ! -e "$data/val/run" ] && ok || bad "--eval --out inside val/: created it"
# A class folder whose name is not UTF-8 (Latin-1, from a zip made on Windows): refused by name, as the checkpoint's
# class names are JSON text (it was left out of them silently, and --eval then failed with a wrong count).
cp -r "$data" "$work/latin1"
"$python" -c 'import os, sys; os.rename(os.path.join(sys.argv[1], "train", "bird"), os.path.join(os.fsencode(sys.argv[1]), b"train", b"caf\xe9"))' \
    "$work/latin1"
# shellcheck disable=SC2086
fails "a class folder name that is not UTF-8" "is not UTF-8" -- --data "$work/latin1" $common --out "$work/e12"
# A class folder that links to a folder elsewhere: an --out there is inside the class too (the walk follows links).
cp -r "$data" "$work/linked"
mv "$work/linked/train/bird" "$work/bird_photos"
ln -s "$work/bird_photos" "$work/linked/train/bird"
# shellcheck disable=SC2086
fails "--out inside a linked class folder" "--out $work/bird_photos/run is or lies inside $work/linked/train/bird" -- \
    --data "$work/linked" $common --out "$work/bird_photos/run"
[ ! -e "$work/bird_photos/run" ] && ok || bad "--out inside a linked class folder: created it"
# --skip-bad leaving one image of a batch: BatchNorm cannot train on it; the message names the batch.
# shellcheck disable=SC2086
fails "--skip-bad leaving one image" "--skip-bad left one image of the batch" "epoch 1, batch " -- \
    --data "$work/broken" $common --batch 2 --skip-bad --out "$work/e11"
for d in e1 e2 e3 e4 e5 e6 e7 e8 e9 e10 e11 e12; do [ ! -e "$work/$d" ] && ok || bad "$d: a failed run left $work/$d"; done

echo "$(($(date +%s) - start)) s"
finish
