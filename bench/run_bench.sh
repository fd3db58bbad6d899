#!/bin/sh
# Runs one CPU benchmark of FACS and its PyTorch twin on the same shapes and
# threads, and writes both results with the per-shape speed ratios
# torch_ms / facs_ms (> 1: FACS is faster) to bench/results/NAME.json; or,
# with gpu, every GPU benchmark (described at run_gpu below).
#
# The machine may be shared: the two benchmarks run alternately ROUNDS times
# and each shape keeps its median over the rounds, so a burst of outside load
# skews one round rather than one library.
#
#   bench/run_bench.sh conv|facs|infer|train|pspnet|seg|gradcam|folder [PATH/TO/bench-BINARY]
#   bench/run_bench.sh gpu [BUILD]      (see "gpu" below: no PyTorch pairing, no rounds)
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
# above), NOTE (free text stored as "note" in the result), OURS_FLAGS (extra
# options for our side only, e.g. "--weight-cache --fold-bn": infer as the
# inference tools run it; stored as "ours_flags"), RESULT (the JSON file to
# write instead of bench/results/NAME.json).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tools/script_help.sh"
script_help "$0" "$@"
name=${1:?usage: bench/run_bench.sh conv|facs|infer|train|pspnet|seg|gradcam|folder [bench-BINARY] or gpu [BUILD]}
rounds=${ROUNDS:-3}
threads=${OMP_NUM_THREADS:-2}
export OMP_NUM_THREADS=$threads
refs= # infer: also the conv floor and PyTorch's to_mkldnn

# gpu: everything on one GPU in one command (bench/run_bench.sh gpu [BUILD]),
# where BUILD is a CUDA build directory (-DFACS_CUDA=ON) or one of its bench
# binaries; builds nothing. Writes RESULTS/gpu_*.json (RESULTS: bench/results
# unless set), RESULTS/gpu_log.txt (every run's stderr) and RESULTS/raw (each
# run's own JSON as soon as it ends):
#   gpu_facs.json     bench-facs --device cuda: the FACS op and the 1x1 conv on
#                     ResNet-50's squeeze shapes (batch FACS_BATCH 64), forward
#                     and backward, with the op's GB/s as fractions of the
#                     datasheet peak (PEAK_GBS 4800, H200) and of a measured
#                     1 GiB device copy; gpu_facs_classic.json the same with
#                     FACS_CUDA_FACS_KERNELS=classic (docs/cuda.md); each of
#                     GPU_FACS_KERNELS ("resident classic"; empty: neither,
#                     as tools/device_run.sh, which times them itself);
#   gpu_conv.json     bench-conv --device cuda (ResNet-50's conv layers at
#                     batch CONV_BATCH 32, forward and backward, with the cuDNN
#                     algorithms our table picks, and again with each other
#                     FACS_CUDNN_ALGO: benchmark, graph, graph_benchmark)
#                     against bench_conv_torch.py
#                     on the same card for each TORCH_VARIANTS, per shape;
#   gpu_infer.json    resnet50 and facs_resnet50 at 224, eval mode, unfolded
#                     and --fold-bn: batch 1 latency and batch 32 and 64
#                     throughput (one process per configuration);
#   gpu_train.json    their SGD step at 224, batch TRAIN_BATCH 32 (and in the
#                     log, one more step split by op, forward and backward:
#                     bench-models --profile), and ResNet-50's with each other
#                     FACS_CUDNN_ALGO (train_cudnn, in gpu_summary.json);
#   gpu_pspnet.json   pspnet_resnet101 and pspnet_facs_resnet101 (semseg's deep
#                     base) one SGD step at 713x713, batch PSP_BATCH 2 (the
#                     paper's 16 crops on 8 GPUs), PSP_RUNS 3 after PSP_WARMUP 2;
#   gpu_torch.json    bench/bench_gpu_torch.py when PYTHON (python3) has torch
#                     with CUDA (else skipped with its message): torchvision's
#                     ResNet-50 and the reference FACS-ResNet-50, fp32 without
#                     TF32, channels_last, for TORCH_VARIANTS "fast
#                     deterministic" (cudnn.benchmark; deterministic cuDNN);
#   gpu_summary.json  the paper's Table 3 question (is FACS-ResNet-50 faster
#                     than ResNet-50 on a GPU, and by how much), PSPNet-101's
#                     step and memory, the FACS op's bandwidth, ours against
#                     PyTorch, the commands and what failed.
# A failing run is logged and the others go on; the exit status is 1 when one
# of ours failed. RUNS (5) and WARMUP (3) per shape; DEVICE (cuda, or cuda:N).
# About two minutes on an H200.
run_gpu() {
    build=${1:-$here/../build}
    [ -d "$build" ] || [ ! -f "$build" ] || build=$(dirname "$build") # a program's path: its build folder
    if [ ! -d "$build" ]; then
        echo "run_bench.sh: the build folder $build does not exist" >&2
        exit 1
    fi
    results=${RESULTS:-$here/results}
    device=${DEVICE:-cuda}
    # The python3 that has torch: PATH's (a GPU image's PyTorch) or Debian's.
    py=${PYTHON:-}
    for candidate in python3 /usr/bin/python3; do
        [ -n "$py" ] || ! "$candidate" -c "import torch" 2>/dev/null || py=$candidate
    done
    py=${py:-python3}
    runs=${RUNS:-5}
    warmup=${WARMUP:-3}
    for b in bench-models bench-facs bench-conv; do
        if [ ! -x "$build/$b" ]; then
            echo "run_bench.sh: $build/$b is not an executable (build bench-models, bench-facs and bench-conv with" \
                "-DFACS_CUDA=ON and pass the build directory)" >&2
            exit 1
        fi
    done
    mkdir -p "$results"
    log=$results/gpu_log.txt
    : >"$log"
    # Each run's JSON stays in RESULTS/raw as soon as it ends, so that a
    # run cut off by a time limit loses only itself.
    tmp=$results/raw
    rm -rf "$tmp"
    mkdir -p "$tmp"
    : >"$tmp/commands"
    : >"$tmp/failed"
    start=$(date +%s)
    if command -v nvidia-smi >/dev/null 2>&1; then
        nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem,power.limit \
            --format=csv,noheader >"$tmp/nvidia-smi.csv" 2>>"$log" || true
    fi
    models=$build/bench-models
    for algos in heuristic benchmark graph graph_benchmark; do
        gpu_run "conv.$algos" env FACS_CUDNN_ALGO=$algos "$build/bench-conv" --device "$device" --threads "$threads" \
            --batch "${CONV_BATCH:-32}" --runs "$runs" --warmup "$warmup"
    done
    for variant in ${TORCH_VARIANTS:-fast deterministic}; do
        gpu_run "torch_conv.$variant" "$py" "$here/bench_conv_torch.py" --device "$device" --variant "$variant" \
            --batch "${CONV_BATCH:-32}" --runs "$runs" --warmup "$warmup"
    done
    # The training steps next: ResNet-50's gap to PyTorch is the question the
    # conv runs above and the selections below are for.
    for arch in resnet50 facs_resnet50; do
        gpu_run "train.$arch" "$models" --device "$device" --threads "$threads" --mode train --arch "$arch" \
            --input-size 224 --batch "${TRAIN_BATCH:-32}" --runs "$runs" --warmup "$warmup" --profile
    done
    for algos in benchmark graph graph_benchmark; do
        gpu_run "train_cudnn.$algos" env FACS_CUDNN_ALGO=$algos "$models" --device "$device" --threads "$threads" \
            --mode train --arch resnet50 --input-size 224 --batch "${TRAIN_BATCH:-32}" --runs "$runs" \
            --warmup "$warmup" --profile
    done
    for kernels in ${GPU_FACS_KERNELS-resident classic}; do
        FACS_CUDA_FACS_KERNELS=$kernels gpu_run "facs_$kernels" "$build/bench-facs" --device "$device" \
            --threads "$threads" --batch "${FACS_BATCH:-64}" --runs "$runs" --warmup "$warmup" \
            --peak-gbs "${PEAK_GBS:-4800}" --copy-mib "${COPY_MIB:-1024}"
    done
    for arch in resnet50 facs_resnet50; do
        for fold in unfolded folded; do
            case $fold in
            folded) flag=--fold-bn ;;
            *) flag= ;;
            esac
            for batch in 32 64; do
                gpu_run "infer.$arch.$fold.$batch" "$models" --device "$device" --threads "$threads" --mode infer \
                    --arch "$arch" --input-size 224 --batch "$batch" ${flag:+"$flag"} --runs "$runs" --warmup "$warmup"
            done
        done
    done
    for arch in pspnet_resnet101 pspnet_facs_resnet101; do
        gpu_run "pspnet.$arch" "$models" --device "$device" --threads "$threads" --mode train --arch "$arch" \
            --deep-base --input-size 713 --batch "${PSP_BATCH:-2}" --runs "${PSP_RUNS:-3}" \
            --warmup "${PSP_WARMUP:-2}"
    done
    if [ -f "$here/bench_gpu_torch.py" ]; then
        for variant in ${TORCH_VARIANTS:-fast deterministic}; do
            gpu_run "torch.$variant" "$py" "$here/bench_gpu_torch.py" --device "$device" --variant "$variant" \
                --archs resnet50,facs_resnet50 --batches 1,32,64 --train-batch "${TRAIN_BATCH:-32}" --runs "$runs" \
                --warmup "$warmup"
        done
    fi
    elapsed=$(($(date +%s) - start))
    "$py" - "$tmp" "$results" "$build" "$elapsed" <<'PYEOF'
import glob
import json
import os
import sys
import time

tmp, results, build, elapsed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
commands = [dict(zip(("name", "command"), line.rstrip("\n").split("\t", 1))) for line in open(f"{tmp}/commands")]
failed = {}
for line in open(f"{tmp}/failed"):
    name, rc = line.split()
    failed[name] = "skipped (PyTorch could not run it: no torch, or no usable CUDA device; see the log)" \
        if rc == "77" else f"exit {rc}"


def load(name):
    """Run name's document; None where it wrote none or stopped mid-way (its stderr is in the log)."""
    try:
        with open(f"{tmp}/{name}.json") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def gpu_info():
    path = f"{tmp}/nvidia-smi.csv"
    if not os.path.exists(path) or not open(path).read().strip():
        return None
    keys = ("name", "memory_total", "driver", "max_sm_clock", "max_mem_clock", "power_limit")
    return dict(zip(keys, (v.strip() for v in open(path).readline().split(","))))


date = time.strftime("%Y-%m-%dT%H:%M:%S%z")
gpu = gpu_info()
header = {"date": date, "gpu": gpu, "build": os.path.abspath(build)}


def write(name, doc):
    with open(f"{results}/{name}.json", "w") as out:
        json.dump(doc, out, indent=1)
        out.write("\n")


def documents(prefix):
    """The documents of the runs named prefix.*, each with its command and name."""
    docs = []
    for c in commands:
        if c["name"].startswith(prefix + "."):
            doc = load(c["name"])
            status = {"failed": failed[c["name"]]} if c["name"] in failed else {}
            docs.append(dict(doc, run=c["name"], command=c["command"], **status) if doc else
                        {"run": c["name"], "command": c["command"], "failed": failed.get(c["name"], "no output")})
    return docs


def ratio(a, b, digits=3):
    return round(a / b, digits) if a is not None and b else None


def speedup_pct(ours, base):
    """How much faster (> 0) or slower (< 0) a time ours is than base, percent."""
    return round((base / ours - 1) * 100, 1) if ours and base else None


facs, facs_classic = load("facs_resident"), load("facs_classic")
infer, train, pspnet = documents("infer"), documents("train"), documents("pspnet")
torch_docs = documents("torch")
for kernels, result in (("resident", facs), ("classic", facs_classic)):
    run = "facs_" + kernels
    write("gpu_facs" if kernels == "resident" else "gpu_facs_classic",
          dict(header, kernels=kernels, command=next((c["command"] for c in commands if c["name"] == run), None),
               result=result, failed=failed.get(run)))
conv, torch_conv = load("conv.heuristic"), documents("torch_conv")
# FACS_CUDNN_ALGO's other selections, each against the default (heuristic).
SELECTIONS = ("benchmark", "graph", "graph_benchmark")
conv_alternatives = {a: load(f"conv.{a}") for a in SELECTIONS}


def conv_rows(ours, alternatives, references):
    """Per shape: our times and cuDNN algorithms (FACS_CUDNN_ALGO=heuristic, and each other selection's, as a
    ratio to it), each PyTorch variant's times and ours / theirs (> 1: ours slower)."""
    rows = []
    for s in (ours or {}).get("shapes", []):
        row = {k: s.get(k) for k in ("name", "fwd_ms", "bwd_ms", "impl", "failed")}
        for selection, doc in alternatives.items():
            t = next((t for t in (doc or {}).get("shapes", []) if t["name"] == s["name"]), None)
            if t:
                row[selection] = {"fwd_ms": t.get("fwd_ms"), "bwd_ms": t.get("bwd_ms"), "impl": t.get("impl"),
                                  "failed": t.get("failed"),
                                  "fwd_over_heuristic": ratio(t.get("fwd_ms"), s.get("fwd_ms")),
                                  "bwd_over_heuristic": ratio(t.get("bwd_ms"), s.get("bwd_ms"))}
        for ref in references:
            theirs = next((t for t in ref.get("shapes", []) if t["name"] == s["name"]), None)
            if theirs:
                variant = ref["run"].split(".", 1)[1]
                row[f"torch_{variant}"] = {"fwd_ms": theirs["fwd_ms"], "bwd_ms": theirs["bwd_ms"],
                                           "fwd_ours_over_torch": ratio(s.get("fwd_ms"), theirs["fwd_ms"]),
                                           "bwd_ours_over_torch": ratio(s.get("bwd_ms"), theirs["bwd_ms"])}
        rows.append(row)
    return rows


conv_table = conv_rows(conv, conv_alternatives, [d for d in torch_conv if "failed" not in d])
write("gpu_conv", dict(header, ours=conv, **{f"ours_{a}": d for a, d in conv_alternatives.items()}, torch=torch_conv,
                       failed={k: failed.get(k) for k in ("conv.heuristic",) + tuple(f"conv.{a}" for a in SELECTIONS)},
                       convention="ours / torch times (> 1: ours slower); fp32 without TF32, channels_last; "
                                  "benchmark: FACS_CUDNN_ALGO=benchmark (cuDNN's algorithms timed, any determinism); "
                                  "graph: FACS_CUDNN_ALGO=graph (cuDNN's graph API, deterministic engines first); "
                                  "graph_benchmark: the same, its deterministic plans timed",
                       shapes=conv_table))
write("gpu_infer", dict(header, runs=infer))
write("gpu_train", dict(header, runs=train + documents("train_cudnn")))
write("gpu_pspnet", dict(header, runs=pspnet))
write("gpu_torch", dict(header, runs=torch_docs))


def shape(name, batch, key):
    """A value of the shape at batch of run name (None when the run failed)."""
    doc = load(name)
    for s in (doc or {}).get("shapes", []):
        if s["batch"] == batch:
            return s.get(key)
    return None


def latency_row(fold, batch, run_batch):
    """Batch `batch` of the unfolded or folded eval runs (batch 1 from the --batch run_batch process)."""
    r = shape(f"infer.resnet50.{fold}.{run_batch}", batch, "forward_ms")
    f = shape(f"infer.facs_resnet50.{fold}.{run_batch}", batch, "forward_ms")
    return {"resnet50_ms": r, "facs_resnet50_ms": f, "facs_over_resnet_ms": ratio(f, r),
            "resnet50_images_per_s": ratio(batch * 1e3, r, 2), "facs_resnet50_images_per_s": ratio(batch * 1e3, f, 2),
            "facs_speedup_pct": speedup_pct(f, r),
            "resnet50_device_mib": shape(f"infer.resnet50.{fold}.{run_batch}", batch, "device_mib"),
            "facs_resnet50_device_mib": shape(f"infer.facs_resnet50.{fold}.{run_batch}", batch, "device_mib")}


def train_row(prefix, base, facs_arch, batch):
    r, f = shape(f"{prefix}.{base}", batch, "step_ms"), shape(f"{prefix}.{facs_arch}", batch, "step_ms")
    rm, fm = shape(f"{prefix}.{base}", batch, "device_mib"), shape(f"{prefix}.{facs_arch}", batch, "device_mib")
    return {f"{base}_step_ms": r, f"{facs_arch}_step_ms": f, "facs_over_resnet_ms": ratio(f, r),
            "facs_speedup_pct": speedup_pct(f, r), f"{base}_images_per_s": ratio(batch * 1e3, r, 2),
            f"{facs_arch}_images_per_s": ratio(batch * 1e3, f, 2), f"{base}_device_mib": rm,
            f"{facs_arch}_device_mib": fm, "facs_over_resnet_memory": ratio(fm, rm),
            f"{base}_arena_peak_mib": shape(f"{prefix}.{base}", batch, "arena_peak_mib"),
            f"{facs_arch}_arena_peak_mib": shape(f"{prefix}.{facs_arch}", batch, "arena_peak_mib")}


train_batch = int(os.environ.get("TRAIN_BATCH", 32))
psp_batch = int(os.environ.get("PSP_BATCH", 2))
table3 = {"question": "Is FACS-ResNet-50 faster than ResNet-50 on a GPU, and by how much? (paper, Table 3)",
          "convention": "facs_over_resnet_ms = FACS time / ResNet time (< 1: FACS faster); facs_speedup_pct = "
                        "(ResNet time / FACS time - 1) x 100 (> 0: FACS faster); fp32, 224x224, eval mode without "
                        "the tape; batch 1 is the latency, 32 and 64 the throughput",
          "unfolded": {f"b{b}": latency_row("unfolded", b, 32 if b in (1, 32) else 64) for b in (1, 32, 64)},
          "folded": {f"b{b}": latency_row("folded", b, 32 if b in (1, 32) else 64) for b in (1, 32, 64)},
          f"train_b{train_batch}": train_row("train", "resnet50", "facs_resnet50", train_batch)}
heuristic_step = table3[f"train_b{train_batch}"]["resnet50_step_ms"]
cudnn_selections = {"what": "ResNet-50's training step with each other FACS_CUDNN_ALGO over the default (heuristic): "
                            "benchmark times each convolution's cuDNN algorithms once and runs the fastest FMA one, "
                            "deterministic or not; graph runs them through cuDNN's graph API; graph_benchmark "
                            "too, the fastest of its deterministic plans by timing"}
for a in SELECTIONS:
    step_ms = shape(f"train_cudnn.{a}", train_batch, "step_ms")
    cudnn_selections[a] = {"resnet50_step_ms": step_ms, "over_heuristic": ratio(step_ms, heuristic_step)}


def verdict(what, facs_ms, resnet_ms):
    p = speedup_pct(facs_ms, resnet_ms)
    if p is None:
        return f"{what}: not measured"
    return (f"{what}: FACS-ResNet-50 {facs_ms} ms vs ResNet-50 {resnet_ms} ms per call, FACS "
            f"{abs(p)}% {'faster' if p > 0 else 'slower'} (time ratio {ratio(facs_ms, resnet_ms)})")


answers = [verdict(f"batch-{b} {'latency' if b == 1 else 'throughput'} ({fold} BN)",
                   table3[fold][f"b{b}"]["facs_resnet50_ms"], table3[fold][f"b{b}"]["resnet50_ms"])
           for b in (1, 64) for fold in ("unfolded", "folded")]
step = table3[f"train_b{train_batch}"]
answers.append(verdict(f"training step at batch {train_batch}", step["facs_resnet50_step_ms"],
                       step["resnet50_step_ms"]))
table3["answer"] = "; ".join(answers)
psp = dict(train_row("pspnet", "pspnet_resnet101", "pspnet_facs_resnet101", psp_batch),
           input="713x713, semseg's deep base stem, output stride 8, 19 classes, main + 0.4 x aux loss",
           batch=psp_batch)

facs_op = None
if facs:
    keep = ("name", "facs_fwd_ms", "facs_bwd_ms", "conv_fwd_ms", "conv_bwd_ms", "facs_over_conv_fwd",
            "facs_over_conv_bwd", "facs_fwd_gbs", "facs_fwd_of_peak", "facs_fwd_of_copy", "facs_bwd_gbs",
            "facs_bwd_of_peak", "facs_bwd_of_copy")
    facs_op = {"batch": facs["batch"], "peak_gbs": facs.get("peak_gbs"), "peak_source": facs.get("peak_source"),
               "copy_gbs": (facs.get("copy") or {}).get("gbs"),
               "copy_of_peak": ratio((facs.get("copy") or {}).get("gbs"), facs.get("peak_gbs")),
               "shapes": [{k: s.get(k) for k in keep} for s in facs["shapes"]]}
    if facs_classic:
        classic_keep = ("name", "facs_fwd_ms", "facs_bwd_ms", "facs_fwd_of_copy", "facs_bwd_of_copy")
        facs_op["classic_kernels"] = [{k: s.get(k) for k in classic_keep} for s in facs_classic["shapes"]]


def torch_rows(doc):
    """Per architecture: batch-1 latency, throughputs and the training step of one torch document."""
    rows = {}
    for s in doc.get("shapes", []):
        row = rows.setdefault(s["arch"], {"implementation": s["implementation"]})
        if s["mode"] == "infer":
            row[f"b{s['batch']}_ms"] = s["forward_ms"]
            row[f"b{s['batch']}_images_per_s"] = s["images_per_s"]
        else:
            row[f"train_b{s['batch']}_step_ms"] = s["step_ms"]
        row[f"b{s['batch']}_{s['mode']}_max_allocated_mib"] = s["max_allocated_mib"]
    return rows


torch_summary = {}
for doc in torch_docs:
    if "failed" in doc:
        torch_summary[doc["run"].split(".", 1)[1]] = {"skipped" if "skipped" in doc["failed"] else "failed":
                                                      doc["failed"]}
        continue
    rows = torch_rows(doc)
    ours = {}
    for arch in rows:
        o = {f"b{b}": shape(f"infer.{arch}.unfolded.{32 if b in (1, 32) else 64}", b, "forward_ms")
             for b in (1, 32, 64)}
        o[f"train_b{train_batch}"] = shape(f"train.{arch}", train_batch, "step_ms")
        ours[arch] = {
            "convention": "ours / torch times (> 1: ours slower); ours unfolded eval",
            **{f"{k}_ours_over_torch": ratio(v, rows[arch].get(f"{k}_ms" if k.startswith("b") else f"{k}_step_ms"))
               for k, v in o.items()}}
    facs_vs = {}
    if "resnet50" in rows and "facs_resnet50" in rows:
        facs_vs = {f"{k}_facs_over_resnet": ratio(rows["facs_resnet50"].get(k), rows["resnet50"].get(k))
                   for k in rows["resnet50"] if k.endswith("_ms")}
    torch_summary[doc["variant"]] = {"library": doc["library"], "gpu": doc.get("gpu"), "settings": doc["settings"],
                                     "torch": rows, "torch_facs_over_resnet": facs_vs, "ours_over_torch": ours}

summary = dict(header, device=next((d.get("device") for d in infer if "device" in d), None), elapsed_s=elapsed,
               table3=table3, **{f"pspnet101_713_b{psp_batch}_train": psp}, cudnn_selections=cudnn_selections,
               facs_op=facs_op, torch=torch_summary, failed=failed, commands=commands)
write("gpu_summary", summary)
print(f"Table 3 on {gpu['name'] if gpu else 'the GPU'}: {table3['answer']}", file=sys.stderr)
print(f"PSPNet-101 713x713 b{psp_batch} step: ResNet {psp['pspnet_resnet101_step_ms']} ms "
      f"({psp['pspnet_resnet101_device_mib']} MiB), FACS {psp['pspnet_facs_resnet101_step_ms']} ms "
      f"({psp['pspnet_facs_resnet101_device_mib']} MiB)", file=sys.stderr)
if facs_op:
    print(f"device copy {facs_op['copy_gbs']} GB/s of {facs_op['peak_gbs']} GB/s peak", file=sys.stderr)
    for s in facs_op["shapes"]:
        print(f"  {s['name']:22s} FACS fwd {s['facs_fwd_gbs']} GB/s ({s['facs_fwd_of_copy']} of copy), "
              f"bwd {s['facs_bwd_gbs']} GB/s ({s['facs_bwd_of_copy']} of copy); FACS / conv time "
              f"{s['facs_over_conv_fwd']} fwd, {s['facs_over_conv_bwd']} bwd", file=sys.stderr)
for variant, t in torch_summary.items():
    print(f"torch {variant}: {json.dumps(t.get('ours_over_torch', t))}", file=sys.stderr)
for a in SELECTIONS:
    print(f"ResNet-50 step with FACS_CUDNN_ALGO={a}: {cudnn_selections[a]['resnet50_step_ms']} ms, "
          f"{cudnn_selections[a]['over_heuristic']} of the default's", file=sys.stderr)
for row in conv_table:
    against = "; ".join([f"{k}: fwd {v['fwd_ours_over_torch']}, bwd {v['bwd_ours_over_torch']}"
                         for k, v in row.items() if k.startswith("torch_")] +
                        [f"{a}: fwd {row[a]['fwd_over_heuristic']}, bwd {row[a]['bwd_over_heuristic']} of heuristic"
                         for a in SELECTIONS if a in row])
    print(f"  conv {row['name']:20s} ours {row['fwd_ms']} + {row['bwd_ms']} ms ({against}); "
          f"{(row.get('impl') or {}).get('forward')} / {(row.get('impl') or {}).get('backward_data')} / "
          f"{(row.get('impl') or {}).get('backward_weights')}", file=sys.stderr)
if failed:
    print(f"failed or skipped: {failed} (see {results}/gpu_log.txt)", file=sys.stderr)
print(f"{elapsed} s; wrote {results}/gpu_summary.json and gpu_*.json", file=sys.stderr)
PYEOF
    # A skipped PyTorch reference (77) is no failure of ours.
    if grep -qv ' 77$' "$tmp/failed"; then
        exit 1
    fi
}

# gpu_run NAME COMMAND...: COMMAND's stdout to $tmp/NAME.json, its stderr to
# the log; a failure is recorded (exit 77: skipped) and the next run goes on.
gpu_run() {
    run_name=$1
    shift
    printf '%s\t%s\n' "$run_name" "$*" >>"$tmp/commands"
    echo "gpu [$(($(date +%s) - start)) s]: $*" >&2
    echo "== $*" >>"$log"
    rc=0
    "$@" >"$tmp/$run_name.json" 2>>"$log" || rc=$?
    if [ "$rc" -ne 0 ]; then
        # Its JSON stays: bench-conv, for one, records the layers it timed
        # beside the one that failed.
        echo "$run_name $rc" >>"$tmp/failed"
        echo "gpu: $run_name exited $rc; the end of $log:" >&2
        tail -n 3 "$log" >&2
    fi
}

if [ "$name" = gpu ]; then
    run_gpu "${2:-}"
    exit 0
fi
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
    echo "run_bench.sh: unknown benchmark '$name' (conv, facs, infer, train, pspnet, seg, gradcam, folder or gpu)" >&2
    exit 1
    ;;
esac
bin=${2:-$here/../build/bench-$target}

if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then
    echo "run_bench.sh: $bin is not an executable (build the bench-$target target or pass its path)" >&2
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
# folder: each configuration's --data, one line each beside configs (a path
# may hold spaces or colons, which configs, split into options, could not).
data_paths=
if [ "$name" = folder ]; then
    if [ -n "${FOLDER:-}" ]; then
        folders=$FOLDER labels=$(basename "$FOLDER" | tr -c 'A-Za-z0-9._\n-' '_')
    else
        data=$(dirname "$bin")/facs-data
        "$data" synth imagefolder "$tmp/imagenet" --classes 8 --n 512 --size 500x375 >&2
        /usr/bin/python3 "$here/make_photo_folder.py" "$tmp/photos" --n 24 --size 4000x3000
        folders=$(printf '%s\n%s' "$tmp/imagenet" "$tmp/photos") labels=$(printf 'imagenet-500x375\nphotos-4000x3000')
    fi
    data_paths=$(echo "$folders" | while IFS= read -r f; do for w in 0 1 2; do echo "$f"; done; done)
    configs=$(echo "$labels" | while IFS= read -r label; do for w in 0 1 2; do
        echo "--label $label-w$w --workers $w --batch ${BATCH:-32}"
    done; done)
fi

count=$(echo "$configs" | wc -l)
round=1
while [ "$round" -le "$rounds" ]; do
    i=1
    while [ "$i" -le "$count" ]; do
        config=$(echo "$configs" | sed -n "${i}p")
        path=$(echo "$data_paths" | sed -n "${i}p")
        echo "round $round/$rounds: FACS ($bin) ${path:+--data $path }$config, $threads threads" >&2
        # $config is a list of options: split on purpose.
        # shellcheck disable=SC2086
        "$bin" ${path:+--data "$path"} $config ${OURS_FLAGS:-} --runs "$runs" --warmup "$warmup" \
            --threads "$threads" >"$tmp/facs.$round.$i.json"
        echo "round $round/$rounds: PyTorch ${path:+--data $path }$config, $threads threads" >&2
        # shellcheck disable=SC2086
        /usr/bin/python3 "$here/$twin" ${path:+--data "$path"} $config --runs "$runs" --warmup "$warmup" \
            --threads "$threads" >"$tmp/torch.$round.$i.json"
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
/usr/bin/python3 - "$tmp" "$rounds" "$count" "${RESULT:-$here/results/$name.json}" <<'EOF'
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


def cpu_flags():
    """The vector instruction sets among /proc/cpuinfo's flags."""
    flags = next((line.split(":", 1)[1].split() for line in open("/proc/cpuinfo") if line.startswith("flags")), [])
    return [f for f in ("sse4_1", "avx", "fma", "avx2", "avx512f", "avx512bw", "avx512vl", "avx512dq",
                        "avx512_vnni", "avx512_bf16", "amx_tile") if f in flags]


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
result = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cpu": cpu, "cpu_flags": cpu_flags(), "facs": facs,
          "torch": torch, "ratio_torch_over_facs": ratios, "ratio_sum_of_shapes": summary}
if os.environ.get("NOTE"):
    result["note"] = os.environ["NOTE"]
if os.environ.get("OURS_FLAGS"):
    result["ours_flags"] = os.environ["OURS_FLAGS"]



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
echo "wrote ${RESULT:-$here/results/$name.json}" >&2
