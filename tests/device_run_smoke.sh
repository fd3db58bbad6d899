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
    "the steps after them take the classic kernels"
contains "the step says its cases failed" "$work/stub_out/summary.txt" "facs_cases: exit 1 in"
if grep -q "^images1 " "$work/stub_out/summary.txt"; then
    bad "after the resident cases failed, the group-size sweep still ran (on the classic kernels, under its labels)"
else ok; fi

# Past its deadline no step starts (each step's limit is what is left of it).
DEADLINE=5 bash "$ROOT/tools/device_run.sh" "$work/stub" "$work/late_out" >"$work/late_stdout" 2>&1
contains "no step starts past the deadline" "$work/late_out/summary.txt" \
    "bench_gpu: not started (deadline of 5 s spent)"
DEADLINE=5 bash "$ROOT/tools/device_run.sh" "$work/stub" "$work/late_out" >"$work/late_stdout" 2>&1
[ "$(grep -c "^total " "$work/late_out/summary.txt")" = 1 ] && ok || bad "a second run appended to the first's summary"

bash "$ROOT/tools/device_run.sh" "$work/no_build" "$work/no_build_out" >"$work/stdout" 2>"$work/err"
expect_rc "a BUILD without the programs" 2 $?
contains "a BUILD without the programs: message" "$work/err" "holds none of the programs"
[ ! -e "$work/no_build_out" ] && ok || bad "a BUILD without the programs made OUT"

# A program whose shared library the image lacks starts with the staged one
# (libs.tar.xz, as --build makes it), and a library found nowhere is named.
mkdir -p "$work/libs/tests" "$work/libs_src/lib"
printf 'int facs_stub_staged(void) { return 0; }\n' >"$work/libs_src/staged.c"
printf 'int facs_stub_absent(void) { return 0; }\n' >"$work/libs_src/absent.c"
printf 'int facs_stub_staged(void);\nint main(void) { return facs_stub_staged(); }\n' >"$work/libs_src/main.c"
${CC:-cc} -shared -fPIC -Wl,-soname,libfacs_stub_staged.so.1 -o "$work/libs_src/lib/libfacs_stub_staged.so.1" \
    "$work/libs_src/staged.c"
${CC:-cc} -shared -fPIC -Wl,-soname,libfacs_stub_absent.so.1 -o "$work/libs_src/libfacs_stub_absent.so.1" \
    "$work/libs_src/absent.c"
${CC:-cc} -o "$work/libs/tests/test_backend_ops" "$work/libs_src/main.c" "$work/libs_src/lib/libfacs_stub_staged.so.1"
${CC:-cc} -o "$work/libs/tests/test_cuda_networks" "$work/libs_src/main.c" \
    "$work/libs_src/lib/libfacs_stub_staged.so.1" -Wl,--no-as-needed "$work/libs_src/libfacs_stub_absent.so.1"
tar -cJf "$work/libs/libs.tar.xz" -C "$work/libs_src" lib
STEP_TIMEOUT=30 bash "$ROOT/tools/device_run.sh" "$work/libs" "$work/libs_out" >"$work/libs_stdout" 2>&1
contains "a missing library comes from the staged ones" "$work/libs_out/summary.txt" \
    "library libfacs_stub_staged.so.1: staged"
contains "and the program that needs it starts" "$work/libs_out/facs_cases.txt" "FACS_CUDA_FACS_KERNELS=resident: exit 0"
contains "a library found nowhere is named" "$work/libs_out/summary.txt" "library libfacs_stub_absent.so.1: NOT FOUND"
contains "as the programs not staged" "$work/libs_out/summary.txt" "program bench-conv: missing from"
contains "a build without BUILD_INFO says so" "$work/libs_out/summary.txt" "no BUILD_INFO"
for archive in facs_bench gpu_check bench_results; do
    if tar -tzf "$work/out/$archive.tar.gz" >/dev/null 2>&1; then ok; else bad "$archive.tar.gz missing or unreadable"; fi
done
contains "the run's total" "$work/out/summary.txt" "total "
finish
