#!/bin/sh
# Fails (exit 1, naming them) when an entry of the backend table has no case
# in test_backend_ops: every function-pointer field of struct facs_backend in
# kernels/backend.h, and every entry the CUDA table sets (`be.NAME =` in
# kernels/cuda/cuda_backend.cu), must be named by the .entries of some case
# or whole-backend check in tests/backend_ops/ (cases.c, cases_large.c,
# backend_checks.c).
#
# Usage: tools/check_backend_ops_coverage.sh [SOURCE_DIR]   (default: the repository of this script)
set -eu

root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
header=$root/kernels/backend.h
cuda=$root/kernels/cuda/cuda_backend.cu
tables=$root/tests/backend_ops
for f in "$header" "$tables/cases.c"; do
    [ -f "$f" ] || { echo "check_backend_ops_coverage: $f is missing" >&2; exit 1; }
done

# The body of struct facs_backend, comments removed, one declaration per line:
# each "(*NAME)(" is an entry.
entries=$(sed -n '/^typedef struct facs_backend {/,/^} facs_backend;/p' "$header" |
    sed -e 's://.*$::' | tr '\n' ' ' | sed -e 's:/\*[^*]*\*\+\([^/*][^*]*\*\+\)*/::g' |
    grep -o '( *\* *[A-Za-z_][A-Za-z0-9_]* *) *(' | sed -e 's/[(*) ]//g' | sort -u)
[ -n "$entries" ] || { echo "check_backend_ops_coverage: no entries found in $header" >&2; exit 1; }

# Entries the CUDA table sets; .name is the table's name, not an entry.
cuda_entries=
if [ -f "$cuda" ]; then
    cuda_entries=$(grep -o 'be\.[A-Za-z_][A-Za-z0-9_]* *=' "$cuda" | sed -e 's/^be\.//' -e 's/ *=$//' |
        grep -vx 'name' | sort -u)
fi

# Every word of every `.entries = "..."` string of the tables.
tagged=$(cat "$tables"/*.c | tr '\n' ' ' | grep -o '\.entries *= *"[^"]*"' | sed -e 's/^[^"]*"//' -e 's/"$//' |
    tr ' ' '\n' | grep -v '^$' | sort -u)

status=0
for e in $entries; do
    if ! printf '%s\n' "$tagged" | grep -qx "$e"; then
        echo "backend entry $e (kernels/backend.h) has no case in tests/backend_ops/"
        status=1
    fi
done
for e in $cuda_entries; do
    if ! printf '%s\n' "$entries" | grep -qx "$e"; then
        echo "cuda_backend.cu sets be.$e, which is not an entry of struct facs_backend"
        status=1
    elif ! printf '%s\n' "$tagged" | grep -qx "$e"; then
        echo "CUDA entry $e (kernels/cuda/cuda_backend.cu) has no case in tests/backend_ops/"
        status=1
    fi
done
if [ "$status" -eq 0 ]; then
    set -- $entries
    echo "check_backend_ops_coverage: all $# backend entries have cases"
fi
exit $status
