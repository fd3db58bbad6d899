#!/bin/sh
# facs-run end to end against PyTorch (tests/facs_run_ref.py): a FACS-ResNet-26
# at width 0.25 in eval and train mode, logits plus the input and every
# parameter gradient, each within 1e-4 normwise relative error of PyTorch's
# float64 result (measured: ~1e-6 eval, ~2e-5 train); a plain ResNet-26 from a
# bare state_dict (classes from fc.weight), which a FACS arch also loads; the
# FACS net again rebuilt from its weights file alone (no --arch, no --width),
# with --device cpu. Then the error cases: each exits non-zero with a message
# naming the problem and leaves no output file (nor a temporary one) behind:
# options that contradict the file or do not apply, fractional or hex
# numbers, an /input holding NaN, infinities or integers, a weights file that
# is none (no /model), an --output that is one of the inputs (by name or hard
# link; the input stays as it was), and a --device that cannot be used.
# usage: test_facs_run.sh PATH/TO/facs-run [WORK_DIR]
set -u
tool=${1:?usage: test_facs_run.sh PATH/TO/facs-run [WORK_DIR]}
py=/usr/bin/python3
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
make_work test_facs_run "${2:-}"
# fails_with RC WHAT NEEDLE ARGS...: exit RC, NEEDLE on stderr, no out.h5 nor temporary left
fails_with() {
    rc=$1 what=$2 needle=$3
    shift 3
    "$tool" "$@" --output "$work/out.h5" >/dev/null 2>"$work/err"
    expect_rc "$what" "$rc" $?
    contains "$what: message" "$work/err" "$needle"
    if ls "$work"/out.h5* >/dev/null 2>&1; then bad "$what: left $(ls "$work"/out.h5*)"; rm -f "$work"/out.h5*; else ok; fi
}
# fails WHAT NEEDLE ARGS...: a failed run (exit 1); bad_usage: a refused command line (exit 2)
fails() { fails_with 1 "$@"; }
bad_usage() { fails_with 2 "$@"; }
# overwrites_input WHAT OUTPUT ARGS...: refused (exit 2) naming the input, which stays byte for byte
overwrites_input() {
    what=$1 target=$2
    shift 2
    before=$(cksum <"$target")
    "$tool" "$@" --output "$target" >/dev/null 2>"$work/err"
    expect_rc "$what" 2 $?
    contains "$what: message" "$work/err" "writing it would destroy the input"
    if [ "$(cksum <"$target")" = "$before" ]; then ok; else bad "$what: $target changed"; fi
    if ls "$target".* >/dev/null 2>&1; then bad "$what: left $(ls "$target".*)"; else ok; fi
}

if ! "$py" "$here/facs_run_ref.py" "$work" >"$work/ref.log" 2>&1; then
    cat "$work/ref.log"
    echo "0 passed, 1 failed"
    exit 1
fi
in=$work/input.h5
facs="--arch facs_resnet26 --width 0.25"

for mode in eval train; do
    # shellcheck disable=SC2086
    "$tool" $facs --mode $mode --weights "$work/weights_$mode.h5" --input "$in" --output "$work/$mode.h5" \
        --grad-output "$work/grad.h5" 2>"$work/err"
    expect_rc "$mode run" 0 $?
    contains "$mode: load report" "$work/err" "147 loaded, 0 missing, 0 unexpected"
    compare_h5 "$mode" "$work/ref_$mode.h5" "$work/$mode.h5"
done

# No model option at all: the file says what to build (on the CPU named as such).
"$tool" --weights "$work/weights_eval.h5" --input "$in" --output "$work/rebuilt.h5" --grad-output "$work/grad.h5" \
    --device cpu 2>"$work/err"
expect_rc "rebuilt from the weights file alone" 0 $?
compare_h5 "rebuilt from the file" "$work/ref_eval.h5" "$work/rebuilt.h5"

"$tool" --arch resnet26 --width 0.5 --weights "$work/plain.h5" --input "$in" --output "$work/plain_out.h5" 2>"$work/err"
expect_rc "plain resnet26, classes from fc.weight" 0 $?
compare_h5 "plain eval" "$work/ref_plain.h5" "$work/plain_out.h5"
# The same state_dict under dotted names (h5py's f["model/fc.weight"] = ...): classes from fc.weight too.
"$py" - "$work/plain.h5" "$work/dotted.h5" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r") as src, h5py.File(sys.argv[2], "w") as dst:
    names = []
    src["model"].visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
    for n in names:
        dst["model/" + n.replace("/", ".")] = src["model/" + n][()]
PY
"$tool" --arch resnet26 --width 0.5 --weights "$work/dotted.h5" --input "$in" --output "$work/dotted_out.h5" \
    2>"$work/err"
expect_rc "dotted names, classes from fc.weight" 0 $?
compare_h5 "dotted names" "$work/ref_plain.h5" "$work/dotted_out.h5"
# A FIFO as weights is named, not opened (HDF5 blocked on it for ever).
mkfifo "$work/fifo.h5"
timeout 20 "$tool" --weights "$work/fifo.h5" --input "$in" --output "$work/fifo_out.h5" >/dev/null 2>"$work/err"
expect_rc "a FIFO as weights" 1 $?
contains "a FIFO as weights" "$work/err" "fifo.h5: not a regular file"
"$tool" --arch facs_resnet26 --width 0.5 --weights "$work/plain.h5" --input "$in" --output "$work/facs_plain.h5" \
    2>"$work/err"
expect_rc "facs arch loads a plain ResNet file" 0 $?
if "$py" -c 'import sys, h5py; sys.exit(h5py.File(sys.argv[1])["output"].shape != (2, 7))' "$work/facs_plain.h5"; then
    ok; else bad "facs arch on plain weights: /output is not (2, 7)"; fi

# shellcheck disable=SC2086
{
    fails "missing input" "$work/nothing.h5" $facs --weights "$work/weights_eval.h5" --input "$work/nothing.h5"
    fails "input of rank 3" "rank 3" $facs --weights "$work/weights_eval.h5" --input "$work/bad_rank.h5"
    fails "1-channel input" "1 channels" $facs --weights "$work/weights_eval.h5" --input "$work/bad_channels.h5"
    fails "input without /input" "grad.h5: no dataset /input" $facs --weights "$work/weights_eval.h5" --input "$work/grad.h5"
    fails "weights of another width" "bn1.bias has shape (32,) in the file but (16,) in the model" $facs \
        --weights "$work/plain.h5" --input "$in"
    fails "another width: the file's architecture" "plain.h5 does not say its architecture; the network built is facs_resnet26, classes 7, width 0.25" \
        $facs --weights "$work/plain.h5" --input "$in"
    fails "older file, another width" "legacy.h5 was saved as facs_resnet26, classes 10; the network built is facs_resnet26, classes 10, width 0.5" \
        --width 0.5 --weights "$work/legacy.h5" --input "$in"
    fails "contradicting --width" "--width 0.5, but $work/weights_eval.h5 was saved with width 0.25" --width 0.5 \
        --weights "$work/weights_eval.h5" --input "$in"
    fails "contradicting --arch" "--arch facs_resnet50, but $work/weights_eval.h5 was saved with architecture facs_resnet26" \
        --arch facs_resnet50 --weights "$work/weights_eval.h5" --input "$in"
    fails "contradicting --fusion" "--fusion weighted, but $work/weights_eval.h5 was saved with fusion threshold" \
        --fusion weighted --weights "$work/weights_eval.h5" --input "$in"
    fails "--fusion on resnet50" "--fusion weighted does not apply to resnet50, which has no FACS op" --arch resnet50 \
        --fusion weighted --weights "$work/plain.h5" --input "$in"
    fails "--threshold on resnet26" "--threshold 0.3 does not apply to resnet26" --arch resnet26 --threshold 0.3 \
        --weights "$work/plain.h5" --input "$in"
    fails "bare file without --arch" "plain.h5 does not say its architecture (an older or converted file): give --arch" \
        --weights "$work/plain.h5" --input "$in"
    bad_usage "fractional --classes" "--classes needs a whole number in [1, 16777216], not '1.5'" --classes 1.5 \
        --weights "$work/weights_eval.h5" --input "$in"
    bad_usage "hex --classes" "not '0x10'" --classes 0x10 --weights "$work/weights_eval.h5" --input "$in"
    bad_usage "exponent --classes" "not '1e1'" --classes 1e1 --weights "$work/weights_eval.h5" --input "$in"
    bad_usage "--width inf" "--width needs a number" --width inf --weights "$work/weights_eval.h5" --input "$in"
    bad_usage "--threshold 2" "--threshold needs a number in [0, 1], not '2'" --threshold 2 \
        --weights "$work/weights_eval.h5" --input "$in"
    fails "missing weights" "$work/none.h5" $facs --weights "$work/none.h5" --input "$in"
    fails "unknown arch" "valid names: resnet26" --arch resnet18 --weights "$work/weights_eval.h5" --input "$in"
    fails "grad_output of the wrong shape" "/grad_output must be shaped like /output (2, 10)" $facs \
        --weights "$work/weights_eval.h5" --input "$in" --grad-output "$work/bad_grad.h5"
}
# Weights a run never writes: one tensor twice (nested and dotted: the walk's order picked one) and a negative
# BatchNorm variance (finite, but PyTorch's output is NaN there while the folded BN gave numbers).
"$py" - "$work/weights_eval.h5" "$work" <<'PY'
import shutil, sys, h5py
for name in ("twice", "negative_var", "huge_classes", "width0", "threshold_huge", "classes_frac", "soft_link"):
    shutil.copy(sys.argv[1], f"{sys.argv[2]}/{name}.h5")
with h5py.File(f"{sys.argv[2]}/huge_classes.h5", "a") as f:
    f.attrs["classes"] = 2**31 - 1
with h5py.File(f"{sys.argv[2]}/width0.h5", "a") as f:
    f.attrs["width"] = 0.0
with h5py.File(f"{sys.argv[2]}/threshold_huge.h5", "a") as f:
    f.attrs["threshold"] = 1e300
with h5py.File(f"{sys.argv[2]}/classes_frac.h5", "a") as f:
    f.attrs["classes"] = 10.7
with h5py.File(f"{sys.argv[2]}/soft_link.h5", "a") as f:
    del f["model/bn1/bias"]
    f["model/bn1/bias"] = h5py.SoftLink("/model/bn1/weight")
with h5py.File(f"{sys.argv[2]}/twice.h5", "a") as f:
    f["model/bn1.bias"] = f["model/bn1/bias"][()] + 1
with h5py.File(f"{sys.argv[2]}/negative_var.h5", "a") as f:
    f["model/bn1/running_var"][0] = -1.0
PY
# Each tampered file is refused naming it and the problem; width 0 and the other values no network has come with the
# file's name (the model's own message came without it, after the tensors loaded).
for case in "twice|: bn1.bias is in the file twice" "negative_var|: bn1.running_var holds 1 negative value" \
    "huge_classes| records 2147483647 classes, but its fc.weight has 10 rows" \
    "width0| records options no network has: facs_resnet26: width multiplier 0" \
    "threshold_huge|: root attribute 'threshold' is 1e+300, not a finite float32 number" \
    "classes_frac|: root attribute 'classes' has the wrong type" "soft_link|: bn1.bias is a link to elsewhere"; do
    name=${case%%|*}
    fails "tampered: $name" "$name.h5${case#*|}" --weights "$work/$name.h5" --input "$in"
done
# An --output that cannot be written is refused before the forward (it failed at the rename, after the work).
mkdir -p "$work/a_folder.h5"
for case in "$work/a_folder.h5|is a folder; give a file name" \
    "$work/no_folder/y.h5|its folder $work/no_folder does not exist"; do
    "$tool" --weights "$work/weights_eval.h5" --input "$in" --output "${case%%|*}" >/dev/null 2>"$work/err"
    expect_rc "--output ${case%%|*}" 2 $?
    contains "--output ${case%%|*}" "$work/err" "${case#*|}"
done

# Inputs PyTorch would not run the same way: NaN or infinities (the folded inference path would map them to
# finite logits) and integers (raw pixels, not normalised) are refused naming the file; float64 converts.
"$py" - "$in" "$work" <<'PY'
import sys, h5py, numpy as np
x = h5py.File(sys.argv[1], "r")["input"][()]
bad = x.copy()
bad[0, 0, 1, 2] = np.nan
bad[1, 2, 3, 4] = np.inf
for name, data in (("nan", bad), ("u8", np.full(x.shape, 200, np.uint8)), ("f64", x.astype(np.float64))):
    with h5py.File(f"{sys.argv[2]}/input_{name}.h5", "w") as f:
        f["input"] = data
PY
# shellcheck disable=SC2086
{
    fails "NaN and infinity in /input" \
        "input_nan.h5: /input holds 2 non-finite values (NaN or infinity), the first at (n, c, y, x) = (0, 0, 1, 2)" \
        --weights "$work/weights_eval.h5" --input "$work/input_nan.h5"
    fails "NaN in /input, backward too" "input_nan.h5: /input holds 2 non-finite values" \
        --weights "$work/weights_eval.h5" --input "$work/input_nan.h5" --grad-output "$work/grad.h5"
    fails "integer /input" "input_u8.h5: /input holds integers (uint8): facs-run takes float32 NCHW inputs" \
        --weights "$work/weights_eval.h5" --input "$work/input_u8.h5"
    # An HDF5 file without /model is named as no weights file, with or without --arch.
    fails "an input file as weights" "input.h5 is no weights file: it has no /model" --weights "$in" --input "$in"
    fails "an input file as weights, --arch" "input.h5 is no weights file: it has no /model" --arch resnet26 \
        --weights "$in" --input "$in"
}
"$tool" --weights "$work/weights_eval.h5" --input "$work/input_f64.h5" --output "$work/f64.h5" \
    --grad-output "$work/grad.h5" 2>"$work/err"
expect_rc "float64 /input" 0 $?
compare_h5 "float64 /input" "$work/ref_eval.h5" "$work/f64.h5"

# An output that is an input is refused before anything is read or written
# (with options a run would otherwise succeed with).
ln "$in" "$work/input_link.h5"
# shellcheck disable=SC2086
{
    overwrites_input "--output = --input" "$in" $facs --weights "$work/weights_eval.h5" --input "$in"
    overwrites_input "--output = --input (hard link)" "$work/input_link.h5" $facs --weights "$work/weights_eval.h5" \
        --input "$in"
    overwrites_input "--output = --weights" "$work/weights_eval.h5" $facs --weights "$work/weights_eval.h5" --input "$in"
    overwrites_input "--output = --grad-output" "$work/grad.h5" $facs --weights "$work/weights_eval.h5" --input "$in" \
        --grad-output "$work/grad.h5"
}
"$tool" --weights "$work/weights_eval.h5" --input "$work/nothing.h5" --output "$work/nothing.h5" >/dev/null 2>"$work/err"
expect_rc "--output = a missing --input: refused by name" 2 $?

# A --device that cannot be used: refused before anything is written.
device_refusals "$tool" --weights "$work/weights_eval.h5" --input "$in" --output "$work/out.h5"
if ls "$work"/out.h5* >/dev/null 2>&1; then bad "--device refusals left $(ls "$work"/out.h5*)"; else ok; fi

"$tool" --arch resnet26 --weights w --input i >/dev/null 2>"$work/err"
expect_rc "no --output" 2 $?
contains "no --output: message" "$work/err" "required"
"$tool" --mode test --arch resnet26 >/dev/null 2>"$work/err"
expect_rc "bad --mode" 2 $?
contains "bad --mode: message" "$work/err" "--mode must be eval or train, not 'test'"
"$tool" --help >"$work/out" 2>&1
expect_rc "--help" 0 $?
contains "--help text" "$work/out" "--grad-output"
"$tool" --version >"$work/out" 2>&1
expect_rc "--version" 0 $?

finish
