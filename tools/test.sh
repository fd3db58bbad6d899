#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: installs what is missing,
# builds (with the CUDA backend when nvcc and cuDNN are present, warnings as
# errors), runs every test, then rebuilds and reruns the suite under
# AddressSanitizer + UndefinedBehaviorSanitizer. --quick skips the sanitizer pass.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sanitize=1
. "$root/tools/script_help.sh"
script_help "$0" "$@"
case "$*" in
"") ;;
--quick) sanitize=0 ;;
*) echo "usage: tools/test.sh [--quick]" >&2 && exit 2 ;;
esac

# One CUDA architecture is enough to compile-check the kernels (CI has no GPU)
# and halves nvcc's share of the suite's time.
"$root/tools/setup.sh" "$root/build" -DCMAKE_BUILD_TYPE=Release -DFACS_WERROR=ON -DFACS_CUDA=AUTO \
  -DCMAKE_CUDA_ARCHITECTURES=90
(cd "$root/build" && ctest --output-on-failure -j 2)

if [ $sanitize -eq 1 ]; then
  "$root/tools/setup.sh" "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug -DFACS_WERROR=ON -DFACS_CUDA=OFF -DFACS_SANITIZE=ON
  # oneDNN and libgomp keep thread pools alive at exit; those are not our leaks.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  # The fuzz targets are sanitizer builds of their own: once is enough. Long
  # runs labelled release_only run in the release pass only: their code runs
  # sanitized in shorter tests (tests/CMakeLists.txt). The PyTorch reference
  # files (fixtures ref_*, a minute of torch per pass) are the release pass's,
  # fresh from a moment ago, with the data folders beside them: the sanitized
  # tests read the same files.
  mkdir -p "$root/build-asan/ref"
  cp -R "$root/build/ref/." "$root/build-asan/ref/"
  (cd "$root/build-asan" && ctest --output-on-failure -j 2 -LE "fuzz|release_only" -E "^ref_" -FS "^ref_")
fi
