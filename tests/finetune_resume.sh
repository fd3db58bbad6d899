#!/bin/sh
# facs-finetune exact resume: a 3-epoch run, the same run stopped after epoch 1
# (--stop-after) then continued with --resume, and the same run stopped by
# Ctrl-C part-way through and continued with --resume, must end with
# bit-identical last.h5 files: every /model tensor (weights and BN running
# statistics), every /optimizer momentum buffer and every attribute (timing
# aside), compared with tests/compare_checkpoints.py. The Ctrl-C run must exit 130 and its log must hold each epoch
# exactly once.
# usage: finetune_resume.sh PATH/TO/facs-finetune PATH/TO/facs-data [WORK_DIR]
set -u
tool=${1:?usage: finetune_resume.sh PATH/TO/facs-finetune PATH/TO/facs-data [WORK_DIR]}
data_tool=${2:?usage: finetune_resume.sh PATH/TO/facs-finetune PATH/TO/facs-data [WORK_DIR]}
python=/usr/bin/python3
here=$(dirname "$0")
. "$here/lib.sh"
make_work finetune_resume "${3:-}"

"$data_tool" synth cifar10 "$work/data" --n 200 --seed 5 2>/dev/null || bad "facs-data synth"
args="--data $work/data --arch facs_resnet26 --width 0.25 --epochs 3 --batch 20 --workers 2 --seed 7"
# shellcheck disable=SC2086
run() { "$tool" $args "$@"; }

run --out "$work/full" >"$work/full.out" 2>&1 || bad "uninterrupted run failed: $(cat "$work/full.out")"
run --out "$work/split" --stop-after 1 >"$work/split1.out" 2>&1 ||
    bad "--stop-after 1 failed: $(cat "$work/split1.out")"
run --out "$work/split" --resume >"$work/split2.out" 2>&1 || bad "--resume failed: $(cat "$work/split2.out")"

# Ctrl-C: interrupt as soon as the first epoch's line is out (so in epoch 2, or
# between epochs: both must resume exactly), then resume.
# (not through run: $! must be the tool's own pid, not a subshell's)
# shellcheck disable=SC2086
"$tool" $args --out "$work/int" >"$work/int1.out" 2>&1 &
pid=$!
i=0
while [ $i -lt 1200 ] && ! grep -q "^epoch   1/3" "$work/int1.out" 2>/dev/null; do sleep 0.05; i=$((i + 1)); done
kill -INT $pid 2>/dev/null
wait $pid
rc=$?
cat "$work/int1.out"
if [ $rc -eq 130 ]; then
    ok
    grep -q "interrupted" "$work/int1.out" && ok || bad "Ctrl-C: no 'interrupted' message"
else
    bad "Ctrl-C run exited $rc, want 130"
fi
run --out "$work/int" --resume >"$work/int2.out" 2>&1 || bad "resume after Ctrl-C failed: $(cat "$work/int2.out")"
cat "$work/int2.out" | grep -v "^ "

# A log without its timing column, which may differ.
strip() { sed 's/, "images_per_s": [-0-9.e+]*//' "$1"; }

for d in split int; do
    "$python" "$here/compare_checkpoints.py" "$work/full/last.h5" "$work/$d/last.h5" --steps 30 && ok ||
        bad "$d: last.h5 differs from the uninterrupted run"
    [ "$(cut -d, -f1 "$work/$d/log.jsonl" | tr '\n' ' ')" = '{"epoch": 1 {"epoch": 2 {"epoch": 3 ' ] && ok ||
        bad "$d/log.jsonl does not hold epochs 1, 2, 3 once each"
    # Everything but the timing column matches the uninterrupted run's log.
    [ "$(strip "$work/full/log.jsonl")" = "$(strip "$work/$d/log.jsonl")" ] && ok || bad "$d/log.jsonl differs"
done

finish
