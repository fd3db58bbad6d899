#!/bin/sh
# Runs one CPU benchmark of FACS and its PyTorch twin on the same shapes and
# threads, and writes both results with the per-shape speed ratios
# torch_ms / facs_ms (> 1: FACS is faster) to bench/results/NAME.json.
#
# The machine may be shared: the two benchmarks run alternately ROUNDS times
# and each shape keeps its median over the rounds, so a burst of outside load
# skews one round rather than one library.
#
#   bench/run_bench.sh conv|facs|infer|train|pspnet|seg|gradcam|folder [PATH/TO/bench-BINARY]
#
# conv and facs run build/bench-NAME and bench/bench_NAME_torch.py once per
# round. infer, train and pspnet run build/bench-models and
# bench/bench_models_torch.py once per configuration (so each process's peak
# RSS is that configuration's):
#   infer  resnet50, facs_resnet50, resnet101, facs_resnet101 at 224x224, eval
#          mode, batch 1 (latency) and BATCH (throughput) in each process;
#          each round also runs two references per configuration: the conv
#          floor (bench-models --mode floor: the network's convolutions alone,
#          back to back, weights cached) and PyTorch through to_mkldnn (the
#          twin's --variant mkldnn), and the result adds per shape floor_ms,
#          torch_mkldnn_ms, ours / floor and ours / best PyTorch (the faster
#          of eager and to_mkldnn), and the ISA (CPU flags, oneDNN's, ATen's);
#   train  resnet50 and facs_resnet50, one SGD step, at 32x32 with the CIFAR
#          stem and 10 classes (batch BATCH32) and at 224x224 with 1000 classes
#          (batch BATCH224);
#   pspnet pspnet_resnet50 and pspnet_facs_resnet50 (19 classes): one SGD step
#          on 353x353 crops with per-pixel labels and the main + 0.4 x aux loss
#          (batch BATCH353), and whole-image inference at 512x1024 (H x W, eval
#          mode; batch 1, then BATCH512 if above 1).
# seg runs build/bench-seg and bench/bench_seg_torch.py: pspnet-eval's
# inference on one 1024x2048 frame (Cityscapes), pspnet_resnet50, whole and
# slide (713 crops, stride 476), against the twin running semseg's test
# procedure; one round and one warm-up frame unless ROUNDS / WARMUP say
# otherwise (a frame takes tens of seconds on 2 cores; the windows of the
# warm-up frame already settle our arena).
# gradcam runs build/bench-gradcam and bench/bench_gradcam_torch.py: one
# GradCAM map (top-1 class, the last block of layer4) beside one forward, of
# resnet50 and facs_resnet50 at 224x224 with random weights (map_over_forward:
# what a map costs in forwards).
# folder runs build/bench-folder and bench/bench_folder_torch.py: the
# image-folder training input pipeline alone (read, decode, RandomResizedCrop
# 224, flip, normalize, batches of BATCH 32) with 0, 1 and 2 loader workers,
# each decoding whole files (exact) and with JPEG draft decoding, against
# torchvision's ImageFolder + DataLoader (and PIL's draft). The folders are
# FOLDER (an image folder of your own) or, by default, two written for the run:
# 512 ImageNet-sized 500x375 synthetic images from facs-data (every fourth a
# PNG) and 24 camera-sized 4000x3000 JPEGs of skimage's photographs
# (bench/make_photo_folder.py), whose crops mostly draft.
#
# Environment: BATCH (conv, facs: 8; infer: 32), BATCH32 (32), BATCH224 (16),
# BATCH353 (2: train-mode BN needs 2 images), BATCH512 (1), RUNS (timed runs
# per shape in each round; conv, facs: 10, infer: 5, train, pspnet: 3), WARMUP
# (conv, facs: 3; infer, train, pspnet: 2, because our arena settles only in
# the call after its first reset: that call maps its one new block afresh),
# ROUNDS (3), OMP_NUM_THREADS (2), ARCHS (infer's networks, default the four
# above), NOTE (free text stored as "note" in the result).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
name=${1:?usage: bench/run_bench.sh conv|facs|infer|train|pspnet|seg|gradcam|folder [PATH/TO/bench-BINARY]}
rounds=${ROUNDS:-3}
threads=${OMP_NUM_THREADS:-2}
export OMP_NUM_THREADS=$threads
refs= # infer: also the conv floor and PyTorch's to_mkldnn
case $name in
conv | facs)
    target=$name twin=bench_${name}_torch.py runs=${RUNS:-10} warmup=${WARMUP:-3}
    configs="--batch ${BATCH:-8}"
    ;;
infer)
    target=models twin=bench_models_torch.py runs=${RUNS:-5} warmup=${WARMUP:-2} refs=1
    configs=$(for arch in ${ARCHS:-resnet50 facs_resnet50 resnet101 facs_resnet101}; do
        echo "--mode infer --arch $arch --input-size 224 --batch ${BATCH:-32}"
    done)
    ;;
train)
    target=models twin=bench_models_torch.py runs=${RUNS:-3} warmup=${WARMUP:-2}
    configs=$(for arch in resnet50 facs_resnet50; do
        echo "--mode train --arch $arch --input-size 32 --classes 10 --cifar-stem --batch ${BATCH32:-32}"
        echo "--mode train --arch $arch --input-size 224 --batch ${BATCH224:-16}"
    done)
    ;;
seg)
    target=seg twin=bench_seg_torch.py runs=${RUNS:-2} warmup=${WARMUP:-1} rounds=${ROUNDS:-1}
    configs=$(for mode in whole slide; do
        echo "--arch pspnet_resnet50 --input-size 1024x2048 --seg-mode $mode"
    done)
    ;;
gradcam)
    target=gradcam twin=bench_gradcam_torch.py runs=${RUNS:-5} warmup=${WARMUP:-2}
    configs=$(for arch in resnet50 facs_resnet50; do echo "--arch $arch --input-size 224"; done)
    ;;
folder)
    target=folder twin=bench_folder_torch.py runs=${RUNS:-3} warmup=${WARMUP:-1}
    ;;
pspnet)
    target=models twin=bench_models_torch.py runs=${RUNS:-3} warmup=${WARMUP:-2}
    configs=$(for arch in pspnet_resnet50 pspnet_facs_resnet50; do
        echo "--mode train --arch $arch --input-size 353 --batch ${BATCH353:-2}"
        echo "--mode infer --arch $arch --input-size 512x1024 --batch ${BATCH512:-1}"
    done)
    ;;
*)
    echo "run_bench.sh: unknown benchmark '$name' (conv, facs, infer, train, pspnet, seg, gradcam or folder)" >&2
    exit 1
    ;;
esac
bin=${2:-$here/../build/bench-$target}

if [ ! -x "$bin" ]; then
    echo "run_bench.sh: $bin is not an executable (build the bench-$target target or pass its path)" >&2
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
if [ "$name" = folder ]; then
    if [ -n "${FOLDER:-}" ]; then
        folders="$FOLDER:$(basename "$FOLDER")"
    else
        data=$(dirname "$bin")/facs-data
        "$data" synth imagefolder "$tmp/imagenet" --classes 8 --n 512 --size 500x375 >&2
        /usr/bin/python3 "$here/make_photo_folder.py" "$tmp/photos" --n 24 --size 4000x3000
        folders="$tmp/imagenet:imagenet-500x375 $tmp/photos:photos-4000x3000"
    fi
    configs=$(for f in $folders; do for w in 0 1 2; do
        echo "--data ${f%%:*} --label ${f#*:}-w$w --workers $w --batch ${BATCH:-32}"
    done; done)
fi

count=$(echo "$configs" | wc -l)
round=1
while [ "$round" -le "$rounds" ]; do
    i=1
    while [ "$i" -le "$count" ]; do
        config=$(echo "$configs" | sed -n "${i}p")
        echo "round $round/$rounds: FACS ($bin) $config, $threads threads" >&2
        # $config is a list of options: split on purpose.
        # shellcheck disable=SC2086
        "$bin" $config --runs "$runs" --warmup "$warmup" --threads "$threads" >"$tmp/facs.$round.$i.json"
        echo "round $round/$rounds: PyTorch $config, $threads threads" >&2
        # shellcheck disable=SC2086
        /usr/bin/python3 "$here/$twin" $config --runs "$runs" --warmup "$warmup" --threads "$threads" \
            >"$tmp/torch.$round.$i.json"
        if [ -n "$refs" ]; then
            # The later --mode wins: bench-models takes its options in order.
            echo "round $round/$rounds: conv floor ($bin) $config, $threads threads" >&2
            # shellcheck disable=SC2086
            "$bin" $config --mode floor --runs "$runs" --warmup "$warmup" --threads "$threads" \
                >"$tmp/floor.$round.$i.json"
            echo "round $round/$rounds: PyTorch to_mkldnn $config, $threads threads" >&2
            # shellcheck disable=SC2086
            /usr/bin/python3 "$here/$twin" $config --variant mkldnn --runs "$runs" --warmup "$warmup" \
                --threads "$threads" >"$tmp/mkldnn.$round.$i.json"
        fi
        i=$((i + 1))
    done
    round=$((round + 1))
done

mkdir -p "$here/results"
/usr/bin/python3 - "$tmp" "$rounds" "$count" "$here/results/$name.json" <<'EOF'
import json
import os
import platform
import statistics
import sys
import time


def load_round(prefix, r):
    """One round's document: the first configuration's, with the shapes of all
    and, where the configurations mix modes (pspnet), each of them ("train+infer")."""
    docs = [json.load(open(f"{sys.argv[1]}/{prefix}.{r}.{i}.json")) for i in range(1, int(sys.argv[3]) + 1)]
    doc = dict(docs[0], shapes=[s for d in docs for s in d["shapes"]])
    if "mode" in doc:
        doc["mode"] = "+".join(dict.fromkeys(d["mode"] for d in docs))
    return doc


def merge(prefix):
    """One document whose per-shape times (keys ending in _ms) and memory
    (keys ending in _mib) are the medians over the rounds; a rate gflops_X is
    rescaled to the median of X_ms, images_per_s to the median time."""
    docs = [load_round(prefix, r) for r in range(1, int(sys.argv[2]) + 1)]
    merged = dict(json.loads(json.dumps(docs[0])), rounds=len(docs))
    for i, shape in enumerate(merged["shapes"]):
        first = docs[0]["shapes"][i]
        for key in [k for k in shape if k.endswith(("_ms", "_mib"))]:
            shape[key] = round(statistics.median(d["shapes"][i][key] for d in docs), 3)
            rate = "gflops_" + key[:-3]
            if rate in shape:
                shape[rate] = round(first[rate] * first[key] / shape[key], 1)
            if key in ("forward_ms", "step_ms"):
                shape["images_per_s"] = round(shape["batch"] * 1e3 / shape[key], 2)
            if key == "epoch_ms":
                shape["images_per_s"] = round(shape["images"] * 1e3 / shape[key], 1)
        if "map_over_forward" in shape:  # gradcam: the ratio of the medians
            shape["map_over_forward"] = round(shape["map_ms"] / shape["forward_ms"], 3)
    return merged


def time_keys(shape):
    """The shape's times: step_ms or forward_ms, cpu_ms, ... (a mode's own)."""
    return [k for k in shape if k.endswith("_ms")]


def shape_key(shape):
    """Names the same shape on both sides; the mode too, where a benchmark
    times one size in both modes."""
    return shape["name"], shape.get("mode")


facs, torch = merge("facs"), merge("torch")
torch_by_key = {shape_key(s): s for s in torch["shapes"]}
pairs = [(s, torch_by_key[shape_key(s)]) for s in facs["shapes"]]
cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
           platform.processor())
# Per shape, each time and the peak RSS (torch / facs, > 1: FACS uses less) where both report it.
ratios = [dict(name=s["name"], **{k[:-3] if k.endswith("_ms") else k: round(t[k] / s[k], 3)
                                   for k in time_keys(s) + [k for k in ["max_rss_mib"] if k in s and k in t]})
          for s, t in pairs]
keys = list(dict.fromkeys(k for s in facs["shapes"] for k in time_keys(s)))
# Each time summed over the shapes that have it (step over training shapes, forward over inference shapes).
summary = {k[:-3]: round(sum(t[k] for s, t in pairs if k in s) / sum(s[k] for s, t in pairs if k in s), 3)
           for k in keys}
result = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cpu": cpu, "facs": facs, "torch": torch,
          "ratio_torch_over_facs": ratios, "ratio_sum_of_shapes": summary}
if os.environ.get("NOTE"):
    result["note"] = os.environ["NOTE"]


def cpu_flags():
    """The vector instruction sets among /proc/cpuinfo's flags."""
    flags = next((line.split(":", 1)[1].split() for line in open("/proc/cpuinfo") if line.startswith("flags")), [])
    return [f for f in ("sse4_1", "avx", "fma", "avx2", "avx512f", "avx512bw", "avx512vl", "avx512dq",
                        "avx512_vnni", "avx512_bf16", "amx_tile") if f in flags]


def reference_rows(floor, mkldnn):
    """Per inference shape: ours against the conv floor and against the faster
    of PyTorch's eager and to_mkldnn runs (ratios ours / reference: above 1,
    ours is slower)."""
    floor_by, mkldnn_by = ({s["name"]: s for s in d["shapes"]} for d in (floor, mkldnn))
    rows = []
    for s, t in pairs:
        f, k = floor_by[s["name"]], mkldnn_by[s["name"]]
        best, best_ms = min(("eager", t["forward_ms"]), ("mkldnn", k["forward_ms"]), key=lambda b: b[1])
        rows.append({"name": s["name"], "ours_ms": s["forward_ms"], "floor_ms": f["floor_ms"], "convs": f["convs"],
                     "torch_eager_ms": t["forward_ms"], "torch_mkldnn_ms": k["forward_ms"], "best_torch": best,
                     "best_torch_ms": best_ms, "ours_over_floor": round(s["forward_ms"] / f["floor_ms"], 3),
                     "ours_over_best_torch": round(s["forward_ms"] / best_ms, 3)})
    return rows


references = os.path.exists(f"{sys.argv[1]}/floor.1.1.json")  # infer
if references:
    floor, mkldnn = merge("floor"), merge("mkldnn")
    reference = reference_rows(floor, mkldnn)
    ours = sum(r["ours_ms"] for r in reference)
    # The ISA: what the CPU has, what oneDNN may dispatch to (ours; ONEDNN_MAX_CPU_ISA lowers it) and what
    # PyTorch's own ATen kernels use (its oneDNN dispatches on its own).
    result.update(isa={"cpu_flags": cpu_flags(), "onednn": floor["onednn_isa"], "torch_aten": mkldnn["cpu_capability"]},
                  floor=floor, torch_mkldnn=mkldnn, reference=reference,
                  reference_sum_of_shapes={"ours_over_floor": round(ours / sum(r["floor_ms"] for r in reference), 3),
                                           "ours_over_best_torch": round(ours / sum(r["best_torch_ms"]
                                                                                    for r in reference), 3)})
with open(sys.argv[4], "w") as out:
    json.dump(result, out, indent=1)
    out.write("\n")
# One table per set of times (a mixed benchmark prints its training shapes and its inference shapes apart).
tables = {}
for s, (_, t), r in zip(facs["shapes"], pairs, ratios):
    tables.setdefault(tuple(time_keys(s)), []).append((s, t, r))
width = max([22] + [len(s["name"]) for s in facs["shapes"]])
for table_keys, rows in tables.items():
    print(f"{'shape':{width}s} " + " ".join(f"{'facs ' + k[:-3]:>14s} {'torch ' + k[:-3]:>14s} {'ratio':>6s}"
                                            for k in table_keys), file=sys.stderr)
    for s, t, r in rows:
        print(f"{s['name']:{width}s} " + " ".join(f"{s[k]:14.2f} {t[k]:14.2f} {r[k[:-3]]:6.2f}" for k in table_keys),
              file=sys.stderr)
print("sum of shapes, torch / facs: " + ", ".join(f"{k} {v}" for k, v in summary.items()), file=sys.stderr)
if references:
    print(f"{'shape':{width}s} {'ours ms':>10s} {'floor ms':>10s} {'ours/floor':>10s} {'torch eager':>11s} "
          f"{'torch mkldnn':>12s} {'ours/best torch':>15s}", file=sys.stderr)
    for r in reference:
        print(f"{r['name']:{width}s} {r['ours_ms']:10.2f} {r['floor_ms']:10.2f} {r['ours_over_floor']:10.2f} "
              f"{r['torch_eager_ms']:11.2f} {r['torch_mkldnn_ms']:12.2f} {r['ours_over_best_torch']:15.2f}",
              file=sys.stderr)
    print("sum of shapes: " + ", ".join(f"{k} {v}" for k, v in result["reference_sum_of_shapes"].items())
          + f"; ISA: {result['isa']}", file=sys.stderr)
EOF
echo "wrote $here/results/$name.json" >&2
