#!/bin/sh
# facs-finetune under `mpirun -np 2` (data parallel, synchronised BatchNorm):
#  - one step at global batch 16 (8 per rank) gives the weights, BN buffers and
#    momenta of one process at batch 16;
#  - a run stopped after epoch 1 on two ranks and resumed in one process
#    continues the two-rank run's curve;
#  - rank 0 alone writes OUT;
#  - Ctrl-C stops both ranks at one batch with last.h5 saved, and resumes;
#  - a rank killed mid-run (kill -9) ends the other within seconds, non-zero,
#    and the last checkpoint still loads;
#  - --skip-bad: a file that does not decode on rank 1's share is in the list
#    rank 0 prints, once;
#  - ranks started with other options, or resuming another last.h5, are
#    refused before their first collective on tensors;
#  - --device cuda:N, and cuda without a GPU per rank, are refused (lib.sh mpi_device_refusals).
# usage: finetune_parallel.sh PATH/TO/facs-finetune PATH/TO/facs-data MPIEXEC [WORK_DIR]
set -u
tool=${1:?usage: finetune_parallel.sh PATH/TO/facs-finetune PATH/TO/facs-data MPIEXEC [WORK_DIR]}
data_tool=${2:?usage: finetune_parallel.sh PATH/TO/facs-finetune PATH/TO/facs-data MPIEXEC [WORK_DIR]}
mpiexec=${3:?usage: finetune_parallel.sh PATH/TO/facs-finetune PATH/TO/facs-data MPIEXEC [WORK_DIR]}
python=/usr/bin/python3
here=$(dirname "$0")
. "$here/lib.sh"
make_work finetune_parallel "${4:-}"

"$data_tool" synth cifar10 "$work/d16" --n 16 --seed 5 2>/dev/null || bad "facs-data synth"
"$data_tool" synth cifar10 "$work/d64" --n 64 --seed 5 2>/dev/null || bad "facs-data synth"
common="--arch resnet26 --width 0.25 --batch 16 --workers 0 --seed 3 --sync-bn"
# Each rank gets one of the two cores.
one() { OMP_NUM_THREADS=2 "$tool" $common "$@"; }
two() { OMP_NUM_THREADS=1 "$mpiexec" -np 2 "$tool" $common "$@"; }

# One step, compared as whole states (compare_states.py): the model within
# 1e-5, the momenta (this step's gradients) as close as one process at 1 and
# at 2 threads is to itself: BatchNorm bias gradients are sums of dy that
# nearly cancel at initialisation.
one --data "$work/d16" --epochs 1 --out "$work/one" >"$work/one.out" 2>&1 || bad "one process: $(cat "$work/one.out")"
OMP_NUM_THREADS=1 "$tool" $common --data "$work/d16" --epochs 1 --out "$work/twin" >/dev/null 2>&1 || bad "one thread"
two --data "$work/d16" --epochs 1 --out "$work/two" >"$work/two.out" 2>&1 || bad "two ranks: $(cat "$work/two.out")"
"$python" "$here/compare_states.py" "$work/one/last.h5" "$work/two/last.h5" 1e-5 "$work/twin/last.h5" &&
    ok "two ranks = one process" || bad "two ranks at batch 8 + 8 differ from one process at batch 16"
[ "$(grep -c "^epoch" "$work/two.out")" = 1 ] && ok || bad "two ranks printed $(grep -c "^epoch" "$work/two.out") epoch lines, want rank 0's one"

# Resume with another rank count: the resumed epoch's losses follow the
# uninterrupted two-rank run. Within 1 %: this tiny network amplifies rounding
# fast (one process at 1 and at 2 threads: test losses 2 % apart after 4
# steps, measured), so longer runs cannot be compared value for value.
two --data "$work/d64" --epochs 2 --out "$work/full" >"$work/full.out" 2>&1 || bad "two ranks, 2 epochs: $(cat "$work/full.out")"
two --data "$work/d64" --epochs 2 --stop-after 1 --out "$work/split" >"$work/split1.out" 2>&1 || bad "--stop-after 1"
one --data "$work/d64" --epochs 2 --resume --out "$work/split" >"$work/split2.out" 2>&1 ||
    bad "resumed in one process: $(cat "$work/split2.out")"
"$python" - "$work/full/log.jsonl" "$work/split/log.jsonl" <<'EOF' && ok "resumed in one process: same curve" || bad "the resumed curve differs"
import json, sys
a, b = ([json.loads(line) for line in open(p)] for p in sys.argv[1:3])
assert len(a) == len(b) == 2, (len(a), len(b))
assert a[0]["train_loss"] == b[0]["train_loss"], "epoch 1 is the same two-rank run"
for key in ("train_loss", "test_loss"):
    assert abs(a[1][key] - b[1][key]) <= 1e-2 * abs(a[1][key]), (key, a[1][key], b[1][key])
print("losses per epoch:", [(r["train_loss"], r["test_loss"]) for r in b])
EOF

# Ranks started unalike are refused before their first collective on tensors (another --width overflowed the
# broadcast's buffers, another --lr mixed the updates silently), and so is a rank resuming another last.h5 (two
# machines without a shared --out: it mixed two runs, then hung). unalike EXTRA ARGS: EXTRA on rank 1 only.
# shellcheck disable=SC2086
unalike() {
    extra=$1
    shift
    OMP_NUM_THREADS=1 "$mpiexec" -np 2 sh "$here/on_rank1.sh" "$extra" -- "$tool" $common --data "$work/d64" "$@"
}
unalike "--lr 0.5" --epochs 1 --out "$work/unalike" >"$work/unalike.out" 2>&1 && bad "another --lr: exit 0" || ok
contains "another --lr on rank 1" "$work/unalike.out" "the ranks were started with other options: lr is 0.5 here but"
[ ! -e "$work/unalike/last.h5" ] && ok || bad "ranks started unalike wrote a checkpoint"
two --data "$work/d64" --epochs 3 --stop-after 1 --out "$work/s3" >/dev/null 2>&1 || bad "epoch 1 of 3"
mkdir -p "$work/stale"
cp "$work/s3/last.h5" "$work/stale/"
two --data "$work/d64" --epochs 3 --stop-after 2 --resume --out "$work/s3" >/dev/null 2>&1 || bad "epoch 2 of 3"
unalike "--out $work/stale" --epochs 3 --resume --out "$work/s3" >"$work/stale.out" 2>&1 &&
    bad "rank 1 resuming a stale last.h5: exit 0" || ok
contains "rank 1 resuming a stale last.h5" "$work/stale.out" "$work/stale/last.h5 here is at 1 done, rank 0's last.h5 at 2"

# kill -9 of one rank: mpirun ends the other and fails; last.h5 of epoch 1 loads.
two --data "$work/d64" --epochs 200 --out "$work/kill" >"$work/kill.out" 2>&1 &
launcher=$!
i=0
# (mpirun buffers what it passes on when writing to a file: wait for epoch 1's checkpoint instead)
while [ $i -lt 1200 ] && [ ! -f "$work/kill/last.h5" ]; do sleep 0.05; i=$((i + 1)); done
victim=$(pgrep -n -f -- "--out $work/kill")
[ -n "$victim" ] && kill -9 "$victim"
start=$(date +%s)
wait $launcher
rc=$?
waited=$(($(date +%s) - start))
[ $rc -ne 0 ] && ok "a killed rank fails the run (exit $rc)" || bad "a killed rank left mpirun with exit 0"
[ $waited -le 20 ] && ok "the other rank ended within ${waited} s" || bad "the other rank took ${waited} s to end"
OMP_NUM_THREADS=2 "$tool" --data "$work/d64" --eval "$work/kill/last.h5" >"$work/eval.out" 2>&1 && ok "last.h5 loads" ||
    bad "last.h5 after the kill: $(cat "$work/eval.out")"

# Ctrl-C: mpirun passes SIGINT to every rank; they agree to stop at the same
# batch, rank 0 saves last.h5 and says so (mpirun itself then exits 1), and
# --resume continues.
# (not through two: $! must be mpirun's own pid, and a background subshell ignores SIGINT)
# shellcheck disable=SC2086
OMP_NUM_THREADS=1 "$mpiexec" -np 2 "$tool" $common --data "$work/d64" --epochs 200 --out "$work/int" >"$work/int.out" 2>&1 &
launcher=$!
i=0
while [ $i -lt 1200 ] && [ ! -f "$work/int/last.h5" ]; do sleep 0.05; i=$((i + 1)); done
kill -INT $launcher
wait $launcher
contains "Ctrl-C under mpirun" "$work/int.out" "continue with --resume"
done_epochs=$(grep -c "^epoch" "$work/int.out")
two --data "$work/d64" --epochs 200 --stop-after $((done_epochs + 1)) --resume --out "$work/int" >"$work/int2.out" 2>&1 &&
    contains "resumed after Ctrl-C" "$work/int2.out" "stopped after epoch $((done_epochs + 1)) of 200" ||
    bad "resume after Ctrl-C: $(cat "$work/int2.out")"

# --batch must split over the ranks.
two --data "$work/d16" --batch 15 --epochs 1 --out "$work/odd" >"$work/odd.out" 2>&1 && bad "--batch 15 on 2 ranks ran" ||
    contains "--batch 15 on 2 ranks" "$work/odd.out" "must split evenly over the 2 ranks"

# --skip-bad: the test split is not shuffled, so with --batch 4 over its 4
# images rank 1 loads the last two; the last does not decode.
"$data_tool" synth imagefolder "$work/folder" --classes 2 --n 20 --size 32 --seed 3 2>/dev/null || bad "facs-data synth"
victim=$(find "$work/folder/val" -type f | LC_ALL=C sort | tail -1)
head -c 300 "$victim" >"$work/truncated" && mv "$work/truncated" "$victim"
two --data "$work/folder" --input-size 32 --epochs 1 --batch 4 --skip-bad --out "$work/skip" >"$work/skip.out" 2>&1 ||
    bad "--skip-bad on two ranks: $(cat "$work/skip.out")"
contains "--skip-bad on two ranks" "$work/skip.out" "skipped 1 file that does not decode (--skip-bad):"
[ "$(grep -c -F -- "$victim" "$work/skip.out")" = 1 ] && ok "rank 0 lists the file rank 1 skipped" ||
    bad "rank 0's list names rank 1's bad file $(grep -c -F -- "$victim" "$work/skip.out") times, want once"

# --device under mpirun: cuda:N, and cuda without a GPU per rank, are refused before OUT exists.
mpi_device_refusals "$work/gpu" two --data "$work/d16" --epochs 1

finish
