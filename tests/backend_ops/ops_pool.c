/* Families maxpool2d, avgpool2d, adaptive_avgpool2d and resize_bilinear: the
 * spatial windows. Window bounds follow PyTorch (kernels/cpu/pool2d.c): a
 * window starts at o stride - pad, ends pad past the input at the latest, and
 * only its in-bounds part is read; count_include_pad divides by the extent
 * clipped to input + pad. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bops.h"

enum { PX, PY, PDY, PDX };

typedef struct {
    int lo, hi, padded; /* in-bounds [lo, hi); extent clipped to input + pad */
} window;

static window window_at(int o, int in, int kernel, int stride, int pad)
{
    int lo = o * stride - pad, hi = lo + kernel < in + pad ? lo + kernel : in + pad;
    return (window){lo > 0 ? lo : 0, hi < in ? hi : in, hi - lo};
}

static facs_pool2d_params pool_params(const bo_case *k)
{
    const bo_pool_args *a = &k->pool;
    return (facs_pool2d_params){.kernel_h = a->kh, .kernel_w = a->kw, .stride_h = a->sh, .stride_w = a->sw,
                                .pad_h = a->ph, .pad_w = a->pw, .ceil_mode = a->ceil_mode,
                                .count_include_pad = a->count_include_pad};
}

/* x, y, dy, dx with y's size out_h x out_w. */
static void declare_spatial(const bo_case *k, bo_problem *pb, int out_h, int out_w)
{
    bo_declare(pb, PX, "x", BO_IN, k->n, k->c, k->h, k->w);
    bo_declare(pb, PY, "y", BO_OUT, k->n, k->c, out_h, out_w);
    bo_declare_like(pb, PDY, "dy", BO_DY, PY);
    bo_declare_like(pb, PDX, "dx", BO_DX, PX);
}

static void pool_declare(const bo_case *k, bo_problem *pb)
{
    const bo_pool_args *a = &k->pool;
    declare_spatial(k, pb, facs_pool_out_size(k->h, a->kh, a->sh, a->ph, a->ceil_mode),
                    facs_pool_out_size(k->w, a->kw, a->sw, a->pw, a->ceil_mode));
}

static void pool_describe(const bo_case *k, char *buf, size_t size)
{
    const bo_pool_args *a = &k->pool;
    snprintf(buf, size, "x(%d,%d,%d,%d) k%d,%d s%d,%d p%d,%d%s%s%s", k->n, k->c, k->h, k->w, a->kh, a->kw, a->sh,
             a->sw, a->ph, a->pw, a->ceil_mode ? " ceil" : "", a->count_include_pad ? " include_pad" : "",
             a->ties ? " ties" : "");
}

/* Runs body for every output element, with n, c, its windows wh and ww and
 * its index out in y in scope. */
#define FOR_EACH_WINDOW(k, pb, body)                                                                   \
    do {                                                                                               \
        const bo_pool_args *a_ = &(k)->pool;                                                           \
        const int OH_ = (pb)->t[PY].h, OW_ = (pb)->t[PY].w;                                            \
        for (int n = 0; n < (k)->n; n++)                                                               \
            for (int oh = 0; oh < OH_; oh++)                                                           \
                for (int ow = 0; ow < OW_; ow++) {                                                     \
                    const window wh = window_at(oh, (k)->h, a_->kh, a_->sh, a_->ph);                   \
                    const window ww = window_at(ow, (k)->w, a_->kw, a_->sw, a_->pw);                   \
                    for (int c = 0; c < (k)->c; c++) {                                                 \
                        const size_t out = ((size_t)(n * OH_ + oh) * OW_ + ow) * (k)->c + c;           \
                        body                                                                           \
                    }                                                                                  \
                }                                                                                      \
    } while (0)

/* Index of x's element (n, c, h, w) in NHWC storage. */
#define X_AT(k, n_, h_, w_, c_) ((((size_t)(n_) * (k)->h + (h_)) * (k)->w + (w_)) * (k)->c + (c_))

/* ---- maxpool2d ---------------------------------------------------------- */

/* Distinct values (none within a finite-difference step of another, so no
 * window's maximum can change place), mostly negative so that windows over
 * the padding find no 0 there; or, for the ties cases, a few levels only. */
static int maxpool_draw(const bo_case *k, bo_problem *pb)
{
    float *x = bo_f32(pb, PX);
    const size_t n = bo_numel(&pb->t[PX]);
    if (!k->pool.ties) {
        bo_fill_distinct(x, n, k->lo, k->hi);
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        x[i] = (float)floor(bo_uniform(k->lo, k->hi));
    return 1;
}

static facs_status maxpool_forward(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)pb;
    facs_pool2d_params p = pool_params(k);
    return c->be->maxpool2d_forward(c->ctx, &p, c->t[PX], c->t[PY]);
}

static facs_status maxpool_backward(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)pb;
    facs_pool2d_params p = pool_params(k);
    return c->be->maxpool2d_backward(c->ctx, &p, c->t[PX], c->t[PDY], c->t[PDX]);
}

static facs_status maxpool_tape(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)pb;
    facs_pool2d_params p = pool_params(k);
    c->t[PY] = facs_maxpool2d(c->ctx, c->t[PX], &p);
    return bo_wrapped(c->t[PY]);
}

/* The first maximum of the window in scan order (h, then w). */
static size_t window_argmax(const bo_case *k, const double *x, int n, int c, window wh, window ww)
{
    size_t best = X_AT(k, n, wh.lo, ww.lo, c);
    for (int h = wh.lo; h < wh.hi; h++)
        for (int w = ww.lo; w < ww.hi; w++)
            if (x[X_AT(k, n, h, w, c)] > x[best])
                best = X_AT(k, n, h, w, c);
    return best;
}

static void maxpool_reference(const bo_case *k, const bo_problem *pb, double *const *v, int64_t *valid)
{
    (void)valid;
    FOR_EACH_WINDOW(k, pb, { v[PY][out] = v[PX][window_argmax(k, v[PX], n, c, wh, ww)]; });
}

/* With ties: every dy goes to its window's first maximum (PyTorch's rule). */
static void maxpool_grad_reference(const bo_case *k, const bo_problem *pb, double *const *g)
{
    const size_t nx = bo_numel(&pb->t[PX]);
    double *x = bo_xmalloc(nx * sizeof *x);
    for (size_t i = 0; i < nx; i++)
        x[i] = bo_f32(pb, PX)[i];
    const float *dy = bo_f32(pb, PDY);
    FOR_EACH_WINDOW(k, pb, { g[PDX][window_argmax(k, x, n, c, wh, ww)] += dy[out]; });
    free(x);
}

/* y is an element of x: exact on every backend (the routing made visible).
 * dx sums the dy routed to an element, up to 9 for these windows, in an
 * order a backend may choose: a few ulp (seen <= 1.6e-7 over 200 seeds).
 * Piecewise linear and the values 4 / numel >= 1.8e-3 apart: a step of 1e-4
 * never moves a maximum, and the differences are exact. */
static void maxpool_declare(const bo_case *k, bo_problem *pb)
{
    pool_declare(k, pb);
    pb->t[PY].exact = 1;
}

const bo_family bo_maxpool2d = {
    .name = "maxpool2d",
    .fwd_entries = "maxpool2d_forward",
    .bwd_entries = "maxpool2d_backward",
    .tol_fwd = 1e-7,
    .tol_fd = 4e-7,
    .fd_eps = 1e-4,
    .declare = maxpool_declare,
    .draw = maxpool_draw,
    .forward = maxpool_forward,
    .backward = maxpool_backward,
    .reference = maxpool_reference,
    .grad_reference = maxpool_grad_reference,
    .describe = pool_describe,
    .tape = maxpool_tape,
};

/* ---- avgpool2d ---------------------------------------------------------- */

static int uniform_draw(const bo_case *k, bo_problem *pb)
{
    bo_fill(bo_f32(pb, PX), bo_numel(&pb->t[PX]), k->lo, k->hi);
    return 1;
}

static facs_status avgpool_forward(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)pb;
    facs_pool2d_params p = pool_params(k);
    return c->be->avgpool2d_forward(c->ctx, &p, c->t[PX], c->t[PY]);
}

static facs_status avgpool_backward(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)pb;
    facs_pool2d_params p = pool_params(k);
    return c->be->avgpool2d_backward(c->ctx, &p, c->t[PDY], c->t[PDX]);
}

static facs_status avgpool_tape(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)pb;
    facs_pool2d_params p = pool_params(k);
    c->t[PY] = facs_avgpool2d(c->ctx, c->t[PX], &p);
    return bo_wrapped(c->t[PY]);
}

static void avgpool_reference(const bo_case *k, const bo_problem *pb, double *const *v, int64_t *valid)
{
    (void)valid;
    FOR_EACH_WINDOW(k, pb, {
        double sum = 0.0;
        for (int h = wh.lo; h < wh.hi; h++)
            for (int w = ww.lo; w < ww.hi; w++)
                sum += v[PX][X_AT(k, n, h, w, c)];
        const int count = a_->count_include_pad ? wh.padded * ww.padded : (wh.hi - wh.lo) * (ww.hi - ww.lo);
        v[PY][out] = sum / count;
    });
}

/* Means of at most 15 values and their spread-out gradients: a few ulp of
 * the largest (seen <= 2e-7 over 200 seeds, both ways). Linear: exact differences for
 * any step. */
const bo_family bo_avgpool2d = {
    .name = "avgpool2d",
    .fwd_entries = "avgpool2d_forward",
    .bwd_entries = "avgpool2d_backward",
    .tol_fwd = 5e-7,
    .tol_fd = 5e-7,
    .fd_eps = 1e-2,
    .declare = pool_declare,
    .draw = uniform_draw,
    .forward = avgpool_forward,
    .backward = avgpool_backward,
    .reference = avgpool_reference,
    .describe = pool_describe,
    .tape = avgpool_tape,
};

/* ---- adaptive_avgpool2d ------------------------------------------------- */

static void adaptive_declare(const bo_case *k, bo_problem *pb) { declare_spatial(k, pb, k->rs.oh, k->rs.ow); }

static facs_status adaptive_forward(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)k, (void)pb;
    return c->be->adaptive_avgpool2d_forward(c->ctx, c->t[PX], c->t[PY]);
}

static facs_status adaptive_backward(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)k, (void)pb;
    return c->be->adaptive_avgpool2d_backward(c->ctx, c->t[PDY], c->t[PDX]);
}

static facs_status adaptive_tape(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)pb;
    c->t[PY] = facs_adaptive_avgpool2d(c->ctx, c->t[PX], k->rs.oh, k->rs.ow);
    return bo_wrapped(c->t[PY]);
}

/* PyTorch's bins: [floor(i in / out), ceil((i + 1) in / out)). */
static void adaptive_reference(const bo_case *k, const bo_problem *pb, double *const *v, int64_t *valid)
{
    (void)pb, (void)valid;
    const int OH = k->rs.oh, OW = k->rs.ow;
    for (int n = 0; n < k->n; n++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                const int h0 = oh * k->h / OH, h1 = ((oh + 1) * k->h + OH - 1) / OH;
                const int w0 = ow * k->w / OW, w1 = ((ow + 1) * k->w + OW - 1) / OW;
                for (int c = 0; c < k->c; c++) {
                    double sum = 0.0;
                    for (int h = h0; h < h1; h++)
                        for (int w = w0; w < w1; w++)
                            sum += v[PX][X_AT(k, n, h, w, c)];
                    v[PY][((size_t)(n * OH + oh) * OW + ow) * k->c + c] = sum / ((h1 - h0) * (w1 - w0));
                }
            }
}

static void adaptive_describe(const bo_case *k, char *buf, size_t size)
{
    snprintf(buf, size, "x(%d,%d,%d,%d) to %dx%d", k->n, k->c, k->h, k->w, k->rs.oh, k->rs.ow);
}

/* Means of up to 221 values (global pooling of 13x17): float sums err by
 * ~sqrt(221) ulp (seen <= 9.8e-7 over 200 seeds); dx spreads dy over the
 * bins (seen <= 1.7e-7). Linear: exact differences. */
const bo_family bo_adaptive_avgpool2d = {
    .name = "adaptive_avgpool2d",
    .fwd_entries = "adaptive_avgpool2d_forward",
    .bwd_entries = "adaptive_avgpool2d_backward",
    .tol_fwd = 3e-6,
    .tol_fd = 5e-7,
    .fd_eps = 1e-2,
    .declare = adaptive_declare,
    .draw = uniform_draw,
    .forward = adaptive_forward,
    .backward = adaptive_backward,
    .reference = adaptive_reference,
    .describe = adaptive_describe,
    .tape = adaptive_tape,
};

/* ---- resize_bilinear ---------------------------------------------------- */

static void resize_declare(const bo_case *k, bo_problem *pb) { declare_spatial(k, pb, k->rs.oh, k->rs.ow); }

static facs_status resize_forward(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)pb;
    return c->be->resize_bilinear_forward(c->ctx, k->rs.align_corners, c->t[PX], c->t[PY]);
}

static facs_status resize_backward(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)pb;
    return c->be->resize_bilinear_backward(c->ctx, k->rs.align_corners, c->t[PDY], c->t[PDX]);
}

static facs_status resize_tape(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)pb;
    c->t[PY] = facs_resize_bilinear(c->ctx, c->t[PX], k->rs.oh, k->rs.ow, k->rs.align_corners);
    return bo_wrapped(c->t[PY]);
}

typedef struct {
    int i0, i1;
    double l0, l1;
} tap;

/* F.interpolate(mode="bilinear")'s source coordinate of output index d:
 * PyTorch rounds the scale to float (then the coordinate of the far pixels
 * differs from the exact one by up to ~1e-6), and so does backend.h's
 * contract through it. */
static tap tap_at(int in, int out, int align_corners, int d)
{
    float scale = align_corners ? (out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f) : (float)in / (float)out;
    double src = align_corners ? (double)scale * d : (double)scale * (d + 0.5) - 0.5;
    if (src < 0.0)
        src = 0.0;
    int i0 = (int)src < in - 1 ? (int)src : in - 1;
    double l1 = src - i0;
    return (tap){i0, i0 + (i0 < in - 1), 1.0 - l1, l1};
}

static void resize_reference(const bo_case *k, const bo_problem *pb, double *const *v, int64_t *valid)
{
    (void)pb, (void)valid;
    const int OH = k->rs.oh, OW = k->rs.ow, ac = k->rs.align_corners;
    for (int n = 0; n < k->n; n++)
        for (int oh = 0; oh < OH; oh++) {
            const tap th = tap_at(k->h, OH, ac, oh);
            for (int ow = 0; ow < OW; ow++) {
                const tap tw = tap_at(k->w, OW, ac, ow);
                for (int c = 0; c < k->c; c++) {
                    const double *x = v[PX];
                    double top = x[X_AT(k, n, th.i0, tw.i0, c)] * tw.l0 + x[X_AT(k, n, th.i0, tw.i1, c)] * tw.l1;
                    double bot = x[X_AT(k, n, th.i1, tw.i0, c)] * tw.l0 + x[X_AT(k, n, th.i1, tw.i1, c)] * tw.l1;
                    v[PY][((size_t)(n * OH + oh) * OW + ow) * k->c + c] = top * th.l0 + bot * th.l1;
                }
            }
        }
}

static void resize_describe(const bo_case *k, char *buf, size_t size)
{
    snprintf(buf, size, "x(%d,%d,%d,%d) to %dx%d%s", k->n, k->c, k->h, k->w, k->rs.oh, k->rs.ow,
             k->rs.align_corners ? " align_corners" : "");
}

/* Four taps, weights rounded to float: a few ulp (seen <= 1.7e-7 over 200
 * seeds); dx gathers up to 8x8 taps' shares when the output is 8 times
 * larger (seen <= 8.2e-7). Linear: exact differences. */
const bo_family bo_resize_bilinear = {
    .name = "resize_bilinear",
    .fwd_entries = "resize_bilinear_forward",
    .bwd_entries = "resize_bilinear_backward",
    .tol_fwd = 5e-7,
    .tol_fd = 2e-6,
    .fd_eps = 1e-2,
    .declare = resize_declare,
    .draw = uniform_draw,
    .forward = resize_forward,
    .backward = resize_backward,
    .reference = resize_reference,
    .describe = resize_describe,
    .tape = resize_tape,
};
