#!/bin/sh
# A hszhao/semseg PSPNet checkpoint, converted by tools/convert_torchvision.py,
# reproduces the PyTorch twin in facs-run (tests/pspnet_convert_ref.py writes
# both):
#   - a bare state_dict in eval mode: /output, the main logits at the input's
#     45x61;
#   - a semseg training checkpoint ('module.' keys, torch's format before 1.6,
#     semseg's deep base) at output stride 16 in train mode with --dropout 0:
#     /output, /aux_output, /grad_input and every parameter gradient, backward
#     from /grad_output and /grad_aux_output at once.
# Each within 1e-4 normwise relative error of PyTorch's float64 result
# (measured: 8e-7 eval, 4.4e-5 train, where PyTorch's own float32 run is
# 3.8e-5 from float64, 6.8e-5 in channels_last); a wrong key, head or a
# missing aux gradient is off by O(1). The classes come from cls.4.weight.
# to-pth --semseg gives back a checkpoint semseg loads, equal to the original
# bit for bit (num_batches_tracked aside, which semseg's loader ignores); a
# pickle that would run code is refused unrun. Then facs-run's error cases: a
# /grad_aux_output in eval mode or of the wrong shape, a /grad_output of a
# classifier's shape, --dropout 1, an output stride that is not 8/16/32 or
# that contradicts the file.
# usage: pspnet_convert.sh PATH/TO/facs-run [WORK_DIR]
set -u
tool=${1:?usage: pspnet_convert.sh PATH/TO/facs-run [WORK_DIR]}
py=/usr/bin/python3
here=$(cd "$(dirname "$0")" && pwd)
convert="$py $here/../tools/convert_torchvision.py"
. "$here/lib.sh"
make_work pspnet_convert "${2:-}"
if ! "$py" "$here/pspnet_convert_ref.py" "$work" >"$work/ref.log" 2>&1; then
    cat "$work/ref.log"
    echo "0 passed, 1 failed"
    exit 1
fi
in=$work/input.h5

$convert to-h5 "$work/eval.pth" "$work/eval.h5" --arch pspnet_resnet26 --width 0.25 2>"$work/err"
expect_rc "to-h5 of a bare state_dict" 0 $?
if "$py" -c 'import sys, h5py; sys.exit(int(h5py.File(sys.argv[1]).attrs["classes"] != 5))' "$work/eval.h5"; then
    ok "classes from cls.4.weight"; else bad "eval.h5 does not record classes 5"; fi
"$tool" --weights "$work/eval.h5" --input "$in" --output "$work/eval_out.h5" 2>"$work/err"
expect_rc "facs-run eval" 0 $?
compare_h5 "eval: main logits (3, 5, 45, 61)" "$work/ref_eval.h5" "$work/eval_out.h5"

$convert to-h5 "$work/train.pth" "$work/train.h5" --arch pspnet_resnet26 --width 0.25 --output-stride 16 \
    --deep-base 2>"$work/err"
expect_rc "to-h5 of a semseg checkpoint (module. keys)" 0 $?
"$tool" --weights "$work/train.h5" --input "$in" --output "$work/train_out.h5" --mode train --dropout 0 \
    --grad-output "$work/grad.h5" 2>"$work/err"
expect_rc "facs-run train, backward from both heads" 0 $?
contains "train: every tensor loaded" "$work/err" "0 missing, 0 unexpected"
compare_h5 "train: logits, aux logits, every gradient" "$work/ref_train.h5" "$work/train_out.h5"

$convert to-pth "$work/train.h5" "$work/back.pth" --semseg 2>"$work/err"
expect_rc "to-pth --semseg" 0 $?
if "$py" - "$work/train.pth" "$work/back.pth" >"$work/cmp" 2>&1 <<'PY'
import sys, torch
want = torch.load(sys.argv[1])["state_dict"]
got = torch.load(sys.argv[2])["state_dict"]
assert set(got) == set(want), f"keys differ: {sorted(set(got) ^ set(want))[:4]}"
for k, v in want.items():
    assert torch.equal(got[k].reshape(v.shape).to(v.dtype), v), k
PY
then ok "to-pth --semseg: semseg's keys and values, bit for bit"; else bad "to-pth --semseg"; cat "$work/cmp"; fi

# A checkpoint that would run code when unpickled is refused without running it.
"$py" - "$work/evil.pth" "$work/pwned" <<'PY'
import os, sys, torch
class Evil:
    def __reduce__(self):
        return (os.system, ("touch " + sys.argv[2],))
torch.save({"epoch": 1, "state_dict": {"w": Evil()}}, sys.argv[1])
PY
$convert to-h5 "$work/evil.pth" "$work/evil.h5" --arch pspnet_resnet26 2>"$work/err"
expect_rc "a pickle that runs code" 1 $?
contains "a pickle that runs code: message" "$work/err" "refuses posix.system: a weights file holds tensors"
if [ -e "$work/pwned" ] || [ -e "$work/evil.h5" ]; then bad "the pickle's code ran or an output was left"; else ok; fi

# An output that cannot be written is named before the conversion (it was found at the rename, in errno's words).
$convert to-h5 "$work/eval.pth" "$work" --arch pspnet_resnet26 --width 0.25 2>"$work/err"
expect_rc "to-h5 into a folder" 1 $?
contains "to-h5 into a folder: message" "$work/err" "the output $work is a folder; give a file name"
$convert to-pth "$work/train.h5" "$work/none/back.pth" 2>"$work/err"
expect_rc "to-pth into a missing folder" 1 $?
contains "to-pth into a missing folder: message" "$work/err" "its folder $work/none does not exist"
$convert to-pth "$work" "$work/back2.pth" 2>"$work/err"
expect_rc "to-pth of a folder" 1 $?
contains "to-pth of a folder: message" "$work/err" "$work is a folder, not a weights file"

# fails WHAT NEEDLE ARGS...: exit 1, NEEDLE on stderr, no output file left
fails() {
    what=$1 needle=$2
    shift 2
    "$tool" "$@" --input "$in" --output "$work/bad.h5" >/dev/null 2>"$work/err"
    expect_rc "$what" "${rc:-1}" $?
    contains "$what: message" "$work/err" "$needle"
    if ls "$work"/bad.h5* >/dev/null 2>&1; then bad "$what: left an output"; rm -f "$work"/bad.h5*; else ok; fi
}
fails "aux gradient in eval mode" "no auxiliary output in eval mode" --weights "$work/eval.h5" \
    --grad-output "$work/grad.h5"
fails "aux gradient of the wrong shape" "/grad_aux_output must be shaped like /aux_output (3, 5, 45, 61), got (3, 5, 40, 61)" \
    --weights "$work/train.h5" --mode train --grad-output "$work/bad_aux.h5"
"$py" -c 'import sys, h5py, numpy as np; h5py.File(sys.argv[1], "w")["grad_output"] = np.zeros((3, 5), np.float32)' \
    "$work/flat_grad.h5"
fails "a classifier's grad_output" "/grad_output must be shaped like /output (3, 5, 45, 61), got (3, 5)" \
    --weights "$work/eval.h5" --grad-output "$work/flat_grad.h5"
rc=2 fails "--dropout 1" "--dropout needs a probability in [0, 1), not '1'" --weights "$work/eval.h5" --dropout 1
rc=2 fails "--output-stride 12" "--output-stride must be 8, 16 or 32, not '12'" --weights "$work/eval.h5" \
    --output-stride 12
fails "--output-stride against the file" "--output-stride 8, but $work/train.h5 was saved with output_stride 16" \
    --weights "$work/train.h5" --output-stride 8
finish
