#!/usr/bin/env bash
# The CUDA backend's checks in one command, on a machine with a CUDA device
# (docs/cuda.md "Tests"):
#
#     tools/gpu_check.sh BUILD OUT
#
# BUILD is a build configured with -DFACS_CUDA=ON; OUT receives one log per
# check and summary.txt. Runs, newest and least tried code first:
#   backend_ops     every op case on CUDA against the CPU backend (tests/backend_ops),
#                   with the ops.h/tape parity and the failed-alloc check
#   facs_classic    the FACS cases again with the classic kernels (FACS_CUDA_FACS_KERNELS=classic;
#                   the resident ones run wherever an image fits a cluster)
#   facs_groups     and with the resident kernels' clusters taking 3 images (FACS_CUDA_RESIDENT_IMAGES=3)
#   memcheck_facs,  compute-sanitizer memcheck and racecheck (shared memory) over the FACS cases
#   racecheck_facs
#   conv_graph      the conv2d cases through cuDNN's graph API (FACS_CUDNN_ALGO=graph), and with its
#   conv_graph_benchmark  plans timed (=graph_benchmark: another engine may win)
#   networks        every architecture and PSPNet, eval and train, CUDA against CPU
#   tools           the command-line tools with --device cuda end to end (tests/gpu_tools.sh)
#   comm_device     the NCCL transport's collectives, buckets and broadcast on one GPU
#   racecheck_facs_groups, racecheck_facs_classic   racecheck with the two other FACS settings
#   memcheck_ops    memcheck over all op cases (not with QUICK=1: the slowest)
# Exits 0 when every check passed, 1 otherwise; 77 when no GPU is present.
# STEP_TIMEOUT (seconds, default 600) bounds each check; QUICK=1 leaves out
# memcheck_ops, the slowest.
set -u
. "$(dirname "$0")/script_help.sh"
script_help "$0" "$@"
if [ $# -ne 2 ]; then
    echo "usage: $0 BUILD OUT" >&2
    exit 2
fi
build=$1
out=$2
mkdir -p "$out"
summary="$out/summary.txt"
: >"$summary"
failed=0

if ! nvidia-smi -L >"$out/gpu.txt" 2>&1; then
    echo "gpu_check: no CUDA device (nvidia-smi failed)" >&2
    exit 77
fi
cat "$out/gpu.txt"

# run NAME COMMAND...: the command's output goes to OUT/NAME.log; one summary line.
# The check's timeout runs it in a process group of its own and ends the
# whole group (a script's programs too); a TERM from a caller's own timeout
# (tools/device_run.sh's) is passed on to it, so nothing is left running.
run() {
    local name=$1
    shift
    local start end rc pid
    start=$(date +%s%N)
    timeout -k 5 "${STEP_TIMEOUT:-600}" "$@" >"$out/$name.log" 2>&1 &
    pid=$!
    trap 'kill -TERM $pid 2>/dev/null; wait $pid; exit 143' TERM
    wait $pid
    rc=$?
    trap - TERM
    end=$(date +%s%N)
    local verdict=ok
    [ $rc -eq 77 ] && verdict=skipped
    [ $rc -eq 0 ] || [ $rc -eq 77 ] || { verdict="FAILED (exit $rc)"; failed=1; }
    printf '%-22s %-18s %6d ms  %s\n' "$name" "$verdict" $(((end - start) / 1000000)) "$*" | tee -a "$summary"
    tail -n 3 "$out/$name.log" | sed 's/^/    /'
}

ops="$build/tests/test_backend_ops"
sanitize=
command -v compute-sanitizer >/dev/null && sanitize="compute-sanitizer --error-exitcode 1 --print-limit 20"
# sanitized NAME TOOL [ENV...]: compute-sanitizer's TOOL over the FACS cases (with ENV set)
sanitized() {
    local name=$1 tool=$2
    shift 2
    if [ -z "$sanitize" ]; then
        echo "$name: compute-sanitizer not found, skipped" | tee -a "$summary"
        return
    fi
    local report=
    [ "$tool" = racecheck ] && report="--racecheck-report hazard"
    run "$name" env "$@" $sanitize --tool "$tool" $report "$ops" -b cuda -o facs
}

# In order of what is newest and least tried: the first GPU run of a kernel
# comes with its sanitizers before the checks that only use it.
run backend_ops "$ops" -b cuda
run facs_classic env FACS_CUDA_FACS_KERNELS=classic "$ops" -b cuda -o facs
run facs_groups env FACS_CUDA_RESIDENT_IMAGES=3 "$ops" -b cuda -o facs
sanitized memcheck_facs memcheck
sanitized racecheck_facs racecheck
# The convolutions again through cuDNN's graph API (conv2d_graph.cu; its
# refusals are notes in the log, those shapes take the legacy API)
for algos in graph graph_benchmark; do
    run "conv_$algos" env FACS_CUDNN_ALGO=$algos "$ops" -b cuda -o conv2d
    echo "    conv_$algos: $(grep -c 'the legacy cuDNN API runs it' "$out/conv_$algos.log") shape directions" \
        "refused by the graph API (on the legacy API instead; the log says why)" | tee -a "$summary"
done
run networks "$build/tests/test_cuda_networks"
# facs-finetune, facs-run, facs-gradcam, pspnet-train and pspnet-eval with --device cuda, against the CPU
run tools sh "$(dirname "$0")/../tests/gpu_tools.sh" "$build" "$out/tools"
# NCCL on device memory, one rank (a build without NCCL skips it)
run comm_device "$build/tests/test_comm_device"
sanitized racecheck_facs_groups racecheck FACS_CUDA_RESIDENT_IMAGES=3
sanitized racecheck_facs_classic racecheck FACS_CUDA_FACS_KERNELS=classic
# The whole table includes the failed-alloc check, whose cudaMalloc error is
# on purpose; the test itself fails on any other API error (it checks every
# call's status), so memcheck need not report them.
[ -n "${QUICK:-}" ] || [ -z "$sanitize" ] ||
    run memcheck_ops $sanitize --tool memcheck --report-api-errors no "$ops" -b cuda
exit $failed
