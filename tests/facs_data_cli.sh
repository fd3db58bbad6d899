#!/bin/sh
# facs-data end to end: synth writes folders that check accepts (exit 0, counts
# and histogram in text and JSON); a corrupted folder, an unknown folder and bad
# usage exit non-zero with a message naming the problem.
# usage: facs_data_cli.sh PATH/TO/facs-data [WORK_DIR]
set -u
tool=${1:?usage: facs_data_cli.sh PATH/TO/facs-data [WORK_DIR]}
. "$(dirname "$0")/lib.sh"
make_work facs_data_cli "${2:-}"

"$tool" synth cifar10 "$work/c10" --n 100 --seed 3 2>"$work/err"
expect_rc "synth cifar10" 0 $?
"$tool" check "$work/c10" >"$work/out" 2>"$work/err"
expect_rc "check synth cifar10" 0 $?
contains "check cifar10" "$work/out" "CIFAR-10, all files valid"
contains "check cifar10 train count" "$work/out" "train: 100 images"
contains "check cifar10 test count" "$work/out" "test: 20 images"
contains "check cifar10 histogram" "$work/out" "truck"
"$tool" check --json "$work/c10" >"$work/out" 2>"$work/err"
expect_rc "check --json" 0 $?
contains "json ok" "$work/out" '"ok": true'
contains "json count" "$work/out" '"train": {"count": 100'
contains "json histogram" "$work/out" '"airplane": 10'
if /usr/bin/python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$work/out" 2>/dev/null; then ok; else
  bad "check --json did not print valid JSON"; fi

"$tool" synth cifar100 "$work/c100" --n 200 2>"$work/err"
expect_rc "synth cifar100" 0 $?
"$tool" check "$work/c100" >"$work/out" 2>"$work/err"
expect_rc "check synth cifar100" 0 $?
contains "check cifar100" "$work/out" "CIFAR-100, all files valid"
contains "check cifar100 coarse" "$work/out" "vehicles_2"

# Corruptions: one byte short, then a label out of range.
head -c 6145 "$work/c10/data_batch_2.bin" >"$work/short" && mv "$work/short" "$work/c10/data_batch_2.bin"
"$tool" check "$work/c10" >"$work/out" 2>"$work/err"
rc=$?
[ $rc -ne 0 ] && ok || bad "check of a truncated folder exited 0"
contains "truncated: names the file" "$work/err" "data_batch_2.bin"
"$tool" check --json "$work/c10" >"$work/out" 2>"$work/err"
contains "json failure" "$work/out" '"ok": false'

printf '\144' | dd of="$work/c100/test.bin" bs=1 seek=1 conv=notrunc 2>/dev/null
"$tool" check "$work/c100" >"$work/out" 2>"$work/err"
rc=$?
[ $rc -ne 0 ] && ok || bad "check of a bad label exited 0"
contains "bad label: names file and record" "$work/err" "test.bin: record 0 has fine label 100"

"$tool" synth cityscapes "$work/cs" --n 2 --size 64x32 2>"$work/err"
expect_rc "synth cityscapes" 0 $?
"$tool" check "$work/cs" >"$work/out" 2>"$work/err"
expect_rc "check synth cityscapes" 0 $?
contains "check cityscapes" "$work/out" "Cityscapes, all files valid"
contains "check cityscapes counts" "$work/out" "train: 2 images"
contains "check cityscapes classes" "$work/out" "sky"
label=$(find "$work/cs/gtFine/val" -name '*_labelTrainIds.png' | head -n 1)
printf 'not a png' >"$label"
"$tool" check "$work/cs" >"$work/out" 2>"$work/err"
rc=$?
[ $rc -ne 0 ] && ok || bad "check of a corrupt Cityscapes label exited 0"
contains "corrupt label: names the file" "$work/err" "$(basename "$label")"
"$tool" --size 10x10 synth cityscapes "$work/x" 2>"$work/err"
expect_rc "--size 10x10" 2 $?

mkdir -p "$work/nothing"
"$tool" check "$work/nothing" >"$work/out" 2>"$work/err"
rc=$?
[ $rc -ne 0 ] && ok || bad "check of an unknown folder exited 0"
contains "unknown folder" "$work/err" "looked for"

"$tool" synth imagenet "$work/x" 2>"$work/err"
expect_rc "unknown synth kind" 2 $?
"$tool" --n 0 synth cifar10 "$work/x" 2>"$work/err"
expect_rc "--n 0" 2 $?
"$tool" --help >"$work/out"
expect_rc "--help" 0 $?
contains "--help" "$work/out" "usage: facs-data"
"$tool" --version >"$work/out"
expect_rc "--version" 0 $?

finish
