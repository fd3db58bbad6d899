/* Families of the memory entries (axpy, copy, fill_zero, the round trip
 * through the allocations and copies, count_non_finite) and of sgd_update:
 * forward only, the "forward" being the entry itself. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bops.h"

enum { MX, MY };

static void describe_count(const bo_case *k, char *buf, size_t size)
{
    snprintf(buf, size, "%d floats", k->n);
}

static int draw_x_y(const bo_case *k, bo_problem *pb)
{
    bo_fill(bo_f32(pb, MX), bo_numel(&pb->t[MX]), k->lo, k->hi);
    bo_fill(bo_f32(pb, MY), bo_numel(&pb->t[MY]), k->lo, k->hi);
    return 1;
}

/* ---- axpy ----------------------------------------------------------------- */

static void axpy_declare(const bo_case *k, bo_problem *pb)
{
    bo_declare(pb, MX, "x", BO_IN, k->n, 1, 1, 1);
    bo_declare(pb, MY, "y", BO_STATE, k->n, 1, 1, 1);
}

static facs_status axpy_forward(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    return c->be->axpy(bo_numel(&pb->t[MX]), k->mem.alpha, facs_f32(c->t[MX]), facs_f32(c->t[MY]));
}

static void axpy_reference(const bo_case *k, const bo_problem *pb, double *const *v, int64_t *valid)
{
    (void)valid;
    for (size_t i = 0; i < bo_numel(&pb->t[MX]); i++)
        v[MY][i] += (double)k->mem.alpha * v[MX][i];
}

static void axpy_describe(const bo_case *k, char *buf, size_t size)
{
    snprintf(buf, size, "%d floats alpha %g", k->n, (double)k->mem.alpha);
}

/* y + alpha x rounds twice (once when fused): <= 2^-23 of the largest y. */
const bo_family bo_axpy = {
    .name = "axpy",
    .fwd_entries = "axpy",
    .tol_fwd = 2.4e-7,
    .declare = axpy_declare,
    .draw = draw_x_y,
    .forward = axpy_forward,
    .reference = axpy_reference,
    .describe = axpy_describe,
};

/* ---- copy ----------------------------------------------------------------- */

static void copy_declare(const bo_case *k, bo_problem *pb)
{
    bo_declare(pb, MX, "x", BO_IN, k->n, 1, 1, 1);
    bo_declare(pb, MY, "y", BO_OUT, k->n, 1, 1, 1)->exact = 1;
}

static facs_status copy_forward(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)k;
    return c->be->copy(c->t[MY]->data, c->t[MX]->data, bo_numel(&pb->t[MX]) * sizeof(float));
}

static void copy_reference(const bo_case *k, const bo_problem *pb, double *const *v, int64_t *valid)
{
    (void)k, (void)valid;
    memcpy(v[MY], v[MX], bo_numel(&pb->t[MX]) * sizeof(double));
}

const bo_family bo_copy = {
    .name = "copy",
    .fwd_entries = "copy",
    .declare = copy_declare,
    .draw = draw_x_y,
    .forward = copy_forward,
    .reference = copy_reference,
    .describe = describe_count,
};

/* ---- fill_zero ------------------------------------------------------------ */

/* The whole tensor (which starts as NaN), or the bytes [offset, size -
 * offset) of one holding values, whose first and last bytes must survive. */
static void fill_declare(const bo_case *k, bo_problem *pb)
{
    bo_declare(pb, MX, "unused", BO_IN, 1, 1, 1, 1);
    bo_declare(pb, MY, "y", k->mem.byte_offset ? BO_STATE : BO_OUT, k->n, 1, 1, 1)->exact = 1;
}

static size_t fill_bytes(const bo_case *k, const bo_problem *pb)
{
    return bo_numel(&pb->t[MY]) * sizeof(float) - 2 * (size_t)k->mem.byte_offset;
}

static facs_status fill_forward(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    return c->be->fill_zero((unsigned char *)c->t[MY]->data + k->mem.byte_offset, fill_bytes(k, pb));
}

static void fill_reference(const bo_case *k, const bo_problem *pb, double *const *v, int64_t *valid)
{
    (void)valid;
    const size_t n = bo_numel(&pb->t[MY]);
    float *y = bo_xmalloc(n * sizeof *y);
    memcpy(y, pb->t[MY].host, n * sizeof *y);
    memset((unsigned char *)y + k->mem.byte_offset, 0, fill_bytes(k, pb));
    for (size_t i = 0; i < n; i++)
        v[MY][i] = y[i];
    free(y);
}

static void fill_describe(const bo_case *k, char *buf, size_t size)
{
    snprintf(buf, size, "%d floats from byte %d", k->n, k->mem.byte_offset);
}

const bo_family bo_fill_zero = {
    .name = "fill_zero",
    .fwd_entries = "fill_zero",
    .declare = fill_declare,
    .draw = draw_x_y,
    .forward = fill_forward,
    .reference = fill_reference,
    .describe = fill_describe,
};

/* ---- memory round trip ---------------------------------------------------- */

/* y = x by way of a fresh allocation, a device copy to an odd address (no
 * hidden assumption of aligned floats), a malloc'd host buffer, the device
 * again, host_alloc's staging buffer and an asynchronous upload, which the
 * final sync must have finished; with the zero-byte calls, which must
 * succeed and do nothing. */
static facs_status memory_forward(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)k;
    const facs_backend *be = c->be;
    const size_t bytes = bo_numel(&pb->t[MX]) * sizeof(float);
    unsigned char *tmp = be->alloc(bytes + 1), *staging = be->host_alloc(bytes);
    if (!tmp || !staging) {
        be->free(tmp);
        be->host_free(staging);
        return facs_last_status() != FACS_OK ? facs_last_status() : FACS_ERR_MEMORY;
    }
    void *host = bo_xmalloc(bytes);
    facs_status s = FACS_OK;
    if ((uintptr_t)tmp % 64 || (uintptr_t)staging % 64)
        s = facs_fail(FACS_ERR_BACKEND, "alloc returned %p, host_alloc %p: not 64-byte aligned", (void *)tmp,
                      (void *)staging);
    if (s == FACS_OK)
        s = be->copy(tmp + 1, c->t[MX]->data, bytes);
    if (s == FACS_OK)
        s = be->copy_to_host(host, tmp + 1, bytes);
    if (s == FACS_OK)
        s = be->copy_from_host(tmp, host, bytes);
    if (s == FACS_OK)
        s = be->copy_to_host(staging, tmp, bytes);
    if (s == FACS_OK)
        s = be->copy_from_host_async(c->t[MY]->data, staging, bytes);
    if (s == FACS_OK)
        s = be->copy_from_host(tmp, host, 0);
    if (s == FACS_OK)
        s = be->copy_from_host_async(tmp, staging, 0);
    if (s == FACS_OK)
        s = be->copy_to_host(host, tmp, 0);
    if (s == FACS_OK)
        s = be->copy(tmp, c->t[MX]->data, 0);
    if (s == FACS_OK)
        s = be->fill_zero(c->t[MY]->data, 0);
    if (s == FACS_OK)
        s = be->axpy(0, 1.0f, facs_f32(c->t[MX]), facs_f32(c->t[MY]));
    if (s == FACS_OK)
        s = be->sync();
    be->free(tmp);
    be->host_free(staging);
    free(host);
    return s;
}

const bo_family bo_memory = {
    .name = "memory",
    .fwd_entries = "alloc free host_alloc host_free copy_from_host copy_from_host_async copy_to_host copy fill_zero "
                   "axpy sync",
    .declare = copy_declare,
    .draw = draw_x_y,
    .forward = memory_forward,
    .reference = copy_reference,
    .describe = describe_count,
};

/* ---- count_non_finite ----------------------------------------------------- */

/* The case's mem.alpha is the share of x's values made non-finite. */
static void count_declare(const bo_case *k, bo_problem *pb)
{
    bo_declare(pb, MX, "x", BO_IN, k->n, 1, 1, 1);
    bo_declare(pb, MY, "count", BO_OUT, 1, 1, 1, 1)->exact = 1;
}

/* Every kind of float that is not finite, in turn: quiet NaN, both
 * infinities, a NaN with its sign bit set and one with a payload. */
static float non_finite_value(size_t k)
{
    static const uint32_t bits[] = {0x7fc00000u, 0x7f800000u, 0xff800000u, 0xffc00000u, 0x7f800001u};
    float v;
    memcpy(&v, &bits[k % (sizeof bits / sizeof bits[0])], sizeof v);
    return v;
}

static int count_draw(const bo_case *k, bo_problem *pb)
{
    float *x = bo_f32(pb, MX);
    const size_t n = bo_numel(&pb->t[MX]);
    bo_fill(x, n, k->lo, k->hi);
    for (size_t i = 0, bad = 0; i < n; i++)
        if (bo_uniform(0, 1) < k->mem.alpha)
            x[i] = non_finite_value(bad++);
    return 1;
}

/* The counter starts at a value of its own, so an entry that overwrites
 * instead of adding shows; x is counted in two calls of different lengths
 * (the second at an odd address) and once with count 0. */
static facs_status count_forward(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)k;
    const facs_backend *be = c->be;
    const int64_t start = 1000003;
    const size_t n = bo_numel(&pb->t[MX]), first = n / 3;
    const float *x = facs_f32(c->t[MX]);
    int64_t *counter = be->alloc(sizeof *counter), got = 0;
    if (!counter)
        return facs_last_status() != FACS_OK ? facs_last_status() : FACS_ERR_MEMORY;
    facs_status s = be->copy_from_host(counter, &start, sizeof start);
    if (s == FACS_OK)
        s = be->count_non_finite(first, x, counter);
    if (s == FACS_OK)
        s = be->count_non_finite(n - first, x + first, counter);
    if (s == FACS_OK)
        s = be->count_non_finite(0, x, counter);
    if (s == FACS_OK)
        s = be->copy_to_host(&got, counter, sizeof got);
    float count = (float)(got - start);
    if (s == FACS_OK)
        s = be->copy_from_host(c->t[MY]->data, &count, sizeof count);
    be->free(counter);
    return s;
}

static void count_reference(const bo_case *k, const bo_problem *pb, double *const *v, int64_t *valid)
{
    (void)k, (void)valid;
    double bad = 0;
    for (size_t i = 0; i < bo_numel(&pb->t[MX]); i++)
        bad += !isfinite(v[MX][i]);
    v[MY][0] = bad;
}

static void count_describe(const bo_case *k, char *buf, size_t size)
{
    snprintf(buf, size, "%d floats, share %g not finite", k->n, (double)k->mem.alpha);
}

const bo_family bo_count_non_finite = {
    .name = "count_non_finite",
    .fwd_entries = "alloc free copy_from_host copy_to_host count_non_finite",
    .declare = count_declare,
    .draw = count_draw,
    .forward = count_forward,
    .reference = count_reference,
    .describe = count_describe,
};

/* ---- sgd_update ----------------------------------------------------------- */

enum { GG, GP, GBUF };

static void sgd_declare(const bo_case *k, bo_problem *pb)
{
    bo_declare(pb, GG, "g", BO_IN, k->n, 1, 1, 1);
    bo_declare(pb, GP, "p", BO_STATE, k->n, 1, 1, 1);
    /* A parameter's first step writes the buffer without reading it. */
    bo_declare(pb, GBUF, "buf", k->sgd.first ? BO_OUT : BO_STATE, k->n, 1, 1, 1)->absent = k->sgd.momentum == 0.0f;
}

static int sgd_draw(const bo_case *k, bo_problem *pb)
{
    bo_fill(bo_f32(pb, GG), bo_numel(&pb->t[GG]), k->lo, k->hi);
    bo_fill(bo_f32(pb, GP), bo_numel(&pb->t[GP]), -1, 1);
    bo_fill(bo_f32(pb, GBUF), bo_numel(&pb->t[GBUF]), -1, 1);
    return 1;
}

static facs_sgd_coeffs sgd_coeffs(const bo_case *k)
{
    const bo_sgd_args *a = &k->sgd;
    return (facs_sgd_coeffs){.lr = a->lr, .weight_decay = a->weight_decay, .momentum = a->momentum,
                             .damp_keep = a->damp_keep, .nesterov = a->nesterov};
}

static facs_status sgd_forward(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    float *buf = c->t[GBUF] ? facs_f32(c->t[GBUF]) : NULL;
    return c->be->sgd_update(sgd_coeffs(k), k->sgd.first, bo_numel(&pb->t[GG]), facs_f32(c->t[GP]),
                             facs_f32(c->t[GG]), buf);
}

/* torch.optim.SGD's step (sgd_math.h) in double. */
static void sgd_reference(const bo_case *k, const bo_problem *pb, double *const *v, int64_t *valid)
{
    (void)valid;
    const bo_sgd_args *a = &k->sgd;
    for (size_t i = 0; i < bo_numel(&pb->t[GG]); i++) {
        double d = v[GG][i] + (double)a->weight_decay * v[GP][i];
        if (a->momentum != 0.0f) {
            double b = a->first ? d : (double)a->momentum * v[GBUF][i] + (double)a->damp_keep * d;
            v[GBUF][i] = b;
            d = a->nesterov ? d + (double)a->momentum * b : b;
        }
        v[GP][i] -= (double)a->lr * d;
    }
}

static void sgd_describe(const bo_case *k, char *buf, size_t size)
{
    const bo_sgd_args *a = &k->sgd;
    snprintf(buf, size, "%d floats lr %g wd %g m %g keep %g%s%s", k->n, (double)a->lr, (double)a->weight_decay,
             (double)a->momentum, (double)a->damp_keep, a->nesterov ? " nesterov" : "", a->first ? " first" : "");
}

/* Up to six roundings of values of size ~1 (fewer where a backend
 * contracts to fused multiply-adds): a few ulp of the largest p and buf
 * (seen <= 7.5e-8 over 200 seeds). */
const bo_family bo_sgd_update = {
    .name = "sgd_update",
    .fwd_entries = "sgd_update",
    .tol_fwd = 2.5e-7,
    .declare = sgd_declare,
    .draw = sgd_draw,
    .forward = sgd_forward,
    .reference = sgd_reference,
    .describe = sgd_describe,
};
