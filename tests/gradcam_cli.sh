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
#   - bad input (a --device that cannot be used too: lib.sh device_refusals;
#     an --out that is an --image file's folder; weights in --out named as a
#     map would be) exits non-zero with a message naming the problem and
#     leaves no output (nor a temporary) behind.
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

# Images whose stems coincide (a.jpg and a.png; sub/b.png and sub_b.png) get distinct output names.
mkdir -p "$work/same/sub"
cp "$img" "$work/same/a.png"
cp "$img" "$work/same/sub/b.png"
cp "$img" "$work/same/sub_b.png"
"$py" -c 'import sys; from PIL import Image; Image.open(sys.argv[1]).convert("RGB").save(sys.argv[2], quality=95)' \
    "$img" "$work/same/a.jpg"
"$tool" --weights "$r26" --image "$work/same" --out "$work/same_out" --save-cam >/dev/null 2>"$work/err"
expect_rc "a folder of coinciding stems" 0 $?
got=$(cd "$work/same_out" 2>/dev/null && ls *.cam.h5 | tr '\n' ' ')
if [ "$got" = "a.jpg.cam.h5 a.png.cam.h5 sub_b.png~1.cam.h5 sub_b.png~2.cam.h5 " ]; then ok; else
    bad "coinciding stems: .cam.h5 files '$got'"; fi
if [ "$(ls "$work/same_out" | grep -c '_overlay\.png$')" -eq 4 ]; then ok; else bad "coinciding stems: overlays"; fi

# Class names that coincide once sanitised ("a b", "a_b") get their index in the file names.
printf 'a b\na_b\nc\nd\ne\nf\n%s\n' "$("$py" -c 'print("g" * 300)')" >"$work/same_names.txt"
"$tool" --weights "$r26" --image "$img" --out "$work/same_names" --class-names "$work/same_names.txt" --class 0 \
    --class 1 --class 6 >/dev/null 2>"$work/err"
expect_rc "class names that coincide, one of 300 bytes" 0 $?
for f in image_0_a_b_cam.png image_1_a_b_cam.png; do [ -f "$work/same_names/$f" ] && ok || bad "no $f"; done
if [ "$(ls "$work/same_names" | grep -c '^image_g*_cam\.png$')" -eq 1 ]; then ok; else bad "no map of the long name"; fi

# A number is an index unless a class is named so: names 10, 0, c2 ... (--class 0 is refused above as ambiguous).
cp "$r26" "$work/numbered.h5"
"$py" -c 'import sys, json, h5py
with h5py.File(sys.argv[1], "a") as f:
    f.attrs["run_options"] = json.dumps({"class-names": ["10", "0"] + [f"c{c}" for c in range(2, 7)]})' \
    "$work/numbered.h5"
"$tool" --weights "$work/numbered.h5" --image "$img" --out "$work/numbered" --class 10 --class 3 >"$work/log" \
    2>"$work/err"
expect_rc "--class by a number name and by index" 0 $?
contains "--class 10: the class named so" "$work/log" "class 0 (10)"
contains "--class 3: the index" "$work/log" "class 3 (c3)"

# The input size a file records (facs-finetune's run options) is used without --input-size, and said.
cp "$r26" "$work/sized.h5"
"$py" -c 'import sys, json, h5py
with h5py.File(sys.argv[1], "a") as f:
    f.attrs["run_options"] = json.dumps({"input-size": 24, "norm": "imagenet"})' "$work/sized.h5"
"$tool" --weights "$work/sized.h5" --image "$img" --out "$work/sized" --class 1 >"$work/log" 2>"$work/err"
expect_rc "a file that records its input size" 0 $?
contains "the recorded size is said" "$work/log" "sized.h5 was trained at input size 24: each image is resized to 24x24"
got=$(size "$work/sized/image_1_overlay.png")
if [ "$got" = "24x24 RGB" ]; then ok; else bad "recorded input size: overlay is $got"; fi
"$tool" --weights "$work/sized.h5" --image "$img" --out "$work/sized2" --class 1 --input-size 20 >"$work/log" 2>&1
got=$(size "$work/sized2/image_1_overlay.png")
if [ "$got" = "20x20 RGB" ] && ! grep -q "trained at" "$work/log"; then ok; else bad "--input-size 20 over 24: $got"; fi

# --compare: a file that records no class names beside one that does; each caption names the class its own way,
# so the second tile's caption differs from the one of a model of the same names.
cp "$work/named.h5" "$work/other.h5"
"$py" -c 'import sys, json, h5py
with h5py.File(sys.argv[1], "a") as f:
    f.attrs["run_options"] = json.dumps({"class-names": [f"other{c}" if c == 3 else f"kind{c}" for c in range(7)]})' \
    "$work/other.h5"
# (--input-size 160: tiles wide enough for the whole caption)
"$tool" --weights "$work/named.h5" --compare "$r26" --image "$img" --out "$work/cap1" --class 2 --input-size 160 \
    >/dev/null 2>"$work/err"
expect_rc "--compare, names recorded in one file only" 0 $?
"$tool" --weights "$work/named.h5" --compare "$work/named.h5" --image "$img" --out "$work/cap2" --class 2 \
    --input-size 160 >/dev/null 2>"$work/err"
expect_rc "--compare, the same names" 0 $?
if "$py" - "$work/cap1/image_kind2_compare.png" "$work/cap2/image_kind2_compare.png" <<'PY' >"$work/log" 2>&1
import sys
import numpy as np
from PIL import Image
a, b = (np.asarray(Image.open(p).convert("RGB")) for p in sys.argv[1:])
w = a.shape[1] // 3
assert (a[:11, w:2 * w] == b[:11, w:2 * w]).all(), "the first model's caption changed"
assert (a[:11, 2 * w:] != b[:11, 2 * w:]).any(), "the second caption shows the first model's class name"
PY
then ok; else bad "--compare captions: $(cat "$work/log")"; fi

out="--out $work/bad"
printf 'cat\ndog\n' >"$work/names.txt"
# shellcheck disable=SC2086
{
    fails "unknown layer" 2 "resnet26 has no layer 'layer5.0' to tap; valid names: layer1.0, layer1.1, layer2.0" \
        --weights "$r26" --image "$img" $out --layer layer5.0
    fails "class out of range" 2 "--class 7 is out of range: $r26 has 7 classes (0 .. 6)" --weights "$r26" \
        --image "$img" $out --class 7
    fails "class name without names" 2 "--class 'cat' is no class of $r26" --weights "$r26" --image "$img" $out \
        --class cat
    fails "not an image" 1 "$work/images/notes.txt: neither a PNG nor a JPEG" --weights "$r26" \
        --image "$work/images/notes.txt" $out
    [ ! -e "$work/bad" ] && ok || bad "a run whose every image failed left the --out it made"
    fails "a results file as weights" 1 "cli_ref.h5 is no weights file: it has no /model" \
        --weights "$work/cli_ref.h5" --image "$img" $out
    fails "an image as weights" 1 "image.png: not an HDF5 file" --weights "$img" --image "$img" $out
    fails "missing image" 1 "nothing.png: no such file or folder" --weights "$r26" --image "$work/nothing.png" $out
    ln -sf loop.png "$work/loop.png"
    fails "an image that is a link loop" 1 "loop.png: Too many levels of symbolic links" --weights "$r26" \
        --image "$work/loop.png" $out
    fails "a folder as --class-names" 2 "--class-names $work/images is a folder" --weights "$r26" --image "$img" \
        $out --class-names "$work/images"
    fails "class names of the wrong count" 1 "names.txt: 2 names, but the model has 7 classes" --weights "$r26" \
        --image "$img" $out --class-names "$work/names.txt"
    fails "--compare with other classes" 2 "--compare needs models of the same classes: $r26 has 7, $psp has 19" \
        --weights "$r26" --compare "$psp" --image "$img" $out
    fails "--class and --top" 2 "--class and --top exclude each other" --weights "$r26" --image "$img" $out \
        --class 1 --top 2
    fails "bad --method" 2 "--method must be gradcam, gradcam++ or layercam, not 'cam'" --weights "$r26" \
        --image "$img" $out --method cam
    fails "fractional --top" 2 "--top needs a whole number" --weights "$r26" --image "$img" $out --top 1.5
    fails "fractional --class" 2 "--class '1.5' is no class of $r26: neither an index (0 .. 6) nor a name" \
        --weights "$r26" --image "$img" $out --class 1.5
    fails "--input-size 1x" 2 "--input-size needs S or HxW, whole numbers in [1, 8192], not '1x'" --weights "$r26" \
        --image "$img" $out --input-size 1x
    fails "a number that is an index and another class's name" 2 \
        "--class 0 is ambiguous: class 1 of $work/numbered.h5 is named '0', and 0 is also the index of class '10'" \
        --weights "$work/numbered.h5" --image "$img" $out --class 0
    fails "--compare with other recorded classes" 2 \
        "--compare needs models of the same classes: class 3 is 'kind3' in $work/named.h5 but 'other3' in" \
        --weights "$work/named.h5" --compare "$work/other.h5" --image "$img" $out
    fails "no --out" 2 "required" --weights "$r26" --image "$img"
    fails "--out = the image folder" 2 "writing it would destroy the input" --weights "$r26" \
        --image "$work/images" --out "$work/images"
    fails "--out inside the image folder" 2 "--out $work/images/sub/cams lies inside the --image folder $work/images" \
        --weights "$r26" --image "$work/images" --out "$work/images/sub/cams"
    fails "--out the folder of an --image file" 2 "is the folder of --image $work/images/" \
        --weights "$r26" --image "$(ls "$work"/images/*.png | head -1)" --out "$work/images"
    mkdir -p "$work/clash"
    cp "$r26" "$work/clash/w.cam.h5"
    cp "$img" "$work/w.png" # its maps: w_<class>_cam.png and w.cam.h5
    fails "weights named as a map in --out" 2 "$work/clash/w.cam.h5 is in --out $work/clash under a name of the maps" \
        --weights "$work/clash/w.cam.h5" --image "$work/w.png" --out "$work/clash" --save-cam
    device_refusals "$tool" --weights "$r26" --image "$img" $out
}
if [ -n "$(ls -A "$work/bad" 2>/dev/null)" ]; then bad "a refused --device left $(ls "$work/bad")"; else ok; fi
[ ! -e "$work/images/sub/cams" ] && ok || bad "a refused --out inside the image folder was created"
[ "$(ls "$work/clash")" = "w.cam.h5" ] && ok || bad "a refused run wrote into --out: $(ls "$work/clash")"
# An --out that cannot be written is named before the first image (each image was explained, then failed).
mkdir -p "$work/ro_out"
chmod 555 "$work/ro_out"
if can_run_unprivileged "$tool" "$r26" "$img"; then
    unprivileged "$tool" --weights "$r26" --image "$img" --out "$work/ro_out" >"$work/log" 2>"$work/err" &&
        bad "an unwritable --out: exit 0" || ok
    contains "an unwritable --out" "$work/err" "--out: cannot write into the folder $work/ro_out"
fi
chmod 755 "$work/ro_out"
if ls "$work"/out/*facs-tmp* "$work"/top/*facs-tmp* >/dev/null 2>&1; then bad "temporaries left"; else ok; fi
"$tool" --help >"$work/log" 2>&1
expect_rc "--help" 0 $?
contains "--help text" "$work/log" "--method"
finish
