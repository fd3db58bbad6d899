#!/bin/sh
# Under mpirun: CMD on every rank, with EXTRA (split into options) added on
# rank 1 only, for the checks of ranks started unalike.
# usage: mpiexec -np 2 sh tests/on_rank1.sh "EXTRA" -- CMD...
extra=$1
shift 2
# shellcheck disable=SC2086
if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then exec "$@" $extra; else exec "$@"; fi
