#!/bin/sh
# facs-finetune survives kill -9 at any moment: a short run is killed 20 times
# at random moments (each time resumed with --resume from what it left), then
# resumed to the end. Each attempt may go at most one epoch further
# (--stop-after), so however fast or slow the machine is at the moment, the
# run cannot finish before the 20 kills; the moment is uniform over the time
# of a one-epoch run with start-up (measured first), so kills land in
# start-up, training, evaluation and the checkpoint writes. Its last.h5 and
# best.h5 must equal an uninterrupted run's (every tensor and every
# attribute, timing fields aside), its log.jsonl must hold every epoch
# exactly once and equal the uninterrupted log apart from timing, and no
# temporary file may be left in OUT. 40 epochs leave room for 20 attempts
# that end before their kill lands.
# usage: finetune_kill.sh PATH/TO/facs-finetune PATH/TO/facs-data [WORK_DIR]
set -u
tool=${1:?usage: finetune_kill.sh PATH/TO/facs-finetune PATH/TO/facs-data [WORK_DIR]}
data_tool=${2:?usage: finetune_kill.sh PATH/TO/facs-finetune PATH/TO/facs-data [WORK_DIR]}
python=/usr/bin/python3
here=$(dirname "$0")
. "$here/lib.sh"
make_work finetune_kill "${3:-}"

"$data_tool" synth cifar10 "$work/data" --n 40 --seed 3 2>/dev/null || bad "facs-data synth"
args="--data $work/data --arch facs_resnet26 --width 0.25 --epochs 40 --batch 20 --workers 1 --seed 11"

# shellcheck disable=SC2086
{
t0=$(date +%s.%N)
"$tool" $args --out "$work/one" --stop-after 1 >"$work/one.out" 2>&1 || bad "one-epoch run: $(cat "$work/one.out")"
t1=$(date +%s.%N)
"$tool" $args --out "$work/full" >"$work/full.out" 2>&1 || bad "uninterrupted run: $(cat "$work/full.out")"
t2=$(date +%s.%N)
}
first=$(echo "$t0 $t1" | awk '{print $2 - $1}')
span=$(echo "$t0 $t2 $first" | awk '{print $2 - $1 - $3}')
window=$first
echo "one epoch with start-up: $first s; the whole run: $span s; kills within $window s of each start"
kills=0
attempts=0
while [ $kills -lt 20 ] && [ $attempts -lt 100 ]; do
    attempts=$((attempts + 1))
    t=$(awk -v seed="$$$attempts" -v w="$window" 'BEGIN { srand(seed); printf "%.3f", rand() * w }')
    resume=""
    [ -e "$work/kill/last.h5" ] && resume=--resume
    logged=$(cat "$work/kill/log.jsonl" 2>/dev/null | wc -l) # one epoch further at most
    # shellcheck disable=SC2086
    "$tool" $args --out "$work/kill" $resume --stop-after $((logged + 1)) >>"$work/kill.out" 2>&1 &
    pid=$!
    sleep "$t"
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    # 137 = 128 + SIGKILL: the kill hit a running process (a zombie also takes it, without effect)
    [ $? -eq 137 ] && kills=$((kills + 1))
done
echo "killed $kills times; epochs in log before the last resume: $(wc -l <"$work/kill/log.jsonl" 2>/dev/null)"
resume=""
[ -e "$work/kill/last.h5" ] && resume=--resume
# shellcheck disable=SC2086
"$tool" $args --out "$work/kill" $resume >"$work/final.out" 2>&1 || bad "final resume failed: $(cat "$work/final.out")"
[ "$kills" -ge 20 ] && ok "killed $kills times in $attempts attempts" ||
    bad "only $kills kills in $attempts attempts hit a running process"

for f in last.h5 best.h5; do
    "$python" "$here/compare_checkpoints.py" "$work/full/$f" "$work/kill/$f" && ok || bad "$f differs"
done
strip() { sed 's/, "images_per_s": [-0-9.e+]*//' "$1"; }
[ "$(strip "$work/full/log.jsonl")" = "$(strip "$work/kill/log.jsonl")" ] && ok "log.jsonl equal apart from timing" ||
    bad "log.jsonl differs: $(cat "$work/kill/log.jsonl")"
left=$(ls -A "$work/kill" | grep -v -x -e last.h5 -e best.h5 -e log.jsonl -e curves.png -e confusion.csv -e .facs-lock)
[ -z "$left" ] && ok "no temporary left" || bad "left in OUT: $left"

finish
