#!/usr/bin/env bash
# One lent GPU session's checks and benchmarks in one command that fits its
# device time (docs/cuda.md "A lent GPU session"). Built here, run there:
#
#   here:  tools/device_run.sh --build          # Release, sm_90, no MPI, into build-device/
#   there: tools/device_run.sh build-device OUT  # the device tool's run: carry ["build-device"], OUT=$OUT
#
# --build stages the programs below, the shared libraries they load but the C
# and C++ runtimes and cuDNN (libs.tar.xz: the device's image may lack them;
# cuDNN's own are hundreds of MB and come with the image's PyTorch) and
# BUILD_INFO (the commit it was built from).
#
# There, first the build's commit and the loader's gaps (a library the image
# lacks is taken from the staged ones, cuDNN from wherever the image keeps
# it; what stays missing is said). Then, in order of what the open questions
# need most, each step within its own limit and none past DEADLINE (520 s
# from the start), its archive packed as soon as it ends:
#   facs_cases  the FACS cases with the resident kernels (and in groups of 3
#               images) and the classic ones, each setting within 45 s
#   facs_bench  bench-facs with both kernels and the resident kernels' group
#               size swept (the bandwidth question), each within 40 s
#   gpu_check   tools/gpu_check.sh with QUICK=1 (every op, every network,
#               the tools end to end, compute-sanitizer on the FACS cases),
#               each check within 100 s, all within 240 s
#   bench_gpu   bench/run_bench.sh gpu (without its own FACS runs), in what
#               time is left
# so the command ends within the device tool's 540 s with what it has.
# STEP_TIMEOUT, where set, caps every step further (the smoke test's). The
# summary lists the FACS op's time and fraction of the copy bandwidth per
# shape for every configuration. OUT gets at most 8 files: summary.txt,
# facs_cases.txt, facs_bench.tar.gz, gpu_check.tar.gz, bench_results.tar.gz.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
. "$here/script_help.sh"
script_help "$0" "$@"
programs="tests/test_backend_ops tests/test_cuda_networks tests/test_comm_device bench-facs bench-models bench-conv
    facs-data facs-finetune facs-run facs-gradcam pspnet-train pspnet-eval"

# The shared libraries of the programs in BUILD that the device may lack: all
# but the C and C++ runtimes (an older glibc's programs run on a newer one)
# and cuDNN (see above).
staged_libraries() {
    local build=$1 p
    for p in $programs; do
        ldd "$build/$p"
    done | awk '$3 ~ /^\// {print $3}' | sort -u |
        grep -Ev '/(ld-linux[^/]*|lib(c|m|dl|pthread|rt|resolv|stdc\+\+|gcc_s|cudnn[a-z_]*|nccl)\.so[^/]*)$'
}

if [ "${1:-}" = "--build" ]; then
    build=$root/build-device-tree
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFACS_CUDA=ON -DFACS_MPI=OFF \
        -DCMAKE_CUDA_ARCHITECTURES=90 -DFACS_WERROR=ON >/dev/null || exit 1
    targets=$(for p in $programs; do basename "$p"; done)
    cmake --build "$build" -j "$(nproc)" --target $targets || exit 1
    stage=$root/build-device
    rm -rf "$stage"
    mkdir -p "$stage/tests" "$stage/lib"
    for p in $programs; do
        cp "$build/$p" "$stage/$p" || exit 1
    done
    staged_libraries "$stage" | xargs cp -L -t "$stage/lib" || exit 1
    tar -cJf "$stage/libs.tar.xz" -C "$stage" lib && rm -rf "$stage/lib" || exit 1
    { git -C "$root" log -1 --format='%H %cd %s' --date=iso | cut -c1-160
      echo "$(git -C "$root" describe --always --dirty), diff against HEAD $(git -C "$root" diff HEAD | sha1sum | cut -c1-12)"
      echo "built $(date -u '+%F %T') UTC"; } >"$stage/BUILD_INFO"
    cat "$stage/BUILD_INFO"
    du -sh "$stage"
    exit 0
fi

if [ $# -ne 2 ]; then
    echo "usage: $0 --build | $0 BUILD OUT" >&2
    exit 2
fi
build=$1
out=$2
# A wrong BUILD would spend the lent device time on steps that cannot start.
staged=0
for p in $programs; do [ ! -x "$build/$p" ] || staged=1; done
if [ $staged = 0 ]; then
    echo "$0: $build holds none of the programs (stage them here with tools/device_run.sh --build)" >&2
    exit 2
fi
mkdir -p "$out"
summary=$out/summary.txt
: >"$summary" # a second run into OUT starts its own summary
start=$(date +%s)
# No step runs past DEADLINE seconds from the start, so that the archives are
# packed before the device tool's own limit (540 s) ends the command.
deadline=${DEADLINE:-520}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Libraries the programs need that the loader cannot find.
missing_libraries() {
    local p
    for p in $programs; do
        [ -x "$build/$p" ] && ldd "$build/$p" 2>/dev/null
    done | awk '/not found/ {print $1}' | sort -u
}

# Fills the loader's gaps: cuDNN's (and NCCL's) folder where the image keeps
# it (PyTorch's wheels), and each other missing library from the staged ones,
# linked into work/lib (first on LD_LIBRARY_PATH: it holds nothing the image
# has, so nothing else, PyTorch included, loads another copy of anything).
# One line per library.
link_libraries() {
    local lib found linked wheels
    mkdir -p "$work/lib" "$work/staged"
    export LD_LIBRARY_PATH="$work/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    [ -n "$(missing_libraries)" ] || return 0
    # python3 there is PyTorch's; its packages' folder first (it may live anywhere).
    wheels=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' 2>/dev/null)
    for lib in $(missing_libraries | grep -E '^lib(cudnn|nccl)'); do
        found=$(find $wheels /opt /usr/local /usr/lib /usr/lib64 -name "$lib" -print -quit 2>/dev/null)
        if [ -n "$found" ]; then
            export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$(dirname "$found")"
            echo "library $lib: from $(dirname "$found")"
        fi
    done
    # Python's tarfile where the image has no xz for tar.
    [ ! -f "$build/libs.tar.xz" ] || tar -xJf "$build/libs.tar.xz" -C "$work/staged" 2>/dev/null ||
        python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$build/libs.tar.xz" \
            "$work/staged"
    linked=1
    while [ $linked = 1 ]; do # a staged library may need others in turn
        linked=0
        for lib in $(missing_libraries); do
            if [ -e "$work/staged/lib/$lib" ] && [ ! -e "$work/lib/$lib" ]; then
                ln -s "$work/staged/lib/$lib" "$work/lib/$lib"
                echo "library $lib: staged"
                linked=1
            fi
        done
    done
    for lib in $(missing_libraries); do
        echo "library $lib: NOT FOUND (the programs that need it will not start)"
    done
}

# step NAME LIMIT LOG COMMAND...: runs the command (a function of this script
# or a program) within LIMIT seconds (and STEP_TIMEOUT, and the deadline),
# its output to LOG; one line in the summary. A step's own timeouts are
# --foreground, so that this one's kill reaches whatever they run.
step() {
    local name=$1 limit=$2 log=$3 rc t0
    shift 3
    t0=$(date +%s)
    [ -z "${STEP_TIMEOUT:-}" ] || [ "$limit" -le "$STEP_TIMEOUT" ] || limit=$STEP_TIMEOUT
    [ "$limit" -le $((start + deadline - t0)) ] || limit=$((start + deadline - t0))
    if [ "$limit" -lt 10 ]; then
        echo "$name: not started (deadline of $deadline s spent)" | tee -a "$summary"
        return
    fi
    timeout -k 10 "$limit" bash -c '"$@"' step "$@" >"$log" 2>&1
    rc=$?
    echo "$name: exit $rc in $(($(date +%s) - t0)) s (limit $limit s)" | tee -a "$summary"
}

# The FACS cases on the resident kernels (by default and in groups of 3
# images, as the emulation runs them) and on the classic ones, each
# setting's whole output in the log as it comes, then "SETTING: exit RC";
# the step's own status is the last setting's failure, else 0.
facs_cases() {
    local setting rc failed=0
    for setting in FACS_CUDA_FACS_KERNELS=resident FACS_CUDA_RESIDENT_IMAGES=3 FACS_CUDA_FACS_KERNELS=classic; do
        echo "== $setting"
        env "$setting" timeout --foreground -k 5 45 "$build/tests/test_backend_ops" -b cuda -o facs 2>&1
        rc=$?
        echo "$setting: exit $rc"
        [ $rc -eq 0 ] || failed=$rc
    done
    return $failed
}
# bench-facs per configuration (facs_configs): the default plans, the classic
# kernels, and the resident kernels with 1 to 4 images a cluster where they
# fit (each plan on stderr, into the log).
facs_bench() {
    local config setting
    for config in $facs_configs; do
        case $config in
        classic) setting=FACS_CUDA_FACS_KERNELS=classic ;;
        images*) setting=FACS_CUDA_RESIDENT_IMAGES=${config#images} ;;
        *) setting=FACS_CUDA_FACS_KERNELS=resident ;;
        esac
        echo "== $config: $setting"
        env FACS_CUDA_FACS_VERBOSE=1 "$setting" timeout --foreground -k 5 40 "$build/bench-facs" --device cuda \
            --batch 64 --runs 5 --warmup 3 >"$work/facs_$config.json"
    done
}
export -f facs_cases facs_bench
export build work

# pack ARCHIVE PATTERN...: the files and folders of the work folder that match,
# into OUT/ARCHIVE.tar.gz (no archive where none match).
pack() {
    local archive=$1 found
    shift
    found=$(cd "$work" && for p in "$@"; do ls -d $p 2>/dev/null; done)
    [ -z "$found" ] || tar -czf "$out/$archive.tar.gz" -C "$work" $found
}

{
    cat "$build/BUILD_INFO" 2>/dev/null || echo "no BUILD_INFO: stage the build with tools/device_run.sh --build"
    for p in $programs; do
        [ -x "$build/$p" ] || echo "program $p: missing from $build (tools/device_run.sh --build stages it)"
    done
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1
    link_libraries
} >>"$summary" 2>&1
cat "$summary"

facs_configs="resident classic images1 images2 images3 images4"
step facs_cases 150 "$out/facs_cases.txt" facs_cases
# Resident kernels that fail their cases would fail the networks and the
# benchmarks too: the later steps then take the classic kernels, so that the
# session still measures everything else.
# (Exit 77: no usable device, so nothing to learn from either path.)
if [ -f "$out/facs_cases.txt" ] && ! grep -qxE "FACS_CUDA_FACS_KERNELS=resident: exit (0|77)" "$out/facs_cases.txt"
then
    export FACS_CUDA_FACS_KERNELS=classic
    facs_configs=classic
    echo "the resident FACS kernels failed their cases: the steps after them take the classic kernels" |
        tee -a "$summary"
fi
export facs_configs
step facs_bench 100 "$work/facs_bench.log" facs_bench
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
step gpu_check 240 "$work/gpu_check.log" env QUICK=1 STEP_TIMEOUT=100 "$root/tools/gpu_check.sh" "$build" \
    "$work/gpu_check"
pack gpu_check gpu_check.log gpu_check
step bench_gpu "$deadline" "$work/bench_gpu.log" env RESULTS="$work/results" GPU_FACS_KERNELS= \
    "$root/bench/run_bench.sh" gpu "$build"
pack bench_results bench_gpu.log results
echo "total $(($(date +%s) - start)) s" | tee -a "$summary"
