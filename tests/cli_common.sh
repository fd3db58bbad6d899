#!/bin/sh
# What every command-line tool does alike: -h is --help (exit 0, the usage on
# stdout), and an unknown option is named under the program's name, not the
# path it was started by (getopt's own message, as the tools' other messages
# read), with exit 2.
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
finish
