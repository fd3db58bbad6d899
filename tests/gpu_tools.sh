#!/bin/sh
# The command-line tools with --device cuda, end to end on a GPU (docs/cuda.md
# "Data on the device"), each against its own run on the CPU or against what
# it must learn:
#   facs-finetune  facs_resnet26 at width 0.25, 3 epochs on synthetic CIFAR-10
#                  (finetune_learns.sh's run): test top-1 above 0.5 (chance
#                  0.1) and the train loss falling;
#   facs-run       its best.h5 on 8 images, eval logits and their input
#                  gradient, GPU against CPU: within 1e-4 of the largest value
#                  (test_cuda_networks' bound for eval logits) and 1e-3 (a
#                  ReLU or max-pool choice within rounding of a tie moves a
#                  gradient by a whole activation's share: on an H200 six
#                  deep networks' eval-mode gradients reached 1e-3 to 3e-2,
#                  docs/cuda.md; this network is shallow and narrow);
#   facs-gradcam   best.h5 on an image (layer3.0 at 64 px: a 4x4 map),
#                  GPU against CPU: the same class, scores within 1e-4 and
#                  CAMs within 1e-3 of their largest value (a CAM is a ReLU
#                  of sums over channels, so rounding near its zeros moves it
#                  further than the logits);
#   pspnet-train   30 iterations on synthetic Cityscapes, its val mIoU in the
#                  log; then pspnet-eval of its last.h5 on the GPU and on the
#                  CPU: mIoU and pixel accuracy within 0.01 (an argmax can
#                  flip on a pixel whose two best logits tie within rounding).
# usage: gpu_tools.sh BIN_DIR [WORK_DIR]  (BIN_DIR holds facs-data, facs-finetune,
# facs-run, facs-gradcam, pspnet-train and pspnet-eval). Exits 77 without a
# GPU. DEVICE (default cuda) and PYTHON (python3, with numpy and h5py) may be
# set: DEVICE=cpu runs every comparison CPU against CPU, to try the script
# on a machine without a GPU.
set -u
bin=${1:?usage: gpu_tools.sh BIN_DIR [WORK_DIR]}
device=${DEVICE:-cuda}
py=${PYTHON:-python3}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
if [ "$device" != cpu ] && ! nvidia-smi -L >/dev/null 2>&1; then
    echo "gpu_tools: no CUDA device (nvidia-smi failed): skipped"
    exit 77
fi
make_work gpu_tools "${2:-}"

# run NAME COMMAND...: the command's output to $work/NAME.log; a failure is reported with its end.
run() {
    name=$1
    shift
    if "$@" >"$work/$name.log" 2>&1; then ok; else bad "$name exited $?: $(tail -n 5 "$work/$name.log")"; fi
}

run synth_cifar "$bin/facs-data" synth cifar10 "$work/c10" --n 600 --seed 1
run finetune "$bin/facs-finetune" --data "$work/c10" --out "$work/ft" --arch facs_resnet26 --width 0.25 --epochs 3 \
    --batch 32 --workers 1 --seed 1 --device "$device"
tail -n 3 "$work/ft/log.jsonl" 2>/dev/null
"$py" - "$work/ft/log.jsonl" <<'PY' && ok || bad "facs-finetune on $device did not learn"
import json, sys
log = [json.loads(line) for line in open(sys.argv[1])]
print(f"finetune: test top-1 {log[-1]['test_top1']:.4f} (need > 0.5), train loss {log[0]['train_loss']:.4f} -> "
      f"{log[-1]['train_loss']:.4f}")
assert log[-1]["test_top1"] > 0.5 and log[-1]["train_loss"] < log[0]["train_loss"]
PY

weights=$work/ft/best.h5
"$py" - "$work/input.h5" "$work/grad.h5" <<'PY' || bad "writing facs-run's inputs"
import sys
import h5py
import numpy as np
rng = np.random.default_rng(1)
with h5py.File(sys.argv[1], "w") as f:
    f["input"] = rng.uniform(-2, 2, (8, 3, 32, 32)).astype(np.float32)
with h5py.File(sys.argv[2], "w") as f:
    f["grad_output"] = rng.uniform(-1, 1, (8, 10)).astype(np.float32)
PY
for d in cpu "$device"; do
    run "facs_run_$d" "$bin/facs-run" --weights "$weights" --input "$work/input.h5" --grad-output "$work/grad.h5" \
        --output "$work/run_$d.h5" --device "$d"
done
"$py" - "$work/run_cpu.h5" "$work/run_$device.h5" <<'PY' && ok || bad "facs-run: $device and cpu disagree"
import sys
import h5py
import numpy as np
cpu, dev = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
for key, bound in (("output", 1e-4), ("grad_input", 1e-3)):
    a, b = cpu[key][()], dev[key][()]
    err = np.abs(a - b).max() / max(np.abs(a).max(), 1e-30)
    print(f"facs-run {key}: {err:.2e} of its largest value (bound {bound:g})")
    assert err <= bound, key
PY

run synth_images "$bin/facs-data" synth imagefolder "$work/if" --classes 2 --n 4 --size 32
image=$(find "$work/if" -name '*.png' -o -name '*.jpg' | sort | head -n 1)
for d in cpu "$device"; do
    run "gradcam_$d" "$bin/facs-gradcam" --weights "$weights" --image "$image" --out "$work/cam_$d" --save-cam \
        --input-size 64 --layer layer3.0 --device "$d"
done
"$py" - "$work/cam_cpu" "$work/cam_$device" <<'PY' && ok || bad "facs-gradcam: $device and cpu disagree"
import glob, os, sys
import h5py
import numpy as np
(cpu_file,), (dev_file,) = (glob.glob(os.path.join(d, "*.cam.h5")) for d in sys.argv[1:3])
cpu, dev = h5py.File(cpu_file), h5py.File(dev_file)
assert cpu.attrs["class"] == dev.attrs["class"], (cpu.attrs["class"], dev.attrs["class"])
score = abs(cpu.attrs["score"] - dev.attrs["score"]) / max(abs(cpu.attrs["score"]), 1e-30)
a, b = cpu["cam_raw"][()], dev["cam_raw"][()]
cam = np.abs(a - b).max() / max(float(np.abs(a).max()), 1e-30)
print(f"facs-gradcam: class {cpu.attrs['class']} on both, score {score:.2e} apart (bound 1e-4), "
      f"{a.shape[0]}x{a.shape[1]} CAM {cam:.2e} of its largest value (bound 1e-3)")
assert score <= 1e-4 and cam <= 1e-3 and a.size > 1
PY

run synth_cityscapes "$bin/facs-data" synth cityscapes "$work/cs" --n 12 --size 128x64
run pspnet_train "$bin/pspnet-train" --data "$work/cs" --out "$work/psp" --arch pspnet_resnet26 --width 0.25 \
    --crop 64 --batch 4 --iters 30 --log-every 10 --val-every 15 --workers 1 --device "$device"
grep val_miou "$work/psp/log.jsonl" 2>/dev/null | tail -n 1
for d in cpu "$device"; do
    run "pspnet_eval_$d" "$bin/pspnet-eval" --weights "$work/psp/last.h5" --data "$work/cs" --out "$work/eval_$d" \
        --device "$d"
done
"$py" - "$work/eval_cpu/results.json" "$work/eval_$device/results.json" <<'PY' && ok || bad "pspnet-eval: $device and cpu disagree"
import json, sys
cpu, dev = (json.load(open(p)) for p in sys.argv[1:3])
print(f"pspnet-eval: mIoU {dev['miou']:.4f} vs {cpu['miou']:.4f} on the cpu, pixel accuracy {dev['pixel_acc']:.4f} "
      f"vs {cpu['pixel_acc']:.4f} (bound 0.01 apart)")
assert abs(dev["miou"] - cpu["miou"]) <= 0.01 and abs(dev["pixel_acc"] - cpu["pixel_acc"]) <= 0.01
PY
finish
