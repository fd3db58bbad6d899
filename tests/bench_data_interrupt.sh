#!/bin/sh
# bench-data's synthetic data (tens of MB under TMPDIR) is removed when a
# SIGINT or SIGTERM ends the run midway, as at its normal end: a Ctrl-C left
# it behind. The signal goes to bench-data's own pid, as a supervisor's would
# (a terminal's Ctrl-C reaches its child too).
# usage: bench_data_interrupt.sh PATH/TO/bench-data
set -u
tool=${1:?usage: bench_data_interrupt.sh PATH/TO/bench-data}
here=$(dirname "$0")
. "$here/lib.sh"
make_work bench_data_interrupt ""

for sig in INT TERM; do
    mkdir -p "$work/tmp$sig"
    TMPDIR=$work/tmp$sig "$tool" --runs 50 >/dev/null 2>"$work/err" &
    pid=$!
    i=0
    while [ $i -lt 600 ] && [ -z "$(find "$work/tmp$sig" -name "*.bin" 2>/dev/null)" ]; do
        sleep 0.05
        i=$((i + 1))
    done
    kill -$sig $pid
    wait $pid
    rc=$?
    [ $rc -ne 0 ] && ok || bad "SIG$sig: exit 0"
    [ -z "$(ls -A "$work/tmp$sig")" ] && ok "SIG$sig: the data is removed" || bad "SIG$sig left $(ls "$work/tmp$sig")"
done
finish
