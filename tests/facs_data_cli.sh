#!/bin/sh
# facs-data end to end: synth writes folders that check accepts (exit 0, counts
# and histogram in text and JSON); a corrupted folder, an unknown folder and bad
# usage exit non-zero with a message naming the problem. As a careless user
# finds it: synth over a non-empty folder is refused without --force, a synth
# that fails (disk full) leaves the old files whole and no temporary, the parent
# of cifar-10-batches-bin gets a "pass that folder" hint, a Cityscapes label
# without its image fails check, option values with fractions or hex are refused,
# and so are options a kind does not take (synth cifar10 --size); check --json
# prints one JSON object whatever happens (an image folder with a bad file).
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

# Synth over a non-empty folder: refused (naming it and --force), files untouched.
sums() { cksum "$work/c10"/* 2>&1; }
before=$(sums)
"$tool" synth cifar10 "$work/c10" --n 50 --seed 4 2>"$work/err"
rc=$?
[ $rc -ne 0 ] && ok || bad "synth over a non-empty folder exited 0"
contains "non-empty: names the folder" "$work/err" "$work/c10 is not empty"
contains "non-empty: says --force" "$work/err" "--force"
[ "$(sums)" = "$before" ] && ok || bad "a refused synth changed $work/c10"
mkdir -p "$work/empty_out"
"$tool" synth cifar10 "$work/empty_out" --n 10 2>"$work/err"
expect_rc "synth into an empty folder" 0 $?
printf 'x' >"$work/a_file"
"$tool" synth cifar10 "$work/a_file" --n 10 2>"$work/err"
rc=$?
[ $rc -ne 0 ] && ok || bad "synth onto a file exited 0"
contains "synth onto a file" "$work/err" "not a folder"

# A synth that fails midway (the disk fills: ulimit -f with SIGXFSZ ignored, so
# writes fail with EFBIG) leaves every old file whole and no temporary behind.
(trap '' XFSZ; ulimit -f 40; exec "$tool" synth cifar10 "$work/c10" --n 100 --seed 9 --force) 2>"$work/err"
rc=$?
[ $rc -ne 0 ] && ok || bad "synth past ulimit -f exited 0"
contains "disk full: names the file" "$work/err" "data_batch_1.bin"
[ "$(sums)" = "$before" ] && ok || bad "a failed synth changed $work/c10"
if ls -a "$work/c10" | grep -q 'tmp'; then bad "a failed synth left a temporary: $(ls -a "$work/c10")"; else ok; fi
"$tool" check "$work/c10" >"$work/out" 2>"$work/err"
expect_rc "check after a failed synth" 0 $?

# --force writes over it (another seed: other bytes, same counts).
"$tool" synth cifar10 "$work/c10" --n 100 --seed 9 --force 2>"$work/err"
expect_rc "synth --force" 0 $?
[ "$(sums)" != "$before" ] && ok || bad "synth --force wrote the same bytes"
"$tool" check "$work/c10" >"$work/out" 2>"$work/err"
expect_rc "check after synth --force" 0 $?
contains "check after --force" "$work/out" "train: 100 images"

# The parent of the extracted folder: the message says which folder to pass.
mkdir -p "$work/downloads"
"$tool" synth cifar10 "$work/downloads/cifar-10-batches-bin" --n 10 2>"$work/err"
expect_rc "synth into cifar-10-batches-bin" 0 $?
"$tool" check "$work/downloads" >"$work/out" 2>"$work/err"
rc=$?
[ $rc -ne 0 ] && ok || bad "check of the parent of cifar-10-batches-bin exited 0"
contains "parent hint" "$work/err" "found $work/downloads/cifar-10-batches-bin inside: pass that folder"
"$tool" check --json "$work/downloads" >"$work/out" 2>"$work/err"
contains "parent hint, json" "$work/out" "pass that folder"
if /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["ok"] is False' "$work/out" 2>/dev/null
then ok; else bad "check --json of a bad folder did not print valid JSON with ok false: $(cat "$work/out")"; fi

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
"$tool" check --json "$work/cs" >"$work/out" 2>"$work/err"
expect_rc "check --json cityscapes" 0 $?
contains "cityscapes json" "$work/out" '"kind": "cityscapes", "ok": true, "splits": {"train": {"count": 2}'
if /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["pixels"]) == 19' "$work/out"
then ok; else bad "check --json cityscapes: not valid JSON with 19 classes"; fi
# A label without its image (the image deleted), then an image without its labels.
image=$(find "$work/cs/leftImg8bit/train" -name '*_leftImg8bit.png' | sort | head -n 1)
stem=$(basename "$image" _leftImg8bit.png)
mv "$image" "$work/moved.png"
"$tool" check "$work/cs" >"$work/out" 2>"$work/err"
rc=$?
[ $rc -ne 0 ] && ok || bad "check of a Cityscapes label without its image exited 0"
contains "orphan label: names the label" "$work/err" "${stem}_gtFine_label"
contains "orphan label: names the image" "$work/err" "${stem}_leftImg8bit.png does not exist"
mv "$work/moved.png" "$image"
for f in "$work/cs/gtFine/train/"*/"${stem}"_gtFine_label*.png; do mv "$f" "$f.away"; done
"$tool" check "$work/cs" >"$work/out" 2>"$work/err"
rc=$?
[ $rc -ne 0 ] && ok || bad "check of a Cityscapes image without labels exited 0"
contains "image without labels: names the image" "$work/err" "${stem}_leftImg8bit.png: no label"
for f in "$work/cs/gtFine/train/"*/"${stem}"_gtFine_label*.png.away; do mv "$f" "${f%.away}"; done
"$tool" check "$work/cs" >"$work/out" 2>"$work/err"
expect_rc "check cityscapes, restored" 0 $?
label=$(find "$work/cs/gtFine/val" -name '*_labelTrainIds.png' | head -n 1)
printf 'not a png' >"$label"
"$tool" check "$work/cs" >"$work/out" 2>"$work/err"
rc=$?
[ $rc -ne 0 ] && ok || bad "check of a corrupt Cityscapes label exited 0"
contains "corrupt label: names the file" "$work/err" "$(basename "$label")"
"$tool" --size 10x10 synth cityscapes "$work/x" 2>"$work/err"
expect_rc "--size 10x10" 2 $?

# An image folder with a file that does not decode: check --json prints one object (the report, which says the
# error too) and exits 1.
"$tool" synth imagefolder "$work/if" --classes 2 --n 10 --size 32 2>"$work/err"
expect_rc "synth imagefolder" 0 $?
: >"$(find "$work/if/train" -type f | sort | head -n 1)"
"$tool" check --json "$work/if" >"$work/out" 2>"$work/err"
expect_rc "check --json, a bad image" 1 $?
if /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
assert d["ok"] is False and len(d["bad_files"]) == 1 and "does not decode" in d["error"], d' "$work/out" 2>"$work/err"
then ok; else bad "check --json of a bad image folder: not one JSON object with the error: $(cat "$work/out")"; fi

# Options a kind has no use for are refused, not ignored; CIFAR's test split (N/5) cannot be empty.
for args in "cifar10 --size 64" "cifar100 --classes 3" "cityscapes --classes 3"; do
    set -- $args
    "$tool" synth "$1" "$work/x" "$2" "$3" 2>"$work/err"
    expect_rc "synth $args" 2 $?
    contains "synth $args: says so" "$work/err" "synth $1 takes no $2"
done
"$tool" synth cifar100 "$work/x" --n 4 2>"$work/err"
rc=$?
[ $rc -ne 0 ] && ok || bad "synth cifar100 --n 4 exited 0"
contains "synth cifar100 --n 4" "$work/err" "--n 4: the test split (N/5 images) would be empty; give --n 5 or more"

mkdir -p "$work/nothing"
"$tool" check "$work/nothing" >"$work/out" 2>"$work/err"
rc=$?
[ $rc -ne 0 ] && ok || bad "check of an unknown folder exited 0"
contains "unknown folder" "$work/err" "looked for"

"$tool" synth imagenet "$work/x" 2>"$work/err"
expect_rc "unknown synth kind" 2 $?
"$tool" --n 0 synth cifar10 "$work/x" 2>"$work/err"
expect_rc "--n 0" 2 $?
# Option values: fractions, hex, signs and junk refused, naming the option.
refuse_option() { # WHAT OPTION VALUE
    "$tool" synth cifar10 "$work/x" "$2" "$3" 2>"$work/err"
    expect_rc "$1" 2 $?
    contains "$1: names the option" "$work/err" "$2"
    contains "$1: quotes the value" "$work/err" "'$3'"
}
refuse_option "--n 1.5" --n 1.5
refuse_option "--n 0x20" --n 0x20
refuse_option "--n 1e3" --n 1e3
refuse_option "--n ' 5'" --n ' 5'
refuse_option "--seed 1.9" --seed 1.9
refuse_option "--seed -1" --seed -1
refuse_option "--seed 0x10" --seed 0x10
refuse_option "--size 64.5x32" --size 64.5x32
refuse_option "--size 0x40x32" --size 0x40x32
refuse_option "--size 64x32junk" --size 64x32junk
[ ! -e "$work/x" ] && ok || bad "a refused option still wrote $work/x"
"$tool" --help >"$work/out"
expect_rc "--help" 0 $?
contains "--help" "$work/out" "usage: facs-data"
"$tool" --version >"$work/out"
expect_rc "--version" 0 $?

finish
