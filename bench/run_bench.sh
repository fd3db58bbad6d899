#!/bin/sh
# Runs one CPU benchmark of FACS and its PyTorch twin on the same shapes and
# threads, and writes both results with the per-shape speed ratios
# torch_ms / facs_ms (> 1: FACS is faster) to bench/results/NAME.json.
#
# The machine may be shared: the two benchmarks run alternately ROUNDS times
# and each shape keeps its median over the rounds, so a burst of outside load
# skews one round rather than one library.
#
#   bench/run_bench.sh conv|facs|infer|train [PATH/TO/bench-BINARY]
#
# conv and facs run build/bench-NAME and bench/bench_NAME_torch.py once per
# round. infer and train run build/bench-models and bench/bench_models_torch.py
# once per configuration (so each process's peak RSS is that configuration's):
#   infer  resnet50, facs_resnet50, resnet101, facs_resnet101 at 224x224, eval
#          mode, batch 1 (latency) and BATCH (throughput) in each process;
#   train  resnet50 and facs_resnet50, one SGD step, at 32x32 with the CIFAR
#          stem and 10 classes (batch BATCH32) and at 224x224 with 1000 classes
#          (batch BATCH224).
#
# Environment: BATCH (conv, facs: 8; infer: 32), BATCH32 (32), BATCH224 (16),
# RUNS (timed runs per shape in each round; conv, facs: 10, infer: 5, train: 3),
# WARMUP (conv, facs: 3; infer, train: 2, because our arena settles only in the
# call after its first reset: that call maps its one new block afresh), ROUNDS
# (3), OMP_NUM_THREADS (2), NOTE (free text stored as "note" in the result).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
name=${1:?usage: bench/run_bench.sh conv|facs|infer|train [PATH/TO/bench-BINARY]}
rounds=${ROUNDS:-3}
threads=${OMP_NUM_THREADS:-2}
export OMP_NUM_THREADS=$threads
case $name in
conv | facs)
    target=$name twin=bench_${name}_torch.py runs=${RUNS:-10} warmup=${WARMUP:-3}
    configs="--batch ${BATCH:-8}"
    ;;
infer)
    target=models twin=bench_models_torch.py runs=${RUNS:-5} warmup=${WARMUP:-2}
    configs=$(for arch in resnet50 facs_resnet50 resnet101 facs_resnet101; do
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
*)
    echo "run_bench.sh: unknown benchmark '$name' (conv, facs, infer or train)" >&2
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
    """One round's document: the first configuration's, with the shapes of all."""
    docs = [json.load(open(f"{sys.argv[1]}/{prefix}.{r}.{i}.json")) for i in range(1, int(sys.argv[3]) + 1)]
    return dict(docs[0], shapes=[s for d in docs for s in d["shapes"]])


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
    return merged


facs, torch = merge("facs"), merge("torch")
torch_by_name = {s["name"]: s for s in torch["shapes"]}
keys = [k for k in facs["shapes"][0] if k.endswith("_ms")]
cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
           platform.processor())
# The peak RSS ratio too (torch / facs, > 1: FACS uses less) where both report it.
ratio_keys = keys + [k for k in ["max_rss_mib"] if k in facs["shapes"][0] and k in torch["shapes"][0]]
ratios = [dict(name=s["name"], **{k[:-3] if k.endswith("_ms") else k: round(torch_by_name[s["name"]][k] / s[k], 3)
                                   for k in ratio_keys})
          for s in facs["shapes"]]
summary = {k[:-3]: round(sum(t[k] for t in torch["shapes"]) / sum(s[k] for s in facs["shapes"]), 3) for k in keys}
result = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cpu": cpu, "facs": facs, "torch": torch,
          "ratio_torch_over_facs": ratios, "ratio_sum_of_shapes": summary}
if os.environ.get("NOTE"):
    result["note"] = os.environ["NOTE"]
with open(sys.argv[4], "w") as out:
    json.dump(result, out, indent=1)
    out.write("\n")
print(f"{'shape':22s} " + " ".join(f"{'facs ' + k[:-3]:>14s} {'torch ' + k[:-3]:>14s} {'ratio':>6s}" for k in keys),
      file=sys.stderr)
for s, r in zip(facs["shapes"], ratios):
    t = torch_by_name[s["name"]]
    print(f"{s['name']:22s} " + " ".join(f"{s[k]:14.2f} {t[k]:14.2f} {r[k[:-3]]:6.2f}" for k in keys),
          file=sys.stderr)
print("sum of shapes, torch / facs: " + ", ".join(f"{k} {v}" for k, v in summary.items()), file=sys.stderr)
EOF
echo "wrote $here/results/$name.json" >&2
