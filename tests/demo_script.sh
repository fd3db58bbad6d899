#!/bin/sh
# tools/demo.sh, the README's first command, runs both parts to the end on the
# build under test (short: one epoch, a few iterations) and leaves what the
# README says it leaves. It once stopped at its first pspnet-train, whose
# --out parent it had just removed.
# usage: demo_script.sh BUILD_DIR
set -u
build=${1:?usage: demo_script.sh BUILD_DIR}
here=$(dirname "$0")
. "$here/lib.sh"
make_work demo_script ""

FACS_DEMO_BUILD=$build bash "$here/../tools/demo.sh" cifar --epochs 1 --batch 32 >"$work/cifar.out" 2>&1 &&
    ok "demo.sh cifar" || bad "demo.sh cifar failed: $(tail -5 "$work/cifar.out")"
[ -f "$build/demo_run/best.h5" ] && [ -f "$build/demo_run/curves.png" ] && ok || bad "demo.sh cifar left no run"
FACS_DEMO_BUILD=$build bash "$here/../tools/demo.sh" segmentation --iters 4 --val-every 2 --log-every 2 \
    >"$work/seg.out" 2>&1 && ok "demo.sh segmentation" || bad "demo.sh segmentation failed: $(tail -5 "$work/seg.out")"
[ -n "$(ls "$build/demo_seg/pred/color" 2>/dev/null)" ] && [ -n "$(ls "$build/demo_seg/pred/overlay" 2>/dev/null)" ] &&
    ok "colour predictions and overlays" || bad "demo.sh segmentation left no predictions"
grep -q "mostly padding" "$work/seg.out" && bad "demo.sh evaluates on windows of padding" || ok

# A mistyped option, or --help, leaves the previous demo's files as they were (they were removed first).
before=$(cksum <"$build/demo_run/best.h5")
FACS_DEMO_BUILD=$build bash "$here/../tools/demo.sh" cifar --epochs 2.5 >"$work/typo.out" 2>&1 &&
    bad "demo.sh cifar --epochs 2.5: exit 0" || ok
FACS_DEMO_BUILD=$build bash "$here/../tools/demo.sh" cifar --help >"$work/help.out" 2>&1 || bad "demo.sh cifar --help"
[ "$(cksum <"$build/demo_run/best.h5" 2>/dev/null)" = "$before" ] && ok || bad "a refused demo removed the last one"
FACS_DEMO_BUILD=$build bash "$here/../tools/demo.sh" segmentation --iters 2.5 >"$work/typo.out" 2>&1 &&
    bad "demo.sh segmentation --iters 2.5: exit 0" || ok
[ -n "$(ls "$build/demo_seg/pred/color" 2>/dev/null)" ] && ok || bad "a refused segmentation demo removed the last one"
bash "$here/../tools/demo.sh" --help >"$work/help.out" 2>&1 && grep -q "usage: tools/demo.sh" "$work/help.out" &&
    ok || bad "demo.sh --help: $(cat "$work/help.out")"
FACS_DEMO_BUILD=$work/nothing bash "$here/../tools/demo.sh" cifar >"$work/none.out" 2>&1
expect_rc "FACS_DEMO_BUILD without the programs" 2 $?
[ ! -e "$work/nothing" ] && ok || bad "demo.sh made the folders of a FACS_DEMO_BUILD that does not exist"
finish
