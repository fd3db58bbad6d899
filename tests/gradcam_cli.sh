#!/bin/sh
# facs-gradcam end to end: tests/ref/ref_gradcam.py writes a ResNet-26 model
# file (width 0.25, CIFAR stem, 7 classes), a PSPNet one (19 classes), a
# 40 x 56 PNG and PyTorch's GradCAM++ maps of that PNG's top-1 class.
#   - the tool's --save-cam file matches PyTorch's /cam and /cam_raw within
#     1e-4 (the whole path: PNG decoding, ImageNet normalisation, the model
#     rebuilt from its file, the tap, the map) and carries its attributes;
#   - the pictures have the input's size (and --input-size's), names carry
#     the class (its index; Cityscapes names for the PSPNet), --top K gives K;
#   - a folder: every image below it, one that is no image reported, exit 1;
#   - --compare (with --device cpu): one panel per image and class, the image
#     and both models' overlays (the same pixels as their _overlay.png) under
#     a caption;
#   - bad input (a --device that cannot be used too: lib.sh device_refusals)
#     exits non-zero with a message naming the problem and leaves no output
#     (nor a temporary) behind.
# usage: gradcam_cli.sh PATH/TO/facs-gradcam [WORK_DIR]
set -u
tool=${1:?usage: gradcam_cli.sh PATH/TO/facs-gradcam [WORK_DIR]}
py=/usr/bin/python3
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
make_work gradcam_cli "${2:-}"
if ! "$py" "$here/ref/ref_gradcam.py" "$work/ref.h5" "$work" >"$work/ref.log" 2>&1; then
    cat "$work/ref.log"
    echo "0 passed, 1 failed"
    exit 1
fi
r26=$work/r26.h5 psp=$work/psp.h5 img=$work/image.png
# attr FILE NAME: the root attribute NAME of FILE
attr() { "$py" -c 'import sys, h5py; v = h5py.File(sys.argv[1]).attrs[sys.argv[2]]; print(v.decode() if isinstance(v, bytes) else v)' "$1" "$2"; }
# size FILE: "WxH" of a PNG
size() { "$py" -c 'import sys; from PIL import Image; i = Image.open(sys.argv[1]); print(f"{i.size[0]}x{i.size[1]} {i.mode}")' "$1"; }
# fails WHAT RC NEEDLE ARGS...: exit RC, NEEDLE on stderr, nothing written to $work/bad
fails() {
    what=$1 rc=$2 needle=$3
    shift 3
    "$tool" "$@" >/dev/null 2>"$work/err"
    expect_rc "$what" "$rc" $?
    contains "$what: message" "$work/err" "$needle"
    if [ -n "$(ls -A "$work/bad" 2>/dev/null)" ]; then bad "$what: left $(ls "$work/bad")"; rm -rf "$work/bad"; else ok; fi
}

"$tool" --weights "$r26" --image "$img" --out "$work/out" --method gradcam++ --save-cam >"$work/log" 2>"$work/err"
expect_rc "gradcam++ on image.png" 0 $?
compare_h5 "the map against PyTorch" "$work/cli_ref.h5" "$work/out/image.cam.h5"
want=$("$py" -c 'import sys, h5py; print(h5py.File(sys.argv[1]).attrs["want_cls"])' "$work/cli_ref.h5")
for pair in "class $want" "class_name $want" "layer layer4.1" "method gradcam++" "arch resnet26"; do
    got=$(attr "$work/out/image.cam.h5" "${pair%% *}")
    if [ "$got" = "${pair#* }" ]; then ok; else bad "attribute ${pair%% *}: '$got', want '${pair#* }'"; fi
done
contains "the line says the class" "$work/log" "image.png: class $want ($want) score"
for f in cam overlay; do
    got=$(size "$work/out/image_${want}_$f.png")
    if [ "$got" = "56x40 RGB" ]; then ok; else bad "image_${want}_$f.png is $got, want 56x40 RGB"; fi
done

# The class names facs-finetune records for an image folder (run_options' class-names) name the classes.
cp "$r26" "$work/named.h5"
"$py" -c 'import sys, json, h5py
with h5py.File(sys.argv[1], "a") as f:
    n = int(f.attrs["classes"])
    f.attrs["run_options"] = json.dumps({"class-names": [f"kind{c}" for c in range(n)]})' "$work/named.h5"
"$tool" --weights "$work/named.h5" --image "$img" --out "$work/named" --class "kind$want" >"$work/log" 2>"$work/err"
expect_rc "--class by a name the weights file records" 0 $?
contains "the line names the recorded class" "$work/log" "class $want (kind$want)"
[ -f "$work/named/image_kind${want}_overlay.png" ] && ok || bad "no image_kind${want}_overlay.png"

"$tool" --weights "$r26" --image "$img" --out "$work/top" --top 3 --input-size 32 --layer layer3.0 --save-cam \
    >/dev/null 2>"$work/err"
expect_rc "--top 3 --input-size 32 --layer layer3.0" 0 $?
n=$(ls "$work/top" | grep -c '_cam\.png$')
if [ "$n" -eq 3 ]; then ok; else bad "--top 3 wrote $n maps"; fi
if [ "$(ls "$work/top" | grep -c '^image_[0-9]*\.cam\.h5$')" -eq 3 ]; then ok; else bad "--top 3: not 3 .cam.h5 files"; fi
got=$(size "$(ls "$work/top"/*_overlay.png | head -1)")
if [ "$got" = "32x32 RGB" ]; then ok; else bad "--input-size 32: overlay is $got"; fi

"$tool" --weights "$psp" --image "$img" --out "$work/psp" --class road --class 18 >"$work/log" 2>"$work/err"
expect_rc "PSPNet, classes by Cityscapes name and index" 0 $?
for f in road_cam road_overlay bicycle_cam bicycle_overlay; do
    if [ -f "$work/psp/image_$f.png" ]; then ok; else bad "PSPNet: no image_$f.png"; fi
done
contains "PSPNet: the line counts pixels" "$work/log" "(bicycle) over"

mkdir -p "$work/images/sub"
cp "$img" "$work/images/a.png"
cp "$img" "$work/images/sub/b.png"
echo "not an image" >"$work/images/notes.txt"
"$tool" --weights "$r26" --image "$work/images" --out "$work/folder" >/dev/null 2>"$work/err"
expect_rc "a folder" 0 $?
if [ -f "$work/folder/a_${want}_cam.png" ] && [ -f "$work/folder/sub_b_${want}_overlay.png" ]; then ok; else
    bad "a folder: missing outputs ($(ls "$work/folder"))"; fi
cp "$r26" "$work/images/c.png"
"$tool" --weights "$r26" --image "$work/images" --out "$work/folder2" >/dev/null 2>"$work/err"
expect_rc "a folder with a broken image" 1 $?
contains "broken image named" "$work/err" "c.png: neither a PNG nor a JPEG"
if [ -f "$work/folder2/sub_b_${want}_cam.png" ]; then ok; else bad "the folder's other images were not done"; fi

# --compare: the model beside itself; the panel is the image and the two overlays under a caption strip
"$tool" --weights "$r26" --compare "$r26" --image "$img" --out "$work/panels" --device cpu >/dev/null 2>"$work/err"
expect_rc "--compare --device cpu" 0 $?
p=$work/panels/image_$want
if "$py" - "${p}_compare.png" "${p}_overlay.png" "$img" <<'PY' >"$work/log" 2>&1
import sys
import numpy as np
from PIL import Image
panel = np.asarray(Image.open(sys.argv[1]).convert("RGB"))
overlay = np.asarray(Image.open(sys.argv[2]).convert("RGB"))
image = np.asarray(Image.open(sys.argv[3]).convert("RGB"))
h, w = overlay.shape[:2]
cap = panel.shape[0] - h
assert panel.shape == (h + cap, 3 * w, 3) and cap == 11, f"panel {panel.shape}, tiles {h}x{w}"
assert (panel[cap:, :w] == image).all(), "the image tile differs from the input"
for k in (1, 2):
    assert (panel[cap:, k * w:(k + 1) * w] == overlay).all(), f"tile {k} differs from the _overlay.png"
    assert (panel[:cap, k * w:(k + 1) * w] < 128).any(), f"no caption above tile {k}"
PY
then ok; else bad "--compare panel: $(cat "$work/log")"; fi

out="--out $work/bad"
printf 'cat\ndog\n' >"$work/names.txt"
# shellcheck disable=SC2086
{
    fails "unknown layer" 1 "resnet26 has no layer 'layer5.0' to tap; valid names: layer1.0, layer1.1, layer2.0" \
        --weights "$r26" --image "$img" $out --layer layer5.0
    fails "class out of range" 1 "--class 7 is out of range: $r26 has 7 classes (0 .. 6)" --weights "$r26" \
        --image "$img" $out --class 7
    fails "class name without names" 1 "--class 'cat' is no class of $r26" --weights "$r26" --image "$img" $out \
        --class cat
    fails "not an image" 1 "$work/images/notes.txt: neither a PNG nor a JPEG" --weights "$r26" \
        --image "$work/images/notes.txt" $out
    fails "a results file as weights" 1 "cli_ref.h5 is no weights file: it has no /model" \
        --weights "$work/cli_ref.h5" --image "$img" $out
    fails "an image as weights" 1 "image.png: not an HDF5 file" --weights "$img" --image "$img" $out
    fails "missing image" 1 "nothing.png: no such file or folder" --weights "$r26" --image "$work/nothing.png" $out
    fails "class names of the wrong count" 1 "names.txt: 2 names, but the model has 7 classes" --weights "$r26" \
        --image "$img" $out --class-names "$work/names.txt"
    fails "--compare with other classes" 1 "--compare needs models of the same classes: $r26 has 7, $psp has 19" \
        --weights "$r26" --compare "$psp" --image "$img" $out
    fails "--class and --top" 2 "--class and --top exclude each other" --weights "$r26" --image "$img" $out \
        --class 1 --top 2
    fails "bad --method" 2 "--method must be gradcam, gradcam++ or layercam, not 'cam'" --weights "$r26" \
        --image "$img" $out --method cam
    fails "fractional --top" 2 "--top needs a whole number" --weights "$r26" --image "$img" $out --top 1.5
    fails "no --out" 2 "required" --weights "$r26" --image "$img"
    fails "--out = the image folder" 2 "writing it would destroy the input" --weights "$r26" \
        --image "$work/images" --out "$work/images"
    device_refusals "$tool" --weights "$r26" --image "$img" $out
}
if [ -n "$(ls -A "$work/bad" 2>/dev/null)" ]; then bad "a refused --device left $(ls "$work/bad")"; else ok; fi
if ls "$work"/out/*facs-tmp* "$work"/top/*facs-tmp* >/dev/null 2>&1; then bad "temporaries left"; else ok; fi
"$tool" --help >"$work/log" 2>&1
expect_rc "--help" 0 $?
contains "--help text" "$work/log" "--method"
finish
