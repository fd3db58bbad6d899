/* The checks of test_backend_ops that concern a whole backend rather than
 * one op case: run once on every selected backend, before the table, each
 * printing one line as a case does. */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

typedef struct {
    const char *label;
    /* The backend entries it calls: -o picks the check by any of them, and
     * tools/check_backend_ops_coverage.sh reads them as it reads the table's. */
    const char *entries;
    void (*run)(facs_ctx *ctx, const char *alloc_names);
} backend_check;

/* An allocation the device cannot satisfy must fail with a message naming
 * the allocator (alloc_names: the backend's word for it), and leave nothing
 * behind that a later call would report as its own failure. */
static void alloc_failure(facs_ctx *ctx, const char *alloc_names)
{
    const facs_backend *be = ctx->backend;
    facs_clear_error();
    void *huge = be->alloc((size_t)1 << 62);
    if (!bo_check(huge == NULL, "alloc of 4 EiB succeeded")) {
        be->free(huge);
        return;
    }
    bo_check(strstr(facs_last_error(), alloc_names) != NULL, "the failed alloc's message does not name %s: '%s'",
             alloc_names, facs_last_error());
    /* The largest sizes, where rounding up to an alignment would wrap to a tiny block. */
    const size_t largest[] = {SIZE_MAX - 62, SIZE_MAX - 1, SIZE_MAX};
    for (size_t i = 0; i < sizeof largest / sizeof *largest; i++) {
        size_t bytes = largest[i];
        void *wrapped = be->alloc(bytes), *staging = be->host_alloc(bytes);
        bo_check(!wrapped && !staging, "alloc or host_alloc of %zu bytes succeeded", bytes);
        if (wrapped)
            be->free(wrapped);
        if (staging)
            be->host_free(staging);
    }
    enum { COUNT = 64 };
    float host[COUNT];
    for (int i = 0; i < COUNT; i++)
        host[i] = (float)i;
    float *dev = be->alloc(sizeof host);
    if (!bo_check(dev != NULL, "alloc after a failed alloc failed: %s", facs_last_error()))
        return;
    if (bo_check_ok(be->fill_zero(dev, sizeof host), "fill_zero after a failed alloc", NULL) &&
        bo_check_ok(be->copy_from_host(dev, host, sizeof host / 2), "copy_from_host after a failed alloc", NULL) &&
        bo_check_ok(be->axpy(COUNT / 2, 2.0f, dev, dev + COUNT / 2), "axpy after a failed alloc", NULL) &&
        bo_check_ok(be->sync(), "sync after a failed alloc", NULL) &&
        bo_check_ok(be->copy_to_host(host, dev, sizeof host), "copy_to_host after a failed alloc", NULL)) {
        int wrong = 0;
        for (int i = 0; i < COUNT / 2; i++)
            wrong += host[i] != (float)i || host[COUNT / 2 + i] != 2.0f * (float)i;
        bo_check(!wrong, "%d of %d values wrong after a failed alloc", wrong, COUNT);
    }
    be->free(dev);
    facs_clear_error(); /* the failure was wanted: no later message may quote it */
}

/* A byte pattern with no period of 2, 4 or 8 bytes. */
static void byte_pattern(unsigned char *dst, size_t bytes, unsigned salt)
{
    for (size_t i = 0; i < bytes; i++)
        dst[i] = (unsigned char)((i * 2654435761u + salt * 40503u) >> 13);
}

/* ODD_BYTES is over the 1 MiB from which the CPU's copy splits into one part
 * per thread (cpu_backend.c), so the parts' ends fall on odd bytes too. */
enum { ODD_BYTES = (3 << 20) + 3, MARGIN = 8, SRC_AT = MARGIN - 1, DST_AT = MARGIN + 1 };

/* The whole buffer: the pattern of salt around [at, at + ODD_BYTES), want inside. */
static void check_landed(const facs_backend *be, const unsigned char *dev, unsigned salt, size_t at,
                         const unsigned char *want, const char *what)
{
    const size_t total = ODD_BYTES + 2 * MARGIN;
    unsigned char *got = bo_xmalloc(total), *around = bo_xmalloc(total);
    byte_pattern(around, total, salt);
    if (bo_check_ok(be->copy_to_host(got, dev, total), "copy_to_host", what)) {
        bo_check(!memcmp(got, around, at) && !memcmp(got + at + ODD_BYTES, around + at + ODD_BYTES,
                                                     total - at - ODD_BYTES),
                 "%s: bytes next to the copied range changed", what);
        bo_check(!memcmp(got + at, want, ODD_BYTES), "%s: the copied bytes differ", what);
    }
    free(got);
    free(around);
}

/* ODD_BYTES (no whole number of floats) from the host to an odd device
 * address, from there to another odd one, and back to an odd host address:
 * a copy that rounds to whole words, or assumes aligned ends, writes the
 * bytes next to a destination or loses the last ones. */
static void odd_copies(facs_ctx *ctx, const char *alloc_names)
{
    (void)alloc_names;
    const facs_backend *be = ctx->backend;
    const size_t total = ODD_BYTES + 2 * MARGIN;
    unsigned char *src = bo_xmalloc(ODD_BYTES), *pattern = bo_xmalloc(total), *back = bo_xmalloc(ODD_BYTES + 1);
    byte_pattern(src, ODD_BYTES, 3);
    unsigned char *a = be->alloc(total), *b = be->alloc(total);
    if (bo_check(a && b, "alloc failed: %s", facs_last_error())) {
        byte_pattern(pattern, total, 1);
        int ok = bo_check_ok(be->copy_from_host(a, pattern, total), "copy_from_host", "a");
        byte_pattern(pattern, total, 2);
        ok = ok && bo_check_ok(be->copy_from_host(b, pattern, total), "copy_from_host", "b") &&
             bo_check_ok(be->copy_from_host(a + SRC_AT, src, ODD_BYTES), "copy_from_host", "an odd address") &&
             bo_check_ok(be->copy(b + DST_AT, a + SRC_AT, ODD_BYTES), "copy", "odd addresses") &&
             bo_check_ok(be->copy_to_host(back + 1, b + DST_AT, ODD_BYTES), "copy_to_host", "an odd address");
        if (ok) {
            bo_check(!memcmp(back + 1, src, ODD_BYTES), "the bytes differ after host -> device -> device -> host");
            check_landed(be, a, 1, SRC_AT, src, "copy_from_host");
            check_landed(be, b, 2, DST_AT, src, "copy");
        }
    }
    be->free(a);
    be->free(b);
    free(src);
    free(pattern);
    free(back);
}

/* A device tensor of ctx holding host's count floats (NULL after a failed check). */
static facs_tensor *uploaded(facs_ctx *ctx, const float *host, int count)
{
    facs_tensor *t = facs_ctx_tensor(ctx, FACS_F32, 1, count, 1, 1);
    if (!bo_check(t != NULL, "tensor: %s", facs_last_error()) ||
        !bo_check_ok(facs_tensor_upload(t, host, facs_tensor_bytes(t)), "upload", NULL))
        return NULL;
    return t;
}

/* t's values against want's, bit for bit. */
static void same_bits(const facs_tensor *t, const facs_tensor *want, const char *what)
{
    size_t bytes = facs_tensor_bytes(t);
    float *got = bo_xmalloc(bytes), *ref = bo_xmalloc(bytes);
    if (bo_check_ok(facs_tensor_download(t, got, bytes), "download", what) &&
        bo_check_ok(facs_tensor_download(want, ref, bytes), "download", what))
        bo_check(!memcmp(got, ref, bytes), "%s in place differs from the same call into another tensor", what);
    free(got);
    free(ref);
}

/* backend.h lets activation_forward (y == x) and add_forward (y == a or
 * y == b) run in place (the fused BN tail of ops.h does): each must give
 * what it gives into a separate tensor. A vectorised loop that reads ahead
 * of what it has written, or a kernel whose pointers are declared not to
 * alias, would differ. Odd length, NaN and values at the ReLU kinks. */
static void in_place(facs_ctx *ctx, const char *alloc_names)
{
    (void)alloc_names;
    enum { COUNT = 70001 };
    float *a = bo_xmalloc(COUNT * sizeof *a), *b = bo_xmalloc(COUNT * sizeof *b);
    for (int i = 0; i < COUNT; i++) {
        a[i] = i % 7 == 0 ? (float)(i % 3) * 3.0f : (float)bo_uniform(-8, 8);
        b[i] = (float)bo_uniform(-8, 8);
    }
    a[11] = b[12] = NAN;
    facs_ctx_begin_step(ctx);
    const facs_activation acts[] = {FACS_ACT_RELU, FACS_ACT_RELU6, FACS_ACT_SIGMOID};
    const char *names[] = {"relu", "relu6", "sigmoid"};
    for (int k = 0; k < 3; k++) {
        facs_tensor *x = uploaded(ctx, a, COUNT), *y = facs_ctx_like(ctx, x);
        if (x && bo_check(y != NULL, "tensor: %s", facs_last_error()) &&
            bo_check_ok(ctx->backend->activation_forward(ctx, acts[k], x, y), names[k], "into y") &&
            bo_check_ok(ctx->backend->activation_forward(ctx, acts[k], x, x), names[k], "in place"))
            same_bits(x, y, names[k]);
    }
    const facs_post_act posts[] = {FACS_POST_NONE, FACS_POST_RELU, FACS_POST_RELU6};
    for (int into_b = 0; into_b < 2; into_b++)
        for (int k = 0; k < 3; k++) {
            facs_tensor *ta = uploaded(ctx, a, COUNT), *tb = uploaded(ctx, b, COUNT);
            facs_tensor *y = ta ? facs_ctx_like(ctx, ta) : NULL;
            if (ta && tb && bo_check(y != NULL, "tensor: %s", facs_last_error()) &&
                bo_check_ok(ctx->backend->add_forward(ctx, ta, tb, posts[k], y), "add", "into y") &&
                bo_check_ok(ctx->backend->add_forward(ctx, ta, tb, posts[k], into_b ? tb : ta), "add", "in place"))
                same_bits(into_b ? tb : ta, y, into_b ? "add into b" : "add into a");
        }
    facs_ctx_begin_step(ctx);
    free(a);
    free(b);
}

static const backend_check checks[] = {
    {.label = "memory: failed alloc, then the backend still works",
     .entries = "alloc free fill_zero copy_from_host axpy sync copy_to_host", .run = alloc_failure},
    {.label = "memory: 3 MiB + 3 bytes between odd addresses", .entries = "alloc free copy_from_host copy copy_to_host",
     .run = odd_copies},
    {.label = "elementwise: activations and add in place", .entries = "activation_forward add_forward",
     .run = in_place},
};

static int check_selected(const backend_check *c, const char *op)
{
    return !op || bo_word_in(op, strlen(op), c->entries);
}

size_t bo_backend_checks_selected(const char *op)
{
    size_t n = 0;
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
        n += check_selected(&checks[i], op);
    return n;
}

void bo_run_backend_checks(const char *op, const char *backend, facs_ctx *ctx, const char *alloc_names)
{
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        if (!check_selected(&checks[i], op))
            continue;
        bo_run_begin(backend);
        checks[i].run(ctx, alloc_names);
        bo_run_end(checks[i].label, "once per backend");
    }
}
