#!/bin/sh
# Fuzzes the PNG and JPEG decoders (datasets/png.c, datasets/jpeg.c), the
# CIFAR record parser (datasets/cifar.c) and the label-map path (PNG label
# decoding + Cityscapes labelIds -> trainIds) with libFuzzer under
# AddressSanitizer and UndefinedBehaviorSanitizer.
#
#   tests/fuzz/run_fuzz.sh [SECONDS]     (default 10 seconds per target)
#
# Builds each target (fuzz_png.c, fuzz_jpeg.c, fuzz_cifar.c, fuzz_label.c) with
# clang directly, seeds its corpus with small valid inputs written by our own
# encoders (images, CIFAR-10/100 records, labelIds maps), runs it for the
# given time and fails on any crash, leak, timeout or sanitizer report. The
# last line is "N passed, N failed"; on a failure the log and the crashing
# input stay in the temporary folder it names. Needs clang and libFuzzer (Debian:
# clang and libclang-rt-14-dev); without them it says so and exits 1.
set -u
secs=${1:-10}
case $secs in '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;; esac
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
CC=${CLANG:-clang}
if ! command -v "$CC" >/dev/null 2>&1; then
    echo "run_fuzz: $CC not found; install clang and libclang-rt-14-dev" >&2
    exit 1
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/facs-fuzz.XXXXXX") || exit 1

cat >"$work/probe.c" <<'PROBE'
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { (void)data; (void)size; return 0; }
PROBE
if ! "$CC" -fsanitize=fuzzer,address,undefined "$work/probe.c" -o "$work/probe" 2>"$work/probe.log"; then
    echo "run_fuzz: $CC cannot link -fsanitize=fuzzer (libFuzzer missing; install libclang-rt-14-dev):" >&2
    cat "$work/probe.log" >&2
    rm -rf "$work"
    exit 1
fi

# Seeds: small gray, RGB and RGBA PNGs and gray and RGB JPEGs of odd sizes;
# gray PNG label maps of labelIds (0..40: valid ids, void ids and values above
# 33); CIFAR-10 files of 1 and 2 records and a CIFAR-100 file of 1 record.
cat >"$work/seeds.c" <<'SEEDS'
#include <stdio.h>
#include <stdlib.h>
#include "image.h"
int main(int argc, char **argv)
{
    static const int sizes[3][2] = {{1, 1}, {8, 8}, {17, 11}};
    char path[4096];
    for (int s = 0; s < 3; s++)
        for (int c = 1; c <= 4; c++) {
            if (c == 2)
                continue;
            int w = sizes[s][0], h = sizes[s][1];
            facs_image img = {w, h, c, malloc((size_t)w * h * c)};
            for (int i = 0; i < w * h * c; i++)
                img.pixels[i] = (unsigned char)(i * 37 + s * 11);
            snprintf(path, sizeof path, "%s/png/seed_%d_%d.png", argv[1], s, c);
            if (facs_png_write(path, &img) != FACS_OK)
                return fprintf(stderr, "%s\n", facs_last_error()), 1;
            snprintf(path, sizeof path, "%s/jpeg/seed_%d_%d.jpg", argv[1], s, c);
            if (c != 4 && facs_jpeg_write(path, &img, 50 + 20 * s) != FACS_OK)
                return fprintf(stderr, "%s\n", facs_last_error()), 1;
            if (c == 1) {
                for (int i = 0; i < w * h; i++)
                    img.pixels[i] = (unsigned char)((i * 7 + s) % 41);
                snprintf(path, sizeof path, "%s/label/seed_%d.png", argv[1], s);
                if (facs_png_write(path, &img) != FACS_OK)
                    return fprintf(stderr, "%s\n", facs_last_error()), 1;
            }
            free(img.pixels);
        }
    /* CIFAR records: label byte(s), then the R, G and B planes. */
    static unsigned char rec[2 * (2 + 3072)];
    for (int i = 0; i < (int)sizeof rec; i++)
        rec[i] = (unsigned char)(i * 13 + 5);
    static const struct { const char *name; int head, records; } files[3] = {
        {"c10_1", 1, 1}, {"c10_2", 1, 2}, {"c100_1", 2, 1}};
    for (int f = 0; f < 3; f++) {
        size_t len = (size_t)files[f].records * (size_t)(files[f].head + 3072);
        for (int r = 0; r < files[f].records; r++) {
            unsigned char *head = rec + (size_t)r * (size_t)(files[f].head + 3072);
            head[0] = (unsigned char)(files[f].head == 2 ? 7 + r : 3 + r);
            if (files[f].head == 2)
                head[1] = (unsigned char)(42 + r);
        }
        snprintf(path, sizeof path, "%s/cifar/seed_%s.bin", argv[1], files[f].name);
        if (facs_file_write_atomic(path, rec, len) != FACS_OK)
            return fprintf(stderr, "%s\n", facs_last_error()), 1;
    }
    (void)argc;
    return 0;
}
SEEDS
srcs="$root/datasets/image.c $root/datasets/png.c $root/datasets/jpeg.c $root/datasets/cifar.c \
    $root/datasets/cityscapes.c $root/datasets/image_walk.c $root/kernels/status.c $root/kernels/atomic_file.c"
flags="-std=c11 -D_POSIX_C_SOURCE=200809L -I$root/datasets -I$root/kernels -g -O1"
mkdir -p "$work/png" "$work/jpeg" "$work/cifar" "$work/label"
if ! "$CC" $flags "$work/seeds.c" $srcs -lpng16 -lturbojpeg -o "$work/seeds" || ! "$work/seeds" "$work"; then
    echo "run_fuzz: could not build or write the seed images" >&2
    rm -rf "$work"
    exit 1
fi

# More seeds, e.g. the palette, interlaced and 16-bit files of tests/ref/ref_image.py:
# FACS_FUZZ_SEEDS=build/ref/image.h5.d tests/fuzz/run_fuzz.sh
if [ -n "${FACS_FUZZ_SEEDS:-}" ]; then
    find "$FACS_FUZZ_SEEDS" -maxdepth 1 -name '*.png' -size -64k -exec cp {} "$work/png/" \;
    find "$FACS_FUZZ_SEEDS" -maxdepth 1 -name '*.jpg' -size -64k -exec cp {} "$work/jpeg/" \;
    find "$FACS_FUZZ_SEEDS" -maxdepth 1 -name '*.png' -size -64k -exec cp {} "$work/label/" \;
fi

passed=0
failed=0
for target in png jpeg cifar label; do
    exe="$work/fuzz_$target"
    # FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION: png.c then ignores CRCs, so that
    # mutated inputs reach the decoder (the OSS-Fuzz convention).
    if ! "$CC" $flags -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -fsanitize=fuzzer,address,undefined \
        -fno-sanitize-recover=undefined \
        "$here/fuzz_$target.c" $srcs -lpng16 -lturbojpeg -o "$exe"; then
        echo "FAIL: fuzz_$target does not build"
        failed=$((failed + 1))
        continue
    fi
    # -rss_limit_mb: the decoders refuse images above 2^26 pixels (256 MiB as RGBA),
    # so 2 GiB is only exceeded by a leak or a runaway allocation.
    if (cd "$work" && "$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -artifact_prefix="$work/crash_$target-" "$work/$target" >"$work/fuzz_$target.log" 2>&1); then
        runs=$(grep -o 'Done [0-9]* runs' "$work/fuzz_$target.log" | tail -n 1)
        echo "ok: fuzz_$target, $secs s (${runs:-no run count})"
        passed=$((passed + 1))
    else
        echo "FAIL: fuzz_$target found a problem; log and reproducer in $work:"
        tail -n 40 "$work/fuzz_$target.log"
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
if [ "$failed" -eq 0 ]; then
    rm -rf "$work"
    exit 0
fi
exit 1
