#!/usr/bin/env bash
# One lent GPU session's checks and benchmarks in one command that fits its
# device time (docs/cuda.md "A lent GPU session"). Built here, run there:
#
#   here:  tools/device_run.sh --build          # Release, sm_90, no MPI, into build-device/ (binaries only)
#   there: tools/device_run.sh build-device OUT  # the device tool's run: carry ["build-device"], OUT=$OUT
#
# There, in order of what the open questions need most: the FACS cases with
# the resident and the classic kernels; bench-facs with both and with the
# resident kernels' group size swept (the bandwidth question);
# tools/gpu_check.sh with QUICK=1 (every op, every network, compute-sanitizer
# on the FACS cases); the GPU benchmarks (bench/run_bench.sh gpu). Each step
# is bounded (STEP_TIMEOUT, default 240 s, and none runs past DEADLINE, 520 s
# from the start), the whole stops starting steps after BUDGET seconds
# (default 300), and each step's archive is packed as soon as it ends, so the
# command ends within the device tool's 540 s with what it has. The summary
# lists the FACS op's time and fraction of the copy bandwidth per shape for
# every configuration. OUT gets at most 8 files: summary.txt, facs_cases.txt,
# facs_bench.tar.gz, gpu_check.tar.gz, bench_results.tar.gz.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")

if [ "${1:-}" = "--build" ]; then
    build=$root/build-device-tree
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFACS_CUDA=ON -DFACS_MPI=OFF \
        -DCMAKE_CUDA_ARCHITECTURES=90 -DFACS_WERROR=ON >/dev/null || exit 1
    cmake --build "$build" -j "$(nproc)" --target test_backend_ops test_cuda_networks test_comm_device bench-facs \
        bench-models bench-conv || exit 1
    stage=$root/build-device
    rm -rf "$stage"
    mkdir -p "$stage/tests"
    cp "$build"/tests/test_backend_ops "$build"/tests/test_cuda_networks "$build"/tests/test_comm_device "$stage/tests/"
    cp "$build"/bench-facs "$build"/bench-models "$build"/bench-conv "$stage/"
    du -sh "$stage"
    exit 0
fi

if [ $# -ne 2 ]; then
    echo "usage: $0 --build | $0 BUILD OUT" >&2
    exit 2
fi
build=$1
out=$2
mkdir -p "$out"
summary=$out/summary.txt
start=$(date +%s)
budget=${BUDGET:-300}
step_timeout=${STEP_TIMEOUT:-240}
# No step runs past DEADLINE seconds from the start, so that the archives are
# packed before the device tool's own limit (540 s) ends the command.
deadline=${DEADLINE:-520}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# step NAME LOG COMMAND...: runs the command (a function of this script or a
# program) within the step timeout and the deadline, its output to LOG, unless
# the budget is spent; one line in the summary.
step() {
    local name=$1 log=$2 rc t0 limit
    shift 2
    t0=$(date +%s)
    limit=$((start + deadline - t0))
    [ "$limit" -le "$step_timeout" ] || limit=$step_timeout
    if [ $((t0 - start)) -ge "$budget" ] || [ "$limit" -lt 10 ]; then
        echo "$name: not started (budget of $budget s or deadline of $deadline s spent)" | tee -a "$summary"
        return
    fi
    timeout "$limit" bash -c '"$@"' step "$@" >"$log" 2>&1
    rc=$?
    echo "$name: exit $rc in $(($(date +%s) - t0)) s" | tee -a "$summary"
}

# The FACS cases on the resident kernels (by default and in groups of 3
# images, as the emulation runs them) and on the classic ones; each
# setting's exit status on a line "SETTING: exit RC".
facs_cases() {
    local setting rc
    for setting in FACS_CUDA_FACS_KERNELS=resident FACS_CUDA_RESIDENT_IMAGES=3 FACS_CUDA_FACS_KERNELS=classic; do
        echo "== $setting"
        env "$setting" "$build/tests/test_backend_ops" -b cuda -o facs >"$work/cases.txt" 2>&1
        rc=$?
        grep -v " ok$" "$work/cases.txt"
        echo "$setting: exit $rc"
    done
}
# bench-facs per configuration: the default plans, the classic kernels, and
# the resident kernels with 1 to 4 images a cluster where they fit
# (each plan on stderr, into the log).
facs_configs="resident classic images1 images2 images3 images4"
facs_bench() {
    local config setting
    for config in $facs_configs; do
        case $config in
        classic) setting=FACS_CUDA_FACS_KERNELS=classic ;;
        images*) setting=FACS_CUDA_RESIDENT_IMAGES=${config#images} ;;
        *) setting=FACS_CUDA_FACS_KERNELS=resident ;;
        esac
        echo "== $config: $setting"
        env FACS_CUDA_FACS_VERBOSE=1 "$setting" "$build/bench-facs" --device cuda --batch 64 --runs 5 --warmup 3 \
            >"$work/facs_$config.json"
    done
}
export -f facs_cases facs_bench
export build work facs_configs

# pack ARCHIVE PATTERN...: the files and folders of the work folder that match,
# into OUT/ARCHIVE.tar.gz (no archive where none match).
pack() {
    local archive=$1 found
    shift
    found=$(cd "$work" && for p in "$@"; do ls -d $p 2>/dev/null; done)
    [ -z "$found" ] || tar -czf "$out/$archive.tar.gz" -C "$work" $found
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >>"$summary" 2>&1
step facs_cases "$out/facs_cases.txt" facs_cases
# Resident kernels that fail their cases would fail the networks and the
# benchmarks too: the later steps then take the classic kernels, so that the
# session still measures everything else.
if [ -f "$out/facs_cases.txt" ] && ! grep -qx "FACS_CUDA_FACS_KERNELS=resident: exit 0" "$out/facs_cases.txt"; then
    export FACS_CUDA_FACS_KERNELS=classic
    echo "the resident FACS kernels failed their cases: the steps after facs_bench take the classic kernels" |
        tee -a "$summary"
fi
step facs_bench "$work/facs_bench.log" facs_bench
python3 - "$work" $facs_configs >>"$summary" 2>&1 <<'PY'
import json, os, sys
for config in sys.argv[2:]:
    try:
        with open(os.path.join(sys.argv[1], f"facs_{config}.json")) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        print(f"{config}: no result ({e})")
        continue
    for s in doc["shapes"]:
        print(f"{config:9s} {s['name']:22s} fwd {s.get('facs_fwd_ms')} ms {s.get('facs_fwd_of_copy')} of copy, "
              f"bwd {s.get('facs_bwd_ms')} ms {s.get('facs_bwd_of_copy')} of copy")
PY
pack facs_bench 'facs_*'
step gpu_check "$work/gpu_check.log" env QUICK=1 "$root/tools/gpu_check.sh" "$build" "$work/gpu_check"
pack gpu_check gpu_check.log gpu_check
step bench_gpu "$work/bench_gpu.log" env RESULTS="$work/results" "$root/bench/run_bench.sh" gpu "$build"
pack bench_results bench_gpu.log results
echo "total $(($(date +%s) - start)) s" | tee -a "$summary"
