#!/bin/sh
# Data-parallel scaling on this machine: bench-parallel's SGD step at the same
# global batch in one process with all the threads, then in RANKS processes
# (mpirun) with the threads split, for each network, and the same two runs of
# its PyTorch twin (bench_parallel_torch.py: DistributedDataParallel over
# gloo); writes bench/results/parallel.json (the four documents, each
# library's speed-up, ours against PyTorch at RANKS, and the communication's
# share of our step: all of it if nothing overlapped, and the part backward
# does not hide) and prints a table.
#   bench/run_parallel.sh [PATH/TO/bench-parallel]
# Environment: THREADS (2), RANKS (2), BATCH (32), RUNS (5), WARMUP (3: the
# arena settles in the second step), ARCHS ("resnet50 facs_resnet50", CIFAR
# stem at 32x32), MPIEXEC (mpiexec), NOTE (stored as "note").
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tools/script_help.sh"
script_help "$0" "$@"
bin=${1:-$here/../build/bench-parallel}
threads=${THREADS:-2} ranks=${RANKS:-2} batch=${BATCH:-32} runs=${RUNS:-5} warmup=${WARMUP:-3}
mpiexec=${MPIEXEC:-mpiexec}
per_rank=$((threads / ranks))
[ "$per_rank" -ge 1 ] || per_rank=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
for arch in ${ARCHS:-resnet50 facs_resnet50}; do
    common="--arch $arch --cifar-stem --input-size 32 --batch $batch --runs $runs --warmup $warmup"
    echo "$arch: 1 process, $threads threads" >&2
    # shellcheck disable=SC2086
    OMP_NUM_THREADS=$threads "$bin" $common --threads "$threads" >"$tmp/$arch.1.json"
    echo "$arch: $ranks ranks, $per_rank threads each" >&2
    # shellcheck disable=SC2086
    OMP_NUM_THREADS=$per_rank "$mpiexec" -np "$ranks" "$bin" $common --threads "$per_rank" >"$tmp/$arch.$ranks.json"
    echo "$arch: PyTorch, 1 process, then $ranks ranks" >&2
    # shellcheck disable=SC2086
    OMP_NUM_THREADS=$threads /usr/bin/python3 "$here/bench_parallel_torch.py" $common --threads "$threads" \
        >"$tmp/$arch.torch1.json"
    # shellcheck disable=SC2086
    OMP_NUM_THREADS=$per_rank /usr/bin/python3 "$here/bench_parallel_torch.py" $common --threads "$per_rank" \
        --ranks "$ranks" >"$tmp/$arch.torchN.json"
done
/usr/bin/python3 - "$tmp" "$here/results/parallel.json" "${NOTE:-}" <<'PY'
import glob, json, os, platform, sys
tmp, out, note = sys.argv[1:4]
rows = []
for one_path in sorted(glob.glob(os.path.join(tmp, "*.1.json"))):
    arch = os.path.basename(one_path)[:-len(".1.json")]
    one = json.load(open(one_path))
    many = json.load(open(glob.glob(os.path.join(tmp, arch + ".[2-9]*.json"))[0]))
    t1, tn = (json.load(open(os.path.join(tmp, f"{arch}.torch{k}.json"))) for k in ("1", "N"))
    rows.append({"arch": arch, "one_process": one, "ranks": many, "torch_one_process": t1, "torch_ranks": tn,
                 "speedup": round(one["step_ms"] / many["step_ms"], 3),
                 "torch_speedup": round(t1["step_ms"] / tn["step_ms"], 3),
                 "torch_over_ours_at_ranks": round(tn["step_ms"] / many["step_ms"], 3),
                 "comm_share_if_serial": round(many["allreduce_ms"] / many["step_ms"], 3),
                 "comm_share_exposed": round(many["grad_wait_ms"] / many["step_ms"], 3)})
doc = {"benchmark": "parallel", "machine": platform.processor() or platform.machine(), "note": note, "rows": rows}
json.dump(doc, open(out, "w"), indent=1)
print(f"{'network':16} {'1 proc ms':>10} {'N ranks ms':>11} {'speed-up':>9} {'torch 1':>8} {'torch N':>8} "
      f"{'speed-up':>9} {'torch/ours N':>13} {'grad MiB':>9} {'all-reduce':>11} {'exposed':>8}")
for r in rows:
    m = r["ranks"]
    print(f"{r['arch']:16} {r['one_process']['step_ms']:10.1f} {m['step_ms']:11.1f} {r['speedup']:9.2f} "
          f"{r['torch_one_process']['step_ms']:8.1f} {r['torch_ranks']['step_ms']:8.1f} {r['torch_speedup']:9.2f} "
          f"{r['torch_over_ours_at_ranks']:13.2f} {m['grad_mib']:9.1f} {m['allreduce_ms']:11.1f} "
          f"{m['grad_wait_ms']:8.1f}")
PY
