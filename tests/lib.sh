# The shell tests' shared harness (POSIX sh). A test sources it with
#   . "$(dirname "$0")/lib.sh"
# counts its checks with ok/bad, and ends with finish, whose closing line
# "N passed, N failed" and exit status are what CTest reads.

passed=0
failed=0
# ok [WHAT]: a passed check (WHAT, when given, is printed as "ok: WHAT").
ok() {
    passed=$((passed + 1))
    [ $# -eq 0 ] || echo "ok: $*"
}
bad() {
    failed=$((failed + 1))
    echo "FAIL: $*"
}

# make_work NAME [DIR]: $work becomes DIR, else $TMPDIR/NAME.PID, empty.
make_work() {
    work=${2:-${TMPDIR:-/tmp}/$1.$$}
    rm -rf "$work"
    mkdir -p "$work"
}

# expect_rc WHAT WANT_RC GOT_RC (on a mismatch shows $work/err, where the
# tests send the command's stderr)
expect_rc() {
    if [ "$3" -eq "$2" ]; then
        ok
    else
        bad "$1: exit $3, want $2"
        [ ! -f "$work/err" ] || sed 's/^/    /' "$work/err"
    fi
}
# contains WHAT FILE NEEDLE
contains() { if grep -qF -- "$3" "$2"; then ok; else bad "$1: output lacks '$3'"; sed 's/^/    /' "$2"; fi; }

# expect_failure WANT WHAT TOOL NEEDLE... -- ARGS...: runs TOOL ARGS (stdout to
# $work/stdout, stderr to $work/err); wants exit status WANT (a number, or
# "nonzero") and every NEEDLE on stderr. Prints the message, for the log.
expect_failure() {
    want=$1 what=$2 cmd=$3
    shift 3
    needles=""
    while [ "$1" != "--" ]; do
        needles="$needles
$1"
        shift
    done
    shift
    "$cmd" "$@" >"$work/stdout" 2>"$work/err"
    rc=$?
    if [ "$want" != nonzero ]; then expect_rc "$what" "$want" $rc; elif [ $rc -ne 0 ]; then ok; else bad "$what: exit 0"; fi
    echo "$what (exit $rc): $(cat "$work/err")"
    echo "$needles" | while IFS= read -r n; do
        [ -z "$n" ] || grep -qF -- "$n" "$work/err" || echo "$n"
    done >"$work/missing"
    if [ -s "$work/missing" ]; then bad "$what: message lacks $(tr '\n' ' ' <"$work/missing")"; else ok; fi
}

# unprivileged CMD ARGS...: CMD as a user whom permissions stop (nobody, when
# this runs as root, whom they do not), for the checks of unwritable folders.
# can_run_unprivileged FILE...: whether that user can read every FILE (and
# so reach it: a build folder below a private one would not); a test that
# cannot says "skipped" instead of a check it could not make.
unprivileged() {
    if [ "$(id -u)" = 0 ]; then setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; else "$@"; fi
}
can_run_unprivileged() {
    for f in "$@"; do
        unprivileged test -r "$f" || { echo "skipped (an unprivileged user cannot read $f)"; return 1; }
    done
}

# device_refusals TOOL ARGS...: TOOL ARGS (a command line that would run)
# with a --device it must refuse, each with a non-zero exit and a message
# naming the problem: an unknown name and a bad cuda:N index (refused command
# lines, exit 2), and cuda with every GPU hidden (CUDA_VISIBLE_DEVICES
# empty), which a build without the CUDA backend refuses by name (exit 2) and
# a build with it for want of a device (exit 1), so the case holds on any
# machine.
device_refusals() {
    dr_tool=$1
    shift
    expect_failure 2 "--device bogus" "$dr_tool" "--device bogus: expected cpu, cuda or cuda:N" -- "$@" --device bogus
    for dr_index in x -1 ""; do
        expect_failure 2 "--device cuda:$dr_index" "$dr_tool" \
            "--device cuda:$dr_index: N in cuda:N must be a device index" -- "$@" --device "cuda:$dr_index"
    done
    expect_failure nonzero "--device cuda, no GPU visible" env "--device cuda: " "CUDA" -- \
        CUDA_VISIBLE_DEVICES= "$dr_tool" "$@" --device cuda
}

# mpi_device_refusals OUT CMD...: CMD (ranks under mpirun: a command line
# that would run once given --out) with --device cuda:1, and with --device
# cuda while no GPU is visible, must each fail naming why and leave OUT
# absent. A build with NCCL refuses cuda:N under mpirun (each rank takes the
# GPU of its local rank) and wants a GPU per rank; one without NCCL refuses
# CUDA tensors over ranks; one without CUDA refuses the device name.
mpi_device_refusals() {
    mdr_out=$1
    shift
    for mdr_device in cuda:1 cuda; do
        if (CUDA_VISIBLE_DEVICES= && export CUDA_VISIBLE_DEVICES && "$@" --device "$mdr_device" --out "$mdr_out") \
            >"$work/mdr.out" 2>&1; then
            bad "--device $mdr_device under mpirun ran"
        elif grep -qE "each rank takes the GPU of its rank|one GPU per rank|need NCCL|no CUDA backend" "$work/mdr.out"; then
            ok "--device $mdr_device under mpirun refused"
        else
            bad "--device $mdr_device under mpirun: $(cat "$work/mdr.out")"
        fi
        [ ! -e "$mdr_out" ] && ok || bad "--device $mdr_device under mpirun created OUT"
    done
}

# compare_h5 WHAT REF GOT [TOL]: GOT's datasets against REF's (tests/compare_h5.py),
# within TOL (default 1e-4) normwise relative error each; prints the worst.
compare_h5() {
    if /usr/bin/python3 "$(dirname "$0")/compare_h5.py" "$2" "$3" "${4:-1e-4}" >"$work/cmp" 2>&1; then
        ok
        echo "$1: $(cat "$work/cmp")"
    else
        bad "$1 differs from PyTorch"
        sed 's/^/    /' "$work/cmp"
    fi
}

# finish: the closing line; $work is removed when every check passed (kept
# for inspection otherwise). Its status is the test's.
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ] || return 1
    rm -rf "$work"
}
