#!/bin/sh
# pspnet-eval under mpirun on synthetic Cityscapes (3 frames of 128x64: an odd
# count, so the ranks get 2 and 1), weights from one pspnet-train iteration:
#  - 2 ranks write the same results.json and confusion.csv, byte for byte, and
#    the same prediction files as one process; rank 0 alone prints;
#  - a frame that does not decode on rank 1's share fails the run within
#    seconds, naming the rank and the file, with no results written;
#  - Ctrl-C (mpirun passes it on) stops both ranks after the same frame:
#    "interrupted", non-zero, no results, fewer predictions than frames;
#  - ranks started with other options are refused before the first image;
#  - --device cuda:N, cuda without a GPU per rank (lib.sh mpi_device_refusals) and --score are refused under mpirun.
# usage: pspnet_eval_parallel.sh PATH/TO/pspnet-eval PATH/TO/pspnet-train PATH/TO/facs-data MPIEXEC [WORK_DIR]
set -u
usage="usage: pspnet_eval_parallel.sh PATH/TO/pspnet-eval PATH/TO/pspnet-train PATH/TO/facs-data MPIEXEC [WORK_DIR]"
tool=${1:?$usage}
train_tool=${2:?$usage}
data_tool=${3:?$usage}
mpiexec=${4:?$usage}
here=$(dirname "$0")
. "$here/lib.sh"
make_work pspnet_eval_parallel "${5:-}"

"$data_tool" synth cityscapes "$work/cs" --n 3 --size 128x64 2>/dev/null || bad "facs-data synth cityscapes"
OMP_NUM_THREADS=1 "$train_tool" --data "$work/cs" --arch pspnet_resnet26 --width 0.25 --crop 64 --batch 2 --iters 1 \
    --workers 0 --out "$work/train" >"$work/train.out" 2>&1 || bad "training: $(cat "$work/train.out")"
common="--weights $work/train/last.h5 --data $work/cs --split train --mode whole"
# One thread everywhere: the same arithmetic, so the same predictions bit for bit.
# shellcheck disable=SC2086
one() { OMP_NUM_THREADS=1 "$tool" $common "$@"; }
# shellcheck disable=SC2086
two() { OMP_NUM_THREADS=1 "$mpiexec" -np 2 "$tool" $common "$@"; }

one --out "$work/one" --save-pred "$work/pred1" >"$work/one.out" 2>&1 || bad "one process: $(cat "$work/one.out")"
two --out "$work/two" --save-pred "$work/pred2" >"$work/two.out" 2>&1 || bad "two ranks: $(cat "$work/two.out")"
grep "images in" "$work/two.out"
contains "two ranks" "$work/two.out" "3 images in"
contains "two ranks" "$work/two.out" "on 2 ranks"
for f in results.json confusion.csv; do
    cmp -s "$work/one/$f" "$work/two/$f" && ok "two ranks: the same $f" || bad "two ranks: $f differs"
done
files=$(find "$work/pred2" -type f | wc -l)
diff -r "$work/pred1" "$work/pred2" >"$work/diff" && ok "two ranks: the same $files predictions" ||
    { bad "two ranks: other predictions"; sed 's/^/    /' "$work/diff"; }
[ "$files" = 12 ] && ok || bad "two ranks: want 4 files for each of 3 frames, got $files"
printed=$(grep -c "^results:" "$work/two.out")
[ "$printed" = 1 ] && ok || bad "two ranks printed $printed results lines, want rank 0's one"

# Frame 1 (in sorted order) is rank 1's: its failure ends rank 0 too.
cp -r "$work/cs" "$work/bad"
victim=$(find "$work/bad/leftImg8bit/train" -name "*.png" | LC_ALL=C sort | sed -n 2p)
head -c 200 "$(find "$work/cs/leftImg8bit/train" -name "*.png" | LC_ALL=C sort | sed -n 2p)" >"$victim"
start=$(date +%s)
OMP_NUM_THREADS=1 "$mpiexec" -np 2 "$tool" --weights "$work/train/last.h5" --data "$work/bad" --split train \
    --mode whole --out "$work/badout" >"$work/bad.out" 2>&1 && bad "a frame that does not decode: exit 0" || ok
waited=$(($(date +%s) - start))
contains "a failing rank" "$work/bad.out" "pspnet-eval: rank 1 of 2: $victim: "
[ $waited -le 20 ] && ok "a failing rank ended the run in ${waited} s" || bad "a failing rank: the run took ${waited} s"
[ ! -e "$work/badout/results.json" ] && ok || bad "a failing rank: results.json written"

# Ctrl-C after the first prediction. mpirun passes it on as SIGTERM about a
# second later and kills the ranks a second after that (Open MPI 4.1, measured),
# so each frame takes a fraction of a second (4 to 8 of the 30 frames done, measured).
"$data_tool" synth cityscapes "$work/cs30" --n 30 --size 128x64 2>/dev/null || bad "facs-data synth cityscapes"
# (not through two: $! must be mpirun's own pid, and a background subshell ignores SIGINT)
OMP_NUM_THREADS=1 "$mpiexec" -np 2 "$tool" --weights "$work/train/last.h5" --data "$work/cs30" --split train \
    --crop 32 --stride 16 --scales 1,2 --flip --out "$work/int" --save-pred "$work/int_pred" >"$work/int.out" 2>&1 &
launcher=$!
i=0
while [ $i -lt 1200 ] && [ -z "$(ls "$work/int_pred/trainid" 2>/dev/null)" ]; do sleep 0.05; i=$((i + 1)); done
kill -INT $launcher
wait $launcher && bad "Ctrl-C: exit 0" || ok
contains "Ctrl-C under mpirun" "$work/int.out" "interrupted: no results written"
[ ! -e "$work/int/results.json" ] && ok || bad "Ctrl-C: results.json written"
saved=$(find "$work/int_pred/trainid" -type f | wc -l)
[ "$saved" -lt 30 ] && ok "Ctrl-C stopped after $saved of 30 frames" || bad "Ctrl-C: all 30 frames evaluated"

# Ranks started with other options (--flip on rank 1 only: its images' results were mixed in) are refused first.
# shellcheck disable=SC2086
OMP_NUM_THREADS=1 "$mpiexec" -np 2 sh "$here/on_rank1.sh" --flip -- "$tool" $common --out "$work/unalike" \
    >"$work/unalike.out" 2>&1 && bad "--flip on rank 1 only: exit 0" || ok
contains "--flip on rank 1 only" "$work/unalike.out" "the ranks were started with other options or data"
[ ! -e "$work/unalike/results.json" ] && ok || bad "ranks started unalike wrote results"

# --device under mpirun: cuda:N, and cuda without a GPU per rank, are refused before OUT exists.
mpi_device_refusals "$work/gpu" two
OMP_NUM_THREADS=1 "$mpiexec" -np 2 "$tool" --score "$work/pred1" --data "$work/cs" --split train \
    --out "$work/score" >"$work/score.out" 2>&1 && bad "--score under mpirun ran" ||
    contains "--score under mpirun" "$work/score.out" "--score runs in one process"

finish
