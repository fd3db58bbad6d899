/* libFuzzer target for the CIFAR record parser (datasets/cifar.c): every input
 * is parsed as a CIFAR-10 and as a CIFAR-100 data file through
 * facs_cifar_parse, the code facs_cifar_load runs on every chunk it reads.
 * Besides memory errors (ASan, UBSan), a successful parse must keep the
 * header's promises, checked here against the input bytes: a parser that lets
 * an out-of-range label through, or misplaces a plane, aborts. A failed parse
 * must leave *ds empty. Built and run by tests/fuzz/run_fuzz.sh. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "cifar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PLANE (FACS_CIFAR_SIDE * FACS_CIFAR_SIDE)

static void check(const facs_cifar *ds, int kind, const uint8_t *data, size_t size)
{
    size_t head = kind == FACS_CIFAR_100 ? 2 : 1, record = head + FACS_CIFAR_PIXELS;
    if (ds->kind != kind || ds->num_classes != kind || ds->count <= 0 || (size_t)ds->count * record != size)
        abort();
    for (int i = 0; i < ds->count; i++) {
        const uint8_t *rec = data + (size_t)i * record;
        const uint8_t *img = ds->images + (size_t)i * FACS_CIFAR_PIXELS;
        if (ds->labels[i] >= kind || ds->labels[i] != rec[head - 1])
            abort();
        if (kind == FACS_CIFAR_100 && (ds->coarse_labels[i] >= 20 || ds->coarse_labels[i] != rec[0]))
            abort();
        /* Every pixel: HWC from the R, G and B planes (this also reads the
         * whole image buffer, so a short allocation shows up in ASan). */
        for (int p = 0; p < PLANE; p++)
            for (int c = 0; c < 3; c++)
                if (img[3 * p + c] != rec[head + (size_t)c * PLANE + (size_t)p])
                    abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int kinds[2] = {FACS_CIFAR_10, FACS_CIFAR_100};
    for (int k = 0; k < 2; k++) {
        facs_cifar ds;
        if (facs_cifar_parse(data, size, kinds[k], "fuzz.bin", &ds) == FACS_OK)
            check(&ds, kinds[k], data, size);
        else if (ds.count || ds.images || ds.labels || ds.coarse_labels)
            abort();
        facs_cifar_free(&ds);
    }
    return 0;
}
