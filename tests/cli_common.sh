#!/bin/sh
# What every command-line tool does alike: -h is --help (exit 0, the usage on
# stdout), and an unknown option is named under the program's name, not the
# path it was started by (getopt's own message, as the tools' other messages
# read), with exit 2. The scripts answer --help with their usage (exit 0); an
# argument tools/test.sh does not know is refused (it ran the whole suite).
# usage: cli_common.sh PATH/TO/TOOL...
set -u
here=$(dirname "$0")
. "$here/lib.sh"
make_work cli_common ""

for tool in "$@"; do
    name=$(basename "$tool")
    "$tool" -h >"$work/out" 2>"$work/err"
    expect_rc "$name -h" 0 $?
    contains "$name -h" "$work/out" "usage: $name"
    "$tool" --no-such-option >"$work/out" 2>"$work/err"
    expect_rc "$name --no-such-option" 2 $?
    contains "$name --no-such-option" "$work/err" "$name: unrecognized option '--no-such-option'"
done
for script in tools/test.sh tools/demo.sh tools/setup.sh tools/gpu_check.sh tools/device_run.sh bench/run_bench.sh \
    bench/run_parallel.sh; do
    bash "$here/../$script" --help >"$work/out" 2>"$work/err"
    expect_rc "$script --help" 0 $?
    [ "$(wc -l <"$work/out")" -ge 3 ] && ok || bad "$script --help: no usage"
done
bash "$here/../tools/test.sh" --quik >"$work/out" 2>"$work/err"
expect_rc "tools/test.sh --quik" 2 $?
contains "tools/test.sh --quik" "$work/err" "usage: tools/test.sh [--quick]"
finish
