#!/bin/sh
# Runs the CPU convolution benchmark of FACS (bench-conv) and its PyTorch twin
# (bench_conv_torch.py) on the same shapes and threads, and writes both results
# with the per-shape speed ratio torch_ms / facs_ms (> 1: FACS is faster) to
# bench/results/conv.json.
#
# The machine may be shared: the two benchmarks run alternately ROUNDS times
# and each shape keeps its median over the rounds, so a burst of outside load
# skews one round rather than one library.
#
#   bench/run_conv_bench.sh [PATH/TO/bench-conv]
#
# Environment: BENCH_CONV (the binary; default build/bench-conv), BATCH (8),
# RUNS (10, timed runs per shape in each round), ROUNDS (3), OMP_NUM_THREADS (2).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-${BENCH_CONV:-$here/../build/bench-conv}}
batch=${BATCH:-8}
runs=${RUNS:-10}
rounds=${ROUNDS:-3}
threads=${OMP_NUM_THREADS:-2}
export OMP_NUM_THREADS=$threads

if [ ! -x "$bin" ]; then
    echo "run_conv_bench.sh: $bin is not an executable (build the bench-conv target or pass its path)" >&2
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

round=1
while [ "$round" -le "$rounds" ]; do
    echo "round $round/$rounds: FACS ($bin), batch $batch, $threads threads" >&2
    "$bin" --batch "$batch" --runs "$runs" --threads "$threads" >"$tmp/facs.$round.json"
    echo "round $round/$rounds: PyTorch, batch $batch, $threads threads" >&2
    /usr/bin/python3 "$here/bench_conv_torch.py" --batch "$batch" --runs "$runs" --threads "$threads" \
        >"$tmp/torch.$round.json"
    round=$((round + 1))
done

mkdir -p "$here/results"
/usr/bin/python3 - "$tmp" "$rounds" "$here/results/conv.json" <<'EOF'
import json
import platform
import statistics
import sys
import time


def merge(prefix):
    """One document whose per-shape times are the medians over the rounds."""
    docs = [json.load(open(f"{sys.argv[1]}/{prefix}.{r}.json")) for r in range(1, int(sys.argv[2]) + 1)]
    merged = dict(json.loads(json.dumps(docs[0])), rounds=len(docs))
    for i, shape in enumerate(merged["shapes"]):
        first = docs[0]["shapes"][i]
        for key, rate in (("fwd_ms", "gflops_fwd"), ("bwd_ms", "gflops_bwd")):
            shape[key] = round(statistics.median(d["shapes"][i][key] for d in docs), 3)
            shape[rate] = round(first[rate] * first[key] / shape[key], 1)
    return merged


facs, torch = merge("facs"), merge("torch")
torch_by_name = {s["name"]: s for s in torch["shapes"]}
cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
           platform.processor())
ratios = []
for s in facs["shapes"]:
    t = torch_by_name[s["name"]]
    ratios.append({"name": s["name"],
                   "fwd": round(t["fwd_ms"] / s["fwd_ms"], 3),
                   "bwd": round(t["bwd_ms"] / s["bwd_ms"], 3),
                   "total": round((t["fwd_ms"] + t["bwd_ms"]) / (s["fwd_ms"] + s["bwd_ms"]), 3)})
total = lambda r, key: sum(s[key] for s in r["shapes"])
summary = {"fwd": round(total(torch, "fwd_ms") / total(facs, "fwd_ms"), 3),
           "bwd": round(total(torch, "bwd_ms") / total(facs, "bwd_ms"), 3)}
result = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cpu": cpu, "facs": facs, "torch": torch,
          "ratio_torch_over_facs": ratios, "ratio_sum_of_shapes": summary}
with open(sys.argv[3], "w") as out:
    json.dump(result, out, indent=1)
    out.write("\n")
header = ("shape", "facs fwd", "torch fwd", "ratio", "facs bwd", "torch bwd", "ratio")
print(f"{header[0]:20s} " + " ".join(f"{h:>9s}" for h in header[1:]), file=sys.stderr)
for s, r in zip(facs["shapes"], ratios):
    t = torch_by_name[s["name"]]
    print(f"{s['name']:20s} {s['fwd_ms']:9.2f} {t['fwd_ms']:9.2f} {r['fwd']:9.2f} "
          f"{s['bwd_ms']:9.2f} {t['bwd_ms']:9.2f} {r['bwd']:9.2f}", file=sys.stderr)
print(f"sum of shapes: forward ratio {summary['fwd']}, backward ratio {summary['bwd']}", file=sys.stderr)
EOF
echo "wrote $here/results/conv.json" >&2
