/* facs-cuda-selftest: runs every CUDA op against the CPU backend on fresh
 * random inputs, forward and backward, and against a naive double-precision
 * reference written here (so it checks the CUDA kernels even while a CPU op is
 * unfinished). The backend entries are called directly, on tensors that live
 * inside larger device buffers whose margins hold a sentinel pattern: any
 * write outside an output fails the case. Reruns must reproduce the same bits,
 * NULL gradients must stay untouched, and the same op through ops.h and the
 * tape (facs_facs, facs_backward) must give the entries' results exactly.
 *
 * Usage: facs-cuda-selftest   (FACS_TEST_SEED=n replays a run)
 * Prints one line per case and "N passed, N failed"; exits 0 when all pass,
 * 77 (the CTest/automake "skipped" code) when no CUDA device is present, 1 on
 * any failure. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops.h"

#define EXIT_SKIP 77

/* Normwise relative error bound, against double and against the CPU (other
 * summation orders, its own rounding added to ours). The longest float sums
 * have ~700 terms (pixel sums) or 136 (the blend): rounding of ~sqrt(n) 6e-8
 * relative to the largest result, a few ulp more from the sigmoid. Seen with
 * these kernels run on the host over 5 seeds: <= 7.4e-7 against double and
 * <= 2.8e-6 against a plain-loop float CPU version. A wrong index or stride,
 * or = for +=, is an O(1) error. */
#define FACS_TOL 1e-5
/* axpy does one fused multiply-add per element: one rounding (6e-8). */
#define AXPY_TOL 1e-6
/* Threshold fusion switches branch at p = T. Inputs with a p this close to T
 * are redrawn: rounding could put the GPU's p on the other side of T than the
 * reference's, an O(1) difference in y that is no bug. */
#define THRESHOLD_MARGIN 1e-4

#define GUARD_BYTES 256
#define UNWRITTEN 0xFF /* every float 0xFFFFFFFF is a NaN, which never passes */

static int passed, failed;
static unsigned guarded_count; /* makes each buffer's sentinel pattern different */
static int case_failed;
static uint64_t rng_state;

/* SplitMix64: tiny, good enough for test data, and replayable from the seed. */
static double uniform(double lo, double hi)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return lo + (hi - lo) * (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

static void fill(float *x, size_t count, double lo, double hi)
{
    for (size_t i = 0; i < count; i++)
        x[i] = (float)uniform(lo, hi);
}

static void *xmalloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "facs-cuda-selftest: out of host memory (%zu bytes)\n", bytes);
        exit(1);
    }
    return p;
}

static float *floats(size_t count) { return xmalloc(count * sizeof(float)); }
static double *doubles(size_t count)
{
    double *p = xmalloc(count * sizeof(double));
    for (size_t i = 0; i < count; i++)
        p[i] = 0.0;
    return p;
}

/* Records a failed check of the current case with a detail line. */
static int check(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int check(int cond, const char *fmt, ...)
{
    if (cond)
        return 1;
    va_list ap;
    va_start(ap, fmt);
    fputs("    ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    case_failed = 1;
    return 0;
}

static int check_ok(facs_status s, const char *what)
{
    return check(s == FACS_OK, "%s failed: %s", what, facs_last_error());
}

static void case_begin(void) { case_failed = 0; }

static void case_end(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void case_end(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(case_failed ? "FAIL " : "ok   ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    fflush(stdout);
    if (case_failed)
        failed++;
    else
        passed++;
}

/* max_i |got_i - want_i| / max_i |want_i|; a NaN or Inf in got is infinite. */
static double rel_err(const float *got, const float *want_f, const double *want_d, size_t count)
{
    double diff = 0.0, scale = 1e-30;
    for (size_t i = 0; i < count; i++) {
        double want = want_f ? want_f[i] : want_d[i];
        if (!isfinite(got[i]))
            return INFINITY;
        double d = fabs(got[i] - want);
        diff = d > diff ? d : diff;
        scale = fabs(want) > scale ? fabs(want) : scale;
    }
    return diff / scale;
}

/* Fills dst with the sentinel pattern of buffer salt: floats in [1, 2) that
 * vary with the position and the buffer. A kernel that strays out of bounds
 * reads one buffer's margin and writes into another's; with one repeated byte
 * it could compute that same byte again (the fusion of equal values is that
 * value), and with values of wildly different magnitudes a stray y += a x
 * could round back to y. Neither happens with these. */
static void sentinel_fill(unsigned char *dst, size_t bytes, unsigned salt)
{
    for (size_t i = 0; i < bytes; i += 4) {
        float v = 1.0f + (float)((i / 4 * 131 + salt * 71) % 1021) / 1024.0f;
        memcpy(dst + i, &v, bytes - i < 4 ? bytes - i : 4);
    }
}

/* A CUDA tensor whose data sits GUARD_BYTES into a buffer whose margins hold
 * sentinel bytes. */
typedef struct {
    const facs_backend *be;
    facs_tensor t;
    unsigned char *base;
    const char *name;
    unsigned salt;
} guarded;

static int guarded_upload(guarded *g, const float *host)
{
    return check_ok(g->be->copy_from_host(g->t.data, host, facs_tensor_bytes(&g->t)), g->name);
}

static int guarded_download(const guarded *g, float *host)
{
    return check_ok(g->be->copy_to_host(host, g->t.data, facs_tensor_bytes(&g->t)), g->name);
}

/* Fills the payload with NaNs, so an element a kernel fails to write fails. */
static int guarded_poison(guarded *g)
{
    size_t bytes = facs_tensor_bytes(&g->t);
    unsigned char *nan_bytes = xmalloc(bytes);
    memset(nan_bytes, UNWRITTEN, bytes);
    int ok = check_ok(g->be->copy_from_host(g->t.data, nan_bytes, bytes), g->name);
    free(nan_bytes);
    return ok;
}

/* host NULL: the payload starts as NaNs. Returns 0 on failure. */
static int guarded_create(guarded *g, const facs_backend *be, const char *name, int n, int c, int h, int w,
                          const float *host)
{
    *g = (guarded){.be = be, .name = name, .salt = guarded_count++};
    g->t = (facs_tensor){.n = n, .c = c, .h = h, .w = w, .dtype = FACS_F32, .device = FACS_DEVICE_CUDA};
    size_t total = facs_tensor_bytes(&g->t) + 2 * GUARD_BYTES;
    g->base = be->alloc(total);
    if (!check(g->base != NULL, "alloc of %s failed: %s", name, facs_last_error()))
        return 0;
    g->t.data = g->base + GUARD_BYTES;
    unsigned char *pattern = xmalloc(total);
    sentinel_fill(pattern, total, g->salt);
    int ok = check_ok(be->copy_from_host(g->base, pattern, total), name);
    free(pattern);
    return ok && (host ? guarded_upload(g, host) : guarded_poison(g));
}

static void guarded_free(guarded *g)
{
    if (g->base)
        g->be->free(g->base);
    g->base = NULL;
}

static int guards_intact(const guarded *g, const char *when)
{
    if (!g->base)
        return 1;
    size_t payload = facs_tensor_bytes(&g->t), total = payload + 2 * GUARD_BYTES;
    unsigned char *host = xmalloc(total), *want = xmalloc(total);
    sentinel_fill(want, total, g->salt);
    int ok = check_ok(g->be->copy_to_host(host, g->base, total), g->name);
    for (size_t i = 0; ok && i < GUARD_BYTES; i++)
        ok = check(host[i] == want[i], "%s: byte %zu before %s overwritten after %s", g->name, GUARD_BYTES - i,
                   g->name, when) &&
             check(host[GUARD_BYTES + payload + i] == want[GUARD_BYTES + payload + i],
                   "%s: byte %zu after %s overwritten after %s", g->name, i, g->name, when);
    free(host);
    free(want);
    return ok;
}

/* ---- Memory entries ---------------------------------------------------- */

static void test_round_trip(const facs_backend *be)
{
    case_begin();
    const size_t bytes = 100003; /* odd: no hidden assumption of whole floats */
    unsigned char *src = xmalloc(bytes), *back = xmalloc(bytes);
    for (size_t i = 0; i < bytes; i++)
        src[i] = (unsigned char)(uniform(0, 256));
    memset(back, 0, bytes);
    unsigned char *a = be->alloc(bytes), *b = be->alloc(bytes + 1);
    if (check(a && b, "alloc failed: %s", facs_last_error())) {
        check((uintptr_t)a % 64 == 0 && (uintptr_t)b % 64 == 0, "alloc is not 64-byte aligned");
        /* The device-to-device copy lands one byte in, off any alignment. */
        if (check_ok(be->copy_from_host(a, src, bytes), "copy_from_host") &&
            check_ok(be->copy(b + 1, a, bytes), "copy") &&
            check_ok(be->copy_to_host(back, b + 1, bytes), "copy_to_host"))
            check(memcmp(src, back, bytes) == 0, "bytes differ after host -> device -> device -> host");
        check_ok(be->copy_from_host(a, src, 0), "copy_from_host of 0 bytes");
    }
    be->free(a);
    be->free(b);
    free(src);
    free(back);
    case_end("memory: alloc, copy_from_host, copy, copy_to_host (%zu bytes)", bytes);
}

static void test_fill_zero(const facs_backend *be)
{
    case_begin();
    const size_t bytes = 4099, offset = 3, total = bytes + 2 * offset;
    unsigned char *host = xmalloc(total), *want = xmalloc(total);
    sentinel_fill(host, total, 0);
    sentinel_fill(want, total, 0);
    memset(want + offset, 0, bytes);
    unsigned char *dev = be->alloc(total);
    if (check(dev != NULL, "alloc failed: %s", facs_last_error()) &&
        check_ok(be->copy_from_host(dev, host, total), "copy_from_host") &&
        check_ok(be->fill_zero(dev + offset, bytes), "fill_zero") &&
        check_ok(be->copy_to_host(host, dev, total), "copy_to_host")) {
        size_t bad = 0;
        for (size_t i = 0; i < total; i++)
            bad += host[i] != want[i];
        check(bad == 0, "%zu bytes wrong (zeroed range or sentinels around it)", bad);
    }
    be->free(dev);
    free(host);
    free(want);
    case_end("memory: fill_zero of %zu bytes at byte offset %zu", bytes, offset);
}

static void test_axpy(const facs_backend *be)
{
    case_begin();
    /* More elements than the launch's threads, so the grid-stride loop runs. */
    const size_t count = 5000011;
    const float alpha = -0.75f;
    float *x = floats(count), *y = floats(count), *got = floats(count);
    double *want = doubles(count);
    fill(x, count, -1, 1);
    fill(y, count, -1, 1);
    for (size_t i = 0; i < count; i++)
        want[i] = (double)y[i] + (double)alpha * x[i];
    guarded gx = {0}, gy = {0};
    if (guarded_create(&gx, be, "axpy x", (int)count, 1, 1, 1, x) &&
        guarded_create(&gy, be, "axpy y", (int)count, 1, 1, 1, y) &&
        check_ok(be->axpy(count, alpha, facs_f32(&gx.t), facs_f32(&gy.t)), "axpy") &&
        check_ok(be->axpy(0, alpha, facs_f32(&gx.t), facs_f32(&gy.t)), "axpy of 0 elements") &&
        check_ok(be->sync(), "sync") && guarded_download(&gy, got)) {
        double err = rel_err(got, NULL, want, count);
        check(err <= AXPY_TOL, "axpy: relative error %.3g > %.1g", err, AXPY_TOL);
        guards_intact(&gy, "axpy");
    }
    guarded_free(&gx);
    guarded_free(&gy);
    free(x), free(y), free(got), free(want);
    case_end("memory: axpy over %zu floats", count);
}

/* An allocation the device cannot satisfy must fail cleanly and leave no
 * error behind that a later call would report. */
static void test_alloc_failure(const facs_backend *be)
{
    case_begin();
    facs_clear_error();
    void *huge = be->alloc((size_t)1 << 62);
    if (check(huge == NULL, "alloc of 4 EiB succeeded")) {
        check(strstr(facs_last_error(), "cudaMalloc") != NULL, "alloc failure message does not name cudaMalloc: '%s'",
              facs_last_error());
        float *dev = be->alloc(64 * sizeof(float));
        if (check(dev != NULL, "alloc after a failed alloc failed: %s", facs_last_error())) {
            check_ok(be->fill_zero(dev, 64 * sizeof(float)), "fill_zero after a failed alloc");
            check_ok(be->axpy(32, 1.0f, dev, dev + 32), "axpy after a failed alloc");
            check_ok(be->sync(), "sync after a failed alloc");
        }
        be->free(dev);
    } else {
        be->free(huge);
    }
    case_end("memory: failed alloc reports cudaMalloc and leaves the device usable");
}

/* ---- FACS --------------------------------------------------------------- */

typedef struct {
    int n, c, h, w, r;
    facs_fusion fusion;
    float threshold;
    int bias;
} facs_case;

/* Host data in storage (NHWC) order; dw0 and db0 are the gradients' values
 * before backward, which must accumulate onto them. */
typedef struct {
    float *x, *w, *b, *dy, *dw0, *db0;
} facs_inputs;

typedef struct {
    float *y, *prob, *dx, *dw, *db;
} facs_outputs;

typedef struct {
    double *y, *prob, *dx, *dw, *db;
} facs_reference;

typedef struct {
    size_t x, y, prob, w, b;
} facs_sizes;

static facs_sizes sizes_of(const facs_case *k)
{
    size_t co = (size_t)(k->c / k->r), hw = (size_t)k->h * k->w;
    return (facs_sizes){.x = k->n * hw * k->c, .y = k->n * hw * co, .prob = k->n * co, .w = co * k->c, .b = co};
}

static void outputs_alloc(facs_outputs *o, const facs_sizes *s)
{
    *o = (facs_outputs){floats(s->y), floats(s->prob), floats(s->x), floats(s->w), floats(s->b)};
}

static void outputs_free(facs_outputs *o) { free(o->y), free(o->prob), free(o->dx), free(o->dw), free(o->db); }

/* One chunk of R input channels at one pixel, reduced as the paper says. */
typedef struct {
    int best;          /* first maximal channel of the chunk */
    double max, mean;  /* M and A */
    double cmax, cavg; /* y = cmax M + cavg A (Eq. 2 or 3) */
    double dprob;      /* d y / d p */
} chunk_info;

static chunk_info chunk_of(const facs_case *k, const float *chunk, double p)
{
    chunk_info ci = {0};
    for (int j = 0; j < k->r; j++) {
        if (chunk[j] > chunk[ci.best])
            ci.best = j;
        ci.mean += chunk[j];
    }
    ci.max = chunk[ci.best];
    ci.mean /= k->r;
    if (k->fusion == FACS_FUSION_WEIGHTED) {
        ci.cmax = p, ci.cavg = 1.0 - p, ci.dprob = ci.max - ci.mean;
    } else if (p <= k->threshold) {
        ci.cmax = p, ci.cavg = 0.0, ci.dprob = ci.max;
    } else {
        ci.cmax = 0.0, ci.cavg = p, ci.dprob = ci.mean;
    }
    return ci;
}

/* The op written out plainly in double (paper Eq. 1-3, backend.h contract).
 * Returns the smallest |p - T| for threshold fusion, 1 for weighted fusion. */
static double reference(const facs_case *k, const facs_inputs *in, facs_reference *ref)
{
    int n = k->n, c = k->c, r = k->r, co = c / r, hw = k->h * k->w;
    double *z = doubles((size_t)n * c), *ds = doubles((size_t)n * co), *dz = doubles((size_t)n * c);
    double margin = 1.0;
    for (int m = 0; m < n; m++)
        for (int q = 0; q < hw; q++)
            for (int j = 0; j < c; j++)
                z[m * c + j] += in->x[((size_t)m * hw + q) * c + j];
    for (int m = 0; m < n; m++)
        for (int j = 0; j < c; j++)
            z[m * c + j] /= hw;
    for (int m = 0; m < n; m++)
        for (int i = 0; i < co; i++) {
            double s = k->bias ? in->b[i] : 0.0;
            for (int j = 0; j < c; j++)
                s += (double)in->w[i * c + j] * z[m * c + j];
            double p = 1.0 / (1.0 + exp(-s));
            ref->prob[m * co + i] = p;
            if (k->fusion == FACS_FUSION_THRESHOLD && fabs(p - k->threshold) < margin)
                margin = fabs(p - k->threshold);
        }
    /* Forward, and dL/dp summed over the pixels into ds. */
    for (int m = 0; m < n; m++)
        for (int q = 0; q < hw; q++)
            for (int i = 0; i < co; i++) {
                size_t row = (size_t)m * hw + q;
                chunk_info ci = chunk_of(k, in->x + row * c + (size_t)r * i, ref->prob[m * co + i]);
                ref->y[row * co + i] = ci.cmax * ci.max + ci.cavg * ci.mean;
                ds[m * co + i] += in->dy[row * co + i] * ci.dprob;
            }
    for (int m = 0; m < n; m++)
        for (int i = 0; i < co; i++) {
            double p = ref->prob[m * co + i];
            ds[m * co + i] *= p * (1.0 - p);
        }
    for (int i = 0; i < co; i++) {
        ref->db[i] = in->db0[i]; /* without a bias, db is not passed and keeps db0 */
        for (int m = 0; m < n && k->bias; m++)
            ref->db[i] += ds[m * co + i];
        for (int j = 0; j < c; j++) {
            ref->dw[i * c + j] = in->dw0[i * c + j];
            for (int m = 0; m < n; m++)
                ref->dw[i * c + j] += ds[m * co + i] * z[m * c + j];
        }
    }
    for (int m = 0; m < n; m++)
        for (int j = 0; j < c; j++)
            for (int i = 0; i < co; i++)
                dz[m * c + j] += (double)in->w[i * c + j] * ds[m * co + i];
    for (int m = 0; m < n; m++)
        for (int q = 0; q < hw; q++)
            for (int i = 0; i < co; i++) {
                size_t row = (size_t)m * hw + q;
                chunk_info ci = chunk_of(k, in->x + row * c + (size_t)r * i, ref->prob[m * co + i]);
                double g = in->dy[row * co + i];
                for (int j = 0; j < r; j++)
                    ref->dx[row * c + r * i + j] =
                        dz[m * c + r * i + j] / hw + g * ci.cavg / r + (j == ci.best ? g * ci.cmax : 0.0);
            }
    free(z), free(ds), free(dz);
    return margin;
}

/* The CPU backend on the same data: the reference the CUDA backend must match. */
static int run_cpu(facs_ctx *ctx, const facs_case *k, const facs_fuse_params *p, const facs_inputs *in,
                   facs_outputs *out)
{
    facs_sizes s = sizes_of(k);
    int co = k->c / k->r;
    facs_ctx_begin_step(ctx);
    facs_tensor *x = facs_ctx_tensor(ctx, FACS_F32, k->n, k->c, k->h, k->w);
    facs_tensor *w = facs_ctx_tensor(ctx, FACS_F32, co, k->c, 1, 1);
    facs_tensor *b = facs_ctx_tensor(ctx, FACS_F32, co, 1, 1, 1);
    facs_tensor *dy = facs_ctx_tensor(ctx, FACS_F32, k->n, co, k->h, k->w);
    facs_tensor *y = facs_ctx_like(ctx, dy), *dx = facs_ctx_like(ctx, x), *dw = facs_ctx_like(ctx, w);
    facs_tensor *prob = facs_ctx_tensor(ctx, FACS_F32, k->n, co, 1, 1), *db = facs_ctx_like(ctx, b);
    if (!check(x && w && b && dy && y && dx && dw && prob && db, "cpu tensors: %s", facs_last_error()))
        return 0;
    memcpy(x->data, in->x, s.x * sizeof(float));
    memcpy(w->data, in->w, s.w * sizeof(float));
    memcpy(b->data, in->b, s.b * sizeof(float));
    memcpy(dy->data, in->dy, s.y * sizeof(float));
    memcpy(dw->data, in->dw0, s.w * sizeof(float));
    memcpy(db->data, in->db0, s.b * sizeof(float));
    const facs_backend *be = ctx->backend;
    if (!check_ok(be->facs_forward(ctx, p, x, w, k->bias ? b : NULL, y, prob), "cpu facs_forward") ||
        !check_ok(be->facs_backward(ctx, p, x, w, prob, dy, dx, dw, k->bias ? db : NULL), "cpu facs_backward"))
        return 0;
    memcpy(out->y, y->data, s.y * sizeof(float));
    memcpy(out->prob, prob->data, s.prob * sizeof(float));
    memcpy(out->dx, dx->data, s.x * sizeof(float));
    memcpy(out->dw, dw->data, s.w * sizeof(float));
    memcpy(out->db, k->bias ? db->data : in->db0, s.b * sizeof(float));
    return 1;
}

enum { GX, GW, GB, GDY, GY, GPROB, GDX, GDW, GDB, GCOUNT };

static int all_guards_intact(const guarded *g, const char *when)
{
    int ok = 1;
    for (int i = 0; i < GCOUNT; i++)
        ok &= guards_intact(&g[i], when);
    return ok;
}

/* The tensor's content must equal want bit for bit; problem says why not. */
static int same_bits(const guarded *g, const float *want, size_t count, const char *problem)
{
    float *got = floats(count);
    int ok = guarded_download(g, got) &&
             check(memcmp(got, want, count * sizeof(float)) == 0, "%s: %s", g->name, problem);
    free(got);
    return ok;
}

/* Reruns on the same data must give the same bits (no order-dependent
 * atomics), and a NULL gradient must be neither computed nor touched. */
static void rerun_checks(facs_ctx *ctx, const facs_case *k, const facs_fuse_params *p, const facs_inputs *in,
                         guarded *g, const facs_outputs *first)
{
    facs_sizes s = sizes_of(k);
    const facs_backend *be = ctx->backend;
    facs_tensor *b = k->bias ? &g[GB].t : NULL, *db = k->bias ? &g[GDB].t : NULL;
    if (guarded_poison(&g[GY]) && guarded_poison(&g[GPROB]) &&
        check_ok(be->facs_forward(ctx, p, &g[GX].t, &g[GW].t, b, &g[GY].t, &g[GPROB].t), "cuda facs_forward rerun")) {
        same_bits(&g[GY], first->y, s.y, "a second forward gave other bits");
        same_bits(&g[GPROB], first->prob, s.prob, "a second forward gave other bits");
    }
    /* dx alone: dw and db keep their accumulated values from the first run. */
    if (guarded_poison(&g[GDX]) &&
        check_ok(be->facs_backward(ctx, p, &g[GX].t, &g[GW].t, &g[GPROB].t, &g[GDY].t, &g[GDX].t, NULL, NULL),
                 "cuda facs_backward (dx only)")) {
        same_bits(&g[GDX], first->dx, s.x, "backward with only dx wanted gave other bits");
        same_bits(&g[GDW], first->dw, s.w, "changed by a backward that did not want it");
        if (db)
            same_bits(&g[GDB], first->db, s.b, "changed by a backward that did not want it");
    }
    /* Parameter gradients alone, from their initial values again: dx stays NaN. */
    float *nan_dx = floats(s.x);
    memset(nan_dx, UNWRITTEN, s.x * sizeof(float));
    if (guarded_poison(&g[GDX]) && guarded_upload(&g[GDW], in->dw0) && (!db || guarded_upload(&g[GDB], in->db0)) &&
        check_ok(be->facs_backward(ctx, p, &g[GX].t, &g[GW].t, &g[GPROB].t, &g[GDY].t, NULL, &g[GDW].t, db),
                 "cuda facs_backward (dw, db only)")) {
        same_bits(&g[GDW], first->dw, s.w, "backward without dx gave other bits");
        if (db)
            same_bits(&g[GDB], first->db, s.b, "backward without dx gave other bits");
        same_bits(&g[GDX], nan_dx, s.x, "written by a backward that did not want it");
    }
    free(nan_dx);
    check_ok(be->sync(), "cuda sync after reruns");
    all_guards_intact(g, "reruns");
}

/* The CUDA backend with guarded outputs: y, prob and dx start as NaNs (so an
 * unwritten element fails and dx must be written, not accumulated), dw and db
 * start at dw0 and db0 (so they must accumulate). */
static int run_cuda(facs_ctx *ctx, const facs_case *k, const facs_fuse_params *p, const facs_inputs *in,
                    facs_outputs *out)
{
    facs_sizes s = sizes_of(k);
    const facs_backend *be = ctx->backend;
    int co = k->c / k->r, ok = 0;
    facs_ctx_begin_step(ctx);
    guarded g[GCOUNT] = {{0}};
    if (!(guarded_create(&g[GX], be, "x", k->n, k->c, k->h, k->w, in->x) &&
          guarded_create(&g[GW], be, "w", co, k->c, 1, 1, in->w) &&
          (!k->bias || guarded_create(&g[GB], be, "b", co, 1, 1, 1, in->b)) &&
          guarded_create(&g[GDY], be, "dy", k->n, co, k->h, k->w, in->dy) &&
          guarded_create(&g[GY], be, "y", k->n, co, k->h, k->w, NULL) &&
          guarded_create(&g[GPROB], be, "prob", k->n, co, 1, 1, NULL) &&
          guarded_create(&g[GDX], be, "dx", k->n, k->c, k->h, k->w, NULL) &&
          guarded_create(&g[GDW], be, "dw", co, k->c, 1, 1, in->dw0) &&
          (!k->bias || guarded_create(&g[GDB], be, "db", co, 1, 1, 1, in->db0))))
        goto done;
    facs_tensor *b = k->bias ? &g[GB].t : NULL, *db = k->bias ? &g[GDB].t : NULL;
    if (!check_ok(be->facs_forward(ctx, p, &g[GX].t, &g[GW].t, b, &g[GY].t, &g[GPROB].t), "cuda facs_forward") ||
        !check_ok(be->sync(), "cuda sync after forward") || !all_guards_intact(g, "forward"))
        goto done;
    if (!check_ok(be->facs_backward(ctx, p, &g[GX].t, &g[GW].t, &g[GPROB].t, &g[GDY].t, &g[GDX].t, &g[GDW].t, db),
                  "cuda facs_backward") ||
        !check_ok(be->sync(), "cuda sync after backward") || !all_guards_intact(g, "backward"))
        goto done;
    if (!(guarded_download(&g[GY], out->y) && guarded_download(&g[GPROB], out->prob) &&
          guarded_download(&g[GDX], out->dx) && guarded_download(&g[GDW], out->dw)))
        goto done;
    if (k->bias) {
        if (!guarded_download(&g[GDB], out->db))
            goto done;
    } else {
        memcpy(out->db, in->db0, s.b * sizeof(float));
    }
    /* The op must only read its inputs. */
    same_bits(&g[GX], in->x, s.x, "an input changed by forward or backward");
    same_bits(&g[GW], in->w, s.w, "an input changed by forward or backward");
    same_bits(&g[GDY], in->dy, s.y, "an input changed by forward or backward");
    if (k->bias)
        same_bits(&g[GB], in->b, s.b, "an input changed by forward or backward");
    rerun_checks(ctx, k, p, in, g, out);
    ok = 1;
done:
    for (int i = 0; i < GCOUNT; i++)
        guarded_free(&g[i]);
    return ok;
}

/* t's content must equal want bit for bit. */
static void tensor_same_bits(const facs_tensor *t, const float *want, const char *name)
{
    size_t count = facs_tensor_numel(t);
    float *got = floats(count);
    if (check_ok(facs_tensor_download(t, got, count * sizeof(float)), name))
        check(memcmp(got, want, count * sizeof(float)) == 0, "%s: facs_facs and facs_backward differ from the entries",
              name);
    free(got);
}

/* The op through ops.h and the tape on the CUDA context: facs_facs, then
 * facs_backward with dy as the output's gradient. w and b are parameters made
 * on the device whose gradients start at dw0 and db0. The wrapper adds no
 * arithmetic, so it must give the entries' results (direct) bit for bit. */
static void run_tape(facs_ctx *ctx, const facs_case *k, const facs_fuse_params *p, const facs_inputs *in,
                     const facs_outputs *direct)
{
    facs_sizes s = sizes_of(k);
    int co = k->c / k->r;
    facs_ctx_begin_step(ctx);
    facs_tensor *w = facs_tensor_create(ctx->device, FACS_F32, co, k->c, 1, 1);
    facs_tensor *b = k->bias ? facs_tensor_create(ctx->device, FACS_F32, co, 1, 1, 1) : NULL;
    facs_tensor *x = facs_ctx_tensor(ctx, FACS_F32, k->n, k->c, k->h, k->w);
    facs_tensor *dy = facs_ctx_tensor(ctx, FACS_F32, k->n, co, k->h, k->w);
    if (!check(w && (b || !k->bias) && x && dy, "tape tensors: %s", facs_last_error()))
        goto done;
    x->requires_grad = 1;
    w->is_param = w->requires_grad = 1;
    if (b)
        b->is_param = b->requires_grad = 1;
    if (!check_ok(facs_tensor_upload(x, in->x, s.x * sizeof(float)), "upload x") ||
        !check_ok(facs_tensor_upload(w, in->w, s.w * sizeof(float)), "upload w") ||
        !check_ok(facs_tensor_upload(dy, in->dy, s.y * sizeof(float)), "upload dy") ||
        !check_ok(facs_tensor_ensure_grad(w), "w gradient") ||
        !check_ok(facs_tensor_upload(w->grad, in->dw0, s.w * sizeof(float)), "upload dw0"))
        goto done;
    if (b && (!check_ok(facs_tensor_upload(b, in->b, s.b * sizeof(float)), "upload b") ||
              !check_ok(facs_tensor_ensure_grad(b), "b gradient") ||
              !check_ok(facs_tensor_upload(b->grad, in->db0, s.b * sizeof(float)), "upload db0")))
        goto done;
    facs_tensor *y = facs_facs(ctx, x, w, b, p);
    if (!check(y != NULL, "facs_facs on cuda failed: %s", facs_last_error()) ||
        !check_ok(facs_backward(ctx, y, dy), "facs_backward on cuda"))
        goto done;
    tensor_same_bits(y, direct->y, "tape y");
    tensor_same_bits(x->grad, direct->dx, "tape x grad");
    tensor_same_bits(w->grad, direct->dw, "tape w grad");
    if (b)
        tensor_same_bits(b->grad, direct->db, "tape b grad");
done:
    facs_tensor_free(w);
    facs_tensor_free(b);
}

/* x varies per (n, channel) as well as per pixel, so the descriptors z and
 * the probabilities p spread over (0, 1) instead of clustering at 0.5. */
static void draw_inputs(const facs_case *k, facs_inputs *in)
{
    facs_sizes s = sizes_of(k);
    size_t hw = (size_t)k->h * k->w;
    for (int m = 0; m < k->n; m++)
        for (int j = 0; j < k->c; j++) {
            double offset = uniform(-1, 1);
            for (size_t q = 0; q < hw; q++)
                in->x[((size_t)m * hw + q) * k->c + j] = (float)(offset + uniform(-1, 1));
        }
    fill(in->w, s.w, -1, 1);
    fill(in->b, s.b, -1, 1);
    fill(in->dy, s.y, -1, 1);
    fill(in->dw0, s.w, -0.5, 0.5);
    fill(in->db0, s.b, -0.5, 0.5);
}

static void test_facs(facs_ctx *cpu, facs_ctx *gpu, const facs_case *k)
{
    case_begin();
    facs_sizes s = sizes_of(k);
    facs_fuse_params p = {.fusion = k->fusion, .threshold = k->threshold};
    facs_inputs in = {floats(s.x), floats(s.w), floats(s.b), floats(s.y), floats(s.w), floats(s.b)};
    facs_reference ref = {doubles(s.y), doubles(s.prob), doubles(s.x), doubles(s.w), doubles(s.b)};
    facs_outputs got, want;
    outputs_alloc(&got, &s);
    outputs_alloc(&want, &s);
    double margin = 0.0;
    for (int attempt = 0; attempt < 20 && margin < THRESHOLD_MARGIN; attempt++) {
        draw_inputs(k, &in);
        margin = reference(k, &in, &ref);
    }
    check(margin >= THRESHOLD_MARGIN, "could not draw inputs with every p at least %g from T", THRESHOLD_MARGIN);

    double err_ref = 0.0, err_cpu = 0.0;
    char cpu_note[32] = "not compared";
    const char *names[] = {"y", "prob", "dx", "dw", "db"};
    const size_t counts[] = {s.y, s.prob, s.x, s.w, s.b};
    if (run_cuda(gpu, k, &p, &in, &got)) {
        run_tape(gpu, k, &p, &in, &got);
        const float *g[] = {got.y, got.prob, got.dx, got.dw, got.db};
        const double *r[] = {ref.y, ref.prob, ref.dx, ref.dw, ref.db};
        for (int i = 0; i < 5; i++) {
            double e = rel_err(g[i], NULL, r[i], counts[i]);
            check(e <= FACS_TOL, "%s: cuda vs double reference, relative error %.3g > %.0e", names[i], e, FACS_TOL);
            err_ref = e > err_ref ? e : err_ref;
        }
        if (run_cpu(cpu, k, &p, &in, &want)) {
            const float *w[] = {want.y, want.prob, want.dx, want.dw, want.db};
            for (int i = 0; i < 5; i++) {
                double e = rel_err(g[i], w[i], NULL, counts[i]);
                check(e <= FACS_TOL, "%s: cuda vs cpu, relative error %.3g > %.0e", names[i], e, FACS_TOL);
                err_cpu = e > err_cpu ? e : err_cpu;
            }
            snprintf(cpu_note, sizeof cpu_note, "%.2g", err_cpu);
        }
    }
    char mode[32] = "weighted";
    if (k->fusion == FACS_FUSION_THRESHOLD)
        snprintf(mode, sizeof mode, "threshold T=%g", k->threshold);
    case_end("facs N=%d C=%d R=%d %dx%d %s %s: max rel err vs double %.2g, vs cpu %s", k->n, k->c, k->r, k->h, k->w,
             mode, k->bias ? "bias" : "no bias", err_ref, cpu_note);
    free(in.x), free(in.w), free(in.b), free(in.dy), free(in.dw0), free(in.db0);
    free(ref.y), free(ref.prob), free(ref.dx), free(ref.dw), free(ref.db);
    outputs_free(&got);
    outputs_free(&want);
}

static void run_facs_cases(facs_ctx *cpu, facs_ctx *gpu)
{
    /* {N, C, H, W, R}: every R of ResNet and VGG-1x1 and more; odd spatial
     * sizes; C not a multiple of 8; HW > 256 (several pixel slices) and
     * C/R > 32 (several channel blocks) for the reduction kernels. C/R >= 5
     * keeps db (C/R values) from being a single cancelling sum. */
    static const int shapes[][5] = {
        {1, 40, 7, 7, 8},   {3, 72, 13, 17, 8}, {3, 12, 7, 7, 2},    {1, 7, 13, 17, 1},
        {3, 20, 13, 17, 4}, {1, 36, 7, 7, 4},   {3, 136, 19, 37, 4}, {1, 10, 23, 29, 2},
    };
    static const struct {
        facs_fusion fusion;
        float threshold;
    } modes[] = {{FACS_FUSION_THRESHOLD, 0.0f}, {FACS_FUSION_THRESHOLD, 0.5f}, {FACS_FUSION_THRESHOLD, 1.0f},
                 {FACS_FUSION_WEIGHTED, 0.5f}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++)
            for (int bias = 0; bias < 2; bias++) {
                facs_case k = {shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3], shapes[i][4],
                               modes[m].fusion, modes[m].threshold, bias};
                test_facs(cpu, gpu, &k);
            }
}

int main(void)
{
    if (!facs_cuda_available()) {
        printf("facs-cuda-selftest: no CUDA device in this process, skipped\n");
        return EXIT_SKIP;
    }
    const char *env = getenv("FACS_TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
    rng_state = seed;
    printf("facs-cuda-selftest: seed %llu (FACS_TEST_SEED=%llu replays it)\n", (unsigned long long)seed,
           (unsigned long long)seed);

    facs_ctx *cpu = facs_ctx_create(FACS_DEVICE_CPU);
    facs_ctx *gpu = facs_ctx_create(FACS_DEVICE_CUDA);
    if (!cpu || !gpu) {
        printf("facs-cuda-selftest: cannot create contexts: %s\n", facs_last_error());
        return 1;
    }
    const facs_backend *be = gpu->backend;
    test_round_trip(be);
    test_fill_zero(be);
    test_axpy(be);
    test_alloc_failure(be);
    run_facs_cases(cpu, gpu);
    facs_ctx_free(cpu);
    facs_ctx_free(gpu);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
