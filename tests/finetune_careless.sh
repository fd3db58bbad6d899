#!/bin/sh
# facs-finetune as a careless user drives it; each check pins a failure found
# in our tools once:
#   - two runs into one --out (also under another name of the folder), or a new
#     run into an --out holding an earlier run's best.h5 but not its last.h5;
#   - a log line lost between last.h5 and log.jsonl (the log is rebuilt);
#   - --eval W --out NEWDIR, and --eval W --out RUN (refused: it would replace
#     the run's confusion.csv); an early error leaving an empty --out or log;
#   - --init OUT/best.h5 --out OUT, also through a link to OUT, and --eval of
#     weights named OUT/confusion.csv (the inputs were overwritten);
#   - --init of a file of another width (the message says what the file was
#     saved as and what is built), or of one whose architecture is no network; a Ctrl-C in the first moments (one line
#     says so); "1 batch", "1 epoch";
#   - --out in a folder that cannot hold folders (/proc) with a wrong hint, a
#     dangling link as --out ("File exists"), an --out too long for its files;
#   - fractional or hex whole numbers; --data at the parent of the CIFAR folder;
#   - a checkpoint that cannot be written (crashed in HDF5's exit handler);
#   - NaN weights given to --init or --eval;
#   - a PSPNet --arch, or a PSPNet checkpoint given to --eval;
#   - a loss that blows up: the run stops with the last good checkpoint, and a
#     resumed run blows up at the very same step.
# usage: finetune_careless.sh PATH/TO/facs-finetune PATH/TO/facs-data [WORK_DIR]
set -u
tool=${1:?usage: finetune_careless.sh PATH/TO/facs-finetune PATH/TO/facs-data [WORK_DIR]}
data_tool=${2:?usage: finetune_careless.sh PATH/TO/facs-finetune PATH/TO/facs-data [WORK_DIR]}
python=/usr/bin/python3
here=$(dirname "$0")
. "$here/lib.sh"
make_work finetune_careless "${3:-}"

mkdir -p "$work/parent"
data="$work/parent/cifar-10-batches-bin"
"$data_tool" synth cifar10 "$data" --n 300 --seed 4 2>/dev/null || bad "facs-data synth"
small="--data $data --arch facs_resnet26 --width 0.25 --batch 20 --workers 1"

# fails WHAT NEEDLE -- ARGS: a non-zero exit whose stderr holds NEEDLE.
fails() {
    what=$1 needle=$2
    shift 3
    "$tool" "$@" >"$work/out" 2>"$work/err"
    rc=$?
    [ $rc -ne 0 ] && ok || bad "$what: exit 0"
    contains "$what" "$work/err" "$needle"
}

# Two runs into one folder: the second stops at once, by either name.
# shellcheck disable=SC2086
"$tool" $small --epochs 100 --out "$work/busy" >"$work/busy.out" 2>&1 &
pid=$!
i=0
while [ $i -lt 600 ] && ! [ -s "$work/busy/.facs-lock" ]; do sleep 0.05; i=$((i + 1)); done
# shellcheck disable=SC2086
fails "second run into a busy --out" "is in use by another run (pid $pid)" -- $small --epochs 1 --out "$work/busy"
ln -s "$work/busy" "$work/busy_link"
# shellcheck disable=SC2086
fails "second run through a link" "in use by another run" -- $small --epochs 1 --out "$work/busy_link" --resume
kill -INT $pid
wait $pid
[ $? -eq 130 ] && ok || bad "the first run did not stop with 130 on Ctrl-C"

# The log is rebuilt from last.h5: a lost line comes back, and each epoch is there once.
# shellcheck disable=SC2086
{
"$tool" $small --epochs 4 --stop-after 2 --out "$work/log" >/dev/null 2>&1 || bad "log run 1"
sed -i '$d' "$work/log/log.jsonl"
"$tool" $small --epochs 4 --stop-after 3 --out "$work/log" --resume >/dev/null 2>&1 || bad "log run 2"
"$tool" $small --epochs 4 --out "$work/log" --resume >/dev/null 2>&1 || bad "log run 3"
}
epochs=$(sed 's/^{"epoch": \([0-9]*\),.*/\1/' "$work/log/log.jsonl" | tr '\n' ' ')
[ "$epochs" = "1 2 3 4 " ] && ok "log holds epochs 1-4 once" || bad "log holds epochs '$epochs'"

# --eval into a training run's folder would replace its confusion.csv.
log_sum=$(cksum <"$work/log/confusion.csv")
fails "--eval --out RUN" "--out $work/log holds a training run ($work/log/last.h5)" -- \
    --data "$data" --eval "$work/log/best.h5" --out "$work/log"
[ "$(cksum <"$work/log/confusion.csv")" = "$log_sum" ] && ok || bad "--eval --out RUN changed the run's confusion.csv"
# Weights copied into a folder of their own are no run: --eval of them may write there.
mkdir -p "$work/weights_only"
cp "$work/log/best.h5" "$work/weights_only/"
"$tool" --data "$data" --eval "$work/weights_only/best.h5" --out "$work/weights_only/" >/dev/null 2>"$work/err" &&
    ok || bad "--eval --out of a folder holding only best.h5 was refused: $(cat "$work/err")"
[ -f "$work/weights_only/confusion.csv" ] && ok || bad "--eval --out of a weights folder wrote no confusion.csv"

# An input that the run would write over: --init OUT/best.h5 --out OUT (by either name of OUT), and --eval of
# weights that --out's confusion.csv would replace.
init_sum=$(cksum <"$work/weights_only/best.h5")
# shellcheck disable=SC2086
fails "--init OUT/best.h5" "is $work/weights_only/best.h5, which this run writes" -- \
    $small --epochs 1 --init "$work/weights_only/best.h5" --out "$work/weights_only"
ln -s "$work/weights_only" "$work/weights_link"
# shellcheck disable=SC2086
fails "--init OUT/best.h5 through a link" "which this run writes" -- \
    $small --epochs 1 --init "$work/weights_only/best.h5" --out "$work/weights_link"
[ "$(cksum <"$work/weights_only/best.h5")" = "$init_sum" ] && ok || bad "--init OUT/best.h5 was overwritten"
mv "$work/weights_only/confusion.csv" "$work/weights_only/confusion.h5"
cp "$work/log/best.h5" "$work/weights_only/confusion.csv"
fails "--eval OUT/confusion.csv" "is the input" -- \
    --data "$data" --eval "$work/weights_only/confusion.csv" --out "$work/weights_only"
cmp -s "$work/log/best.h5" "$work/weights_only/confusion.csv" && ok || bad "--eval's weights were overwritten"

# --init of a file of another width: the message says what the file was saved as and what is built.
# shellcheck disable=SC2086
fails "--init of another width" "was saved as facs_resnet26, classes 10, width 0.25" -- \
    $small --width 0.5 --epochs 1 --init "$work/log/best.h5" --out "$work/x"
contains "--init of another width" "$work/err" "the backbone is that of facs_resnet26, classes 10, width 0.5"
# A file whose recorded architecture is no network is corrupt, though only its backbone's tensors would be taken.
cp "$work/log/best.h5" "$work/unknown_arch.h5"
"$python" -c 'import sys, h5py; h5py.File(sys.argv[1], "a").attrs["architecture"] = "resnet9000"' "$work/unknown_arch.h5"
# shellcheck disable=SC2086
fails "--init of an unknown architecture" "was saved as resnet9000: unknown architecture" -- \
    $small --epochs 1 --init "$work/unknown_arch.h5" --out "$work/x"

# Ctrl-C in the first moments (here as soon as the lock exists, while the data loads): one line says so.
# shellcheck disable=SC2086
"$tool" $small --batch 300 --input-size 96 --epochs 1 --out "$work/early" >"$work/early.out" 2>&1 &
pid=$!
i=0
while [ $i -lt 3000 ] && ! [ -s "$work/early/.facs-lock" ]; do sleep 0.01; i=$((i + 1)); done
kill -INT $pid
wait $pid
[ $? -eq 130 ] && ok || bad "an early Ctrl-C did not exit with 130"
contains "an early Ctrl-C" "$work/early.out" "interrupted"
contains "one batch per epoch" "$work/early.out" "1 batch of 300 per epoch"
# shellcheck disable=SC2086
fails "--warmup over a 1-epoch run" "covers the whole run of 1 epoch" -- $small --epochs 1 --warmup 1 --out "$work/x"

# --eval into a folder that does not exist yet.
# shellcheck disable=SC2086
"$tool" --data "$data" --eval "$work/log/best.h5" --out "$work/neweval" >"$work/out" 2>"$work/err"
expect_rc "--eval --out NEWDIR" 0 $?
[ -s "$work/neweval/confusion.csv" ] && ok || bad "--eval --out NEWDIR wrote no confusion.csv"

# Early errors leave nothing behind.
# shellcheck disable=SC2086
fails "missing data" "$work/nowhere" -- --data "$work/nowhere" --out "$work/fresh" --epochs 1
[ ! -e "$work/fresh" ] && ok || bad "an early error left the --out folder $work/fresh"
mkdir "$work/empty"
# shellcheck disable=SC2086
fails "bad --init" "$work/none.h5" -- $small --epochs 1 --init "$work/none.h5" --out "$work/empty"
[ -z "$(ls "$work/empty")" ] && ok || bad "an early error wrote into --out: $(ls "$work/empty")"
fails "--out under /proc" "/proc" -- $small --epochs 1 --out /proc/facs_out
if grep -q "parent.*does not exist" "$work/err"; then bad "--out /proc/x: wrong hint"; else ok; fi
ln -s "$work/nowhere" "$work/dangling"
# shellcheck disable=SC2086
fails "--out a dangling link" "is a symbolic link to $work/nowhere, which does not exist" -- \
    $small --epochs 1 --out "$work/dangling"
# An --out whose files' temporaries would pass PATH_MAX: refused before anything is made (it used to train and
# fail at its first write, leaving a folder that held only the lock).
long=$work/long
d200=$(printf '%0200d' 0 | tr 0 d)
while [ ${#long} -lt 3870 ]; do long=$long/$d200; done
mkdir -p "$long"
out=$long/$(printf '%0*d' $((4075 - ${#long} - 1)) 0 | tr 0 o)
# shellcheck disable=SC2086
fails "a 4075-byte --out" "is too long" -- $small --epochs 1 --out "$out"
[ ! -e "$out" ] && ok || bad "a 4075-byte --out was created"

# Whole numbers are whole; --data at the parent folder gets a hint.
fails "--epochs 1.5" "--epochs needs a whole number" -- $small --epochs 1.5 --out "$work/x"
fails "--seed 1.9" "--seed needs a whole number" -- $small --seed 1.9 --out "$work/x"
fails "--batch 0x20" "--batch needs a whole number" -- $small --batch 0x20 --out "$work/x"
fails "--data at the parent" "$data" -- --data "$work/parent" --epochs 1 --out "$work/x"

# An --out holding an earlier run's best.h5 and log without its last.h5 (deleted to save space): a new run would
# overwrite them. A log alone (a run killed before its first checkpoint) is replaced, not appended to.
mkdir -p "$work/kept" "$work/stale_log"
cp "$work/log/best.h5" "$work/log/log.jsonl" "$work/kept/"
kept_sum=$(cksum <"$work/kept/best.h5")
fails "a fresh run over a kept best.h5" "holds an earlier run's best.h5 and log.jsonl without its last.h5" -- \
    $small --epochs 1 --out "$work/kept"
[ "$(cksum <"$work/kept/best.h5")" = "$kept_sum" ] && ok || bad "a refused run changed the kept best.h5"
cp "$work/log/log.jsonl" "$work/stale_log/"
"$tool" $small --epochs 1 --out "$work/stale_log" >/dev/null 2>&1 || bad "a fresh run over a stale log failed"
[ "$(wc -l <"$work/stale_log/log.jsonl")" -eq 1 ] && ok || bad "a fresh run appended to a stale log.jsonl"

# A checkpoint that cannot be written (a full disk; here a file size limit, EFBIG): the message, exit 1, no
# temporary left. HDF5 used to write the file itself and crashed at exit after such a failure.
# shellcheck disable=SC2086
(trap '' XFSZ; ulimit -f 1000; exec "$tool" $small --epochs 1 --out "$work/full") >/dev/null 2>"$work/full.err"
rc=$?
[ $rc -eq 1 ] && ok || bad "a checkpoint that cannot be written: exit $rc, not 1"
contains "a checkpoint that cannot be written" "$work/full.err" "File too large"
ls "$work/full" | grep -q facs-tmp && bad "a failed checkpoint left its temporary" || ok

# NaN weights are refused by name.
"$python" - "$work/log/best.h5" "$work/nan.h5" <<'PY' || bad "writing nan.h5"
import shutil, sys
import h5py
shutil.copy(sys.argv[1], sys.argv[2])
with h5py.File(sys.argv[2], "r+") as f:
    w = f["model/layer1/0/conv2/weight"]
    v = w[()]
    v.flat[3] = float("nan")
    w[...] = v
PY
# shellcheck disable=SC2086
fails "--init with a NaN" "layer1.0.conv2.weight" -- $small --epochs 1 --init "$work/nan.h5" --out "$work/x"
fails "--eval with a NaN" "layer1.0.conv2.weight" -- --data "$data" --eval "$work/nan.h5"
# The file is of the network built: no "(saved as A; the network built is A)", which would suggest a mismatch.
grep -q "the network built is" "$work/err" && bad "--eval with a NaN: the message compares identical networks" || ok

# A loss that blows up (or BatchNorm statistics past float's range before a checkpoint): the run stops at the
# first bad step with the previous epoch's checkpoint intact, and a resumed run stops at the same step.
"$data_tool" synth cifar10 "$work/c10" --n 300 2>/dev/null || bad "facs-data synth c10"
blow="--data $work/c10 --arch facs_resnet26 --width 0.25 --batch 32 --epochs 4 --lr 9 --warmup 3 --schedule step"
# shellcheck disable=SC2086
"$tool" $blow --out "$work/blow" >"$work/blow1.out" 2>"$work/blow1.err"
[ $? -eq 1 ] && ok || bad "blow-up run did not exit 1"
first=$(grep -o "epoch [0-9]*, batch [0-9]*\|evaluation after epoch [0-9]*\|^facs-finetune: epoch [0-9]*:" "$work/blow1.err" | head -1)
echo "blow-up run stopped at: $first ($(cat "$work/blow1.err"))"
[ -n "$first" ] && ok || bad "the blow-up message names no step: $(cat "$work/blow1.err")"
"$python" - "$work/blow/last.h5" <<'PY' && ok "last.h5 after the blow-up is finite" || bad "last.h5 holds non-finite values"
import sys
import h5py
import numpy as np
bad = []
h5py.File(sys.argv[1], "r").visititems(
    lambda n, o: bad.append(n) if isinstance(o, h5py.Dataset) and not np.all(np.isfinite(o[()])) else None)
sys.exit(1 if bad else 0)
PY
# shellcheck disable=SC2086
"$tool" $blow --out "$work/blow" --resume >"$work/blow2.out" 2>"$work/blow2.err"
again=$(grep -o "epoch [0-9]*, batch [0-9]*\|evaluation after epoch [0-9]*\|^facs-finetune: epoch [0-9]*:" "$work/blow2.err" | head -1)
[ "$again" = "$first" ] && ok "the resumed run stops at the same step" ||
    bad "the resumed run stopped at '$again', not '$first': $(cat "$work/blow2.err")"

# A segmentation architecture (every tool knows the pspnet_* names) is refused before any output.
"$tool" --data "$work/c10" --out "$work/seg" --arch pspnet_resnet26 --width 0.25 --batch 10 --epochs 1 \
    >/dev/null 2>"$work/seg.err"
[ $? -ne 0 ] && ok || bad "a PSPNet --arch was accepted"
contains "a PSPNet --arch" "$work/seg.err" "--arch pspnet_resnet26 is a segmentation network"
[ ! -e "$work/seg" ] && ok || bad "a refused PSPNet --arch left $work/seg"
"$tool" --help | grep -q "pspnet_" && bad "--help lists the pspnet_* architectures it refuses" || ok
# A checkpoint whose architecture is a PSPNet (here a classifier's file relabelled) is refused by --eval.
"$python" - "$work/log/best.h5" "$work/psp.h5" <<'PY' || bad "writing psp.h5"
import shutil, sys
import h5py
shutil.copy(sys.argv[1], sys.argv[2])
with h5py.File(sys.argv[2], "r+") as f:
    f.attrs["architecture"] = "pspnet_resnet26"
PY
fails "--eval of a PSPNet file" "holds pspnet_resnet26, a segmentation network" -- --data "$data" --eval "$work/psp.h5"

finish
