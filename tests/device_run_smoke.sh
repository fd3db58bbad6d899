#!/bin/sh
# tools/device_run.sh (a lent GPU session's one command) on a machine without
# a GPU, over this build: every step runs and says how it ended (the GPU ones
# fail or skip), the summary names them all, and the three archives and the
# FACS case log arrive, so the script cannot rot between GPU sessions.
# Usage: sh tests/device_run_smoke.sh BUILD_DIR
BUILD=${1:?usage: sh tests/device_run_smoke.sh BUILD_DIR}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$(dirname "$0")/lib.sh"
make_work device_run_smoke

STEP_TIMEOUT=120 bash "$ROOT/tools/device_run.sh" "$BUILD" "$work/out" >"$work/stdout" 2>"$work/err"
expect_rc "device_run.sh without a GPU" 0 $?
for step in facs_cases facs_bench gpu_check bench_gpu; do
    contains "summary line of $step" "$work/out/summary.txt" "$step: exit"
done
contains "gpu_check says no GPU (77)" "$work/out/summary.txt" "gpu_check: exit 77"
contains "the FACS cases ran on both kernel paths" "$work/out/facs_cases.txt" "FACS_CUDA_FACS_KERNELS=classic"
contains "and on the resident one in groups" "$work/out/facs_cases.txt" "FACS_CUDA_RESIDENT_IMAGES=3"
contains "each setting's exit status" "$work/out/facs_cases.txt" "FACS_CUDA_FACS_KERNELS=resident: exit "
if grep -q "take the classic kernels" "$work/out/summary.txt"; then
    bad "no FACS case failed (no GPU: skipped), yet the later steps were sent to the classic kernels"
else ok; fi

# A build whose resident FACS cases fail (a stub test_backend_ops): the steps
# after them take the classic kernels, and the summary says so.
mkdir -p "$work/stub/tests"
printf '#!/bin/sh
[ "$FACS_CUDA_FACS_KERNELS" = resident ] && echo "facs stub FAIL" && exit 1
exit 0
' \
    >"$work/stub/tests/test_backend_ops"
chmod +x "$work/stub/tests/test_backend_ops"
STEP_TIMEOUT=30 bash "$ROOT/tools/device_run.sh" "$work/stub" "$work/stub_out" >"$work/stub_stdout" 2>&1
contains "failed resident cases hand the later steps the classic kernels" "$work/stub_out/summary.txt" \
    "the steps after facs_bench take the classic kernels"

# Past its deadline no step starts (each step's limit is what is left of it).
DEADLINE=5 bash "$ROOT/tools/device_run.sh" "$work/stub" "$work/late_out" >"$work/late_stdout" 2>&1
contains "no step starts past the deadline" "$work/late_out/summary.txt" \
    "bench_gpu: not started (budget of 300 s or deadline of 5 s spent)"
for archive in facs_bench gpu_check bench_results; do
    if tar -tzf "$work/out/$archive.tar.gz" >/dev/null 2>&1; then ok; else bad "$archive.tar.gz missing or unreadable"; fi
done
contains "the run's total" "$work/out/summary.txt" "total "
finish
