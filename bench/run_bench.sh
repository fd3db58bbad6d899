#!/bin/sh
# Runs one CPU benchmark of FACS (build/bench-NAME) and its PyTorch twin
# (bench/bench_NAME_torch.py) on the same shapes and threads, and writes both
# results with the per-shape speed ratios torch_ms / facs_ms (> 1: FACS is
# faster) to bench/results/NAME.json.
#
# The machine may be shared: the two benchmarks run alternately ROUNDS times
# and each shape keeps its median over the rounds, so a burst of outside load
# skews one round rather than one library.
#
#   bench/run_bench.sh conv|facs [PATH/TO/bench-NAME]
#
# Environment: BATCH (8), RUNS (10, timed runs per shape in each round),
# ROUNDS (3), OMP_NUM_THREADS (2).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
name=${1:?usage: bench/run_bench.sh conv|facs [PATH/TO/bench-NAME]}
bin=${2:-$here/../build/bench-$name}
batch=${BATCH:-8}
runs=${RUNS:-10}
rounds=${ROUNDS:-3}
threads=${OMP_NUM_THREADS:-2}
export OMP_NUM_THREADS=$threads

if [ ! -x "$bin" ]; then
    echo "run_bench.sh: $bin is not an executable (build the bench-$name target or pass its path)" >&2
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

round=1
while [ "$round" -le "$rounds" ]; do
    echo "round $round/$rounds: FACS ($bin), batch $batch, $threads threads" >&2
    "$bin" --batch "$batch" --runs "$runs" --threads "$threads" >"$tmp/facs.$round.json"
    echo "round $round/$rounds: PyTorch, batch $batch, $threads threads" >&2
    /usr/bin/python3 "$here/bench_${name}_torch.py" --batch "$batch" --runs "$runs" --threads "$threads" \
        >"$tmp/torch.$round.json"
    round=$((round + 1))
done

mkdir -p "$here/results"
/usr/bin/python3 - "$tmp" "$rounds" "$here/results/$name.json" <<'EOF'
import json
import platform
import statistics
import sys
import time


def merge(prefix):
    """One document whose per-shape times (keys ending in _ms) are the medians
    over the rounds; a rate gflops_X is rescaled to the median of X_ms."""
    docs = [json.load(open(f"{sys.argv[1]}/{prefix}.{r}.json")) for r in range(1, int(sys.argv[2]) + 1)]
    merged = dict(json.loads(json.dumps(docs[0])), rounds=len(docs))
    for i, shape in enumerate(merged["shapes"]):
        first = docs[0]["shapes"][i]
        for key in [k for k in shape if k.endswith("_ms")]:
            shape[key] = round(statistics.median(d["shapes"][i][key] for d in docs), 3)
            rate = "gflops_" + key[:-3]
            if rate in shape:
                shape[rate] = round(first[rate] * first[key] / shape[key], 1)
    return merged


facs, torch = merge("facs"), merge("torch")
torch_by_name = {s["name"]: s for s in torch["shapes"]}
keys = [k for k in facs["shapes"][0] if k.endswith("_ms")]
cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
           platform.processor())
ratios = [dict(name=s["name"], **{k[:-3]: round(torch_by_name[s["name"]][k] / s[k], 3) for k in keys})
          for s in facs["shapes"]]
summary = {k[:-3]: round(sum(t[k] for t in torch["shapes"]) / sum(s[k] for s in facs["shapes"]), 3) for k in keys}
result = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cpu": cpu, "facs": facs, "torch": torch,
          "ratio_torch_over_facs": ratios, "ratio_sum_of_shapes": summary}
with open(sys.argv[3], "w") as out:
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
