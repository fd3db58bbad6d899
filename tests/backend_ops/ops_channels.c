/* Families concat, channel_pool and facs: ops along the channel axis, whose
 * values per pixel are contiguous in NHWC. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bops.h"

/* ---- concat --------------------------------------------------------------- */

enum { CX0, CX1, CX2, CY, CDY, CDX0, CDX1, CDX2 };

static void concat_declare(const bo_case *k, bo_problem *pb)
{
    static const char *const names[] = {"x0", "x1", "x2"}, *const grads[] = {"dx0", "dx1", "dx2"};
    int total = 0;
    for (int i = 0; i < 3; i++) {
        bo_declare(pb, CX0 + i, names[i], BO_IN, k->n, k->cat.c[i], k->h, k->w)->absent = i >= k->cat.count;
        total += i < k->cat.count ? k->cat.c[i] : 0;
    }
    /* A concatenation copies: every backend must give the same bits. */
    bo_declare(pb, CY, "y", BO_OUT, k->n, total, k->h, k->w)->exact = 1;
    bo_declare_like(pb, CDY, "dy", BO_DY, CY);
    for (int i = 0; i < 3; i++)
        bo_declare_like(pb, CDX0 + i, grads[i], BO_DX, CX0 + i)->exact = 1;
}

static int concat_draw(const bo_case *k, bo_problem *pb)
{
    for (int i = 0; i < k->cat.count; i++)
        bo_fill(bo_f32(pb, CX0 + i), bo_numel(&pb->t[CX0 + i]), k->lo, k->hi);
    return 1;
}

static facs_status concat_forward(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)pb;
    const facs_tensor *xs[3] = {c->t[CX0], c->t[CX1], c->t[CX2]};
    return c->be->concat_forward(c->ctx, k->cat.count, xs, c->t[CY]);
}

static facs_status concat_backward(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)pb;
    const facs_tensor *xs[3] = {c->t[CX0], c->t[CX1], c->t[CX2]};
    facs_tensor *dxs[3] = {c->t[CDX0], c->t[CDX1], c->t[CDX2]};
    return c->be->concat_backward(c->ctx, k->cat.count, xs, c->t[CDY], dxs);
}

static facs_status concat_tape(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)pb;
    facs_tensor *xs[3] = {c->t[CX0], c->t[CX1], c->t[CX2]};
    c->t[CY] = facs_concat(c->ctx, k->cat.count, xs);
    return bo_wrapped(c->t[CY]);
}

static void concat_reference(const bo_case *k, const bo_problem *pb, double *const *v, int64_t *valid)
{
    (void)valid;
    const size_t pixels = (size_t)k->n * k->h * k->w;
    const int total = pb->t[CY].c;
    for (size_t q = 0; q < pixels; q++) {
        double *out = v[CY] + q * total;
        for (int i = 0; i < k->cat.count; i++) {
            const int c = k->cat.c[i];
            for (int j = 0; j < c; j++)
                *out++ = v[CX0 + i][q * c + j];
        }
    }
}

static void concat_describe(const bo_case *k, char *buf, size_t size)
{
    int len = snprintf(buf, size, "(%d,C,%d,%d) C =", k->n, k->h, k->w);
    for (int i = 0; i < k->cat.count && len > 0 && (size_t)len < size; i++)
        len += snprintf(buf + len, size - len, "%s%d", i ? "+" : " ", k->cat.c[i]);
}

/* Copies: exact (the gradient tolerance only bounds the double rounding of
 * the differences, 1e-16 |L| / eps with |L| ~ 20: seen <= 1e-12). */
const bo_family bo_concat = {
    .name = "concat",
    .fwd_entries = "concat_forward",
    .bwd_entries = "concat_backward",
    .tol_fwd = 1e-10,
    .tol_fd = 1e-10,
    .fd_eps = 1e-2,
    .declare = concat_declare,
    .draw = concat_draw,
    .forward = concat_forward,
    .backward = concat_backward,
    .reference = concat_reference,
    .describe = concat_describe,
    .tape = concat_tape,
};

/* ---- channel_pool --------------------------------------------------------- */

enum { QX, QY, QDY, QDX };

static void cpool_declare(const bo_case *k, bo_problem *pb)
{
    const int max = k->cp.mode == FACS_CHANNEL_POOL_MAX;
    bo_declare(pb, QX, "x", BO_IN, k->n, k->c, k->h, k->w);
    /* Max picks an element and routes dy to it: exact on every backend. */
    bo_declare(pb, QY, "y", BO_OUT, k->n, k->c / k->cp.r, k->h, k->w)->exact = max;
    bo_declare_like(pb, QDY, "dy", BO_DY, QY);
    bo_declare_like(pb, QDX, "dx", BO_DX, QX)->exact = max;
}

/* Max: distinct values (4 / numel >= 3.8e-4 apart, more than twice the
 * step), so no chunk's maximum moves under a difference. */
static int cpool_draw(const bo_case *k, bo_problem *pb)
{
    if (k->cp.mode == FACS_CHANNEL_POOL_MAX)
        bo_fill_distinct(bo_f32(pb, QX), bo_numel(&pb->t[QX]), k->lo, k->hi);
    else
        bo_fill(bo_f32(pb, QX), bo_numel(&pb->t[QX]), k->lo, k->hi);
    return 1;
}

static facs_status cpool_forward(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)pb;
    return c->be->channel_pool_forward(c->ctx, k->cp.mode, c->t[QX], c->t[QY]);
}

static facs_status cpool_backward(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)pb;
    return c->be->channel_pool_backward(c->ctx, k->cp.mode, c->t[QX], c->t[QDY], c->t[QDX]);
}

static facs_status cpool_tape(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)pb;
    c->t[QY] = facs_channel_pool(c->ctx, c->t[QX], k->c / k->cp.r, k->cp.mode);
    return bo_wrapped(c->t[QY]);
}

static void cpool_reference(const bo_case *k, const bo_problem *pb, double *const *v, int64_t *valid)
{
    (void)pb, (void)valid;
    const int r = k->cp.r, co = k->c / r;
    const size_t pixels = (size_t)k->n * k->h * k->w;
    for (size_t q = 0; q < pixels; q++)
        for (int i = 0; i < co; i++) {
            const double *chunk = v[QX] + q * k->c + (size_t)i * r;
            double m = chunk[0], sum = 0.0;
            for (int j = 0; j < r; j++) {
                m = chunk[j] > m ? chunk[j] : m;
                sum += chunk[j];
            }
            v[QY][q * co + i] = k->cp.mode == FACS_CHANNEL_POOL_MAX ? m : sum / r;
        }
}

static void cpool_describe(const bo_case *k, char *buf, size_t size)
{
    snprintf(buf, size, "%s R=%d x(%d,%d,%d,%d)", k->cp.mode == FACS_CHANNEL_POOL_MAX ? "max" : "avg", k->cp.r, k->n,
             k->c, k->h, k->w);
}

/* Avg: a mean of R <= 8 values (seen <= 1.6e-7 over 200 seeds) and dy / R,
 * one rounding at most (exact for the table's powers of two). Piecewise
 * linear: exact differences. */
const bo_family bo_channel_pool = {
    .name = "channel_pool",
    .fwd_entries = "channel_pool_forward",
    .bwd_entries = "channel_pool_backward",
    .tol_fwd = 4e-7,
    .tol_fd = 1.2e-7,
    .fd_eps = 1e-4,
    .declare = cpool_declare,
    .draw = cpool_draw,
    .forward = cpool_forward,
    .backward = cpool_backward,
    .reference = cpool_reference,
    .describe = cpool_describe,
    .tape = cpool_tape,
};

/* ---- facs ----------------------------------------------------------------- */

enum { FX, FW, FB, FY, FZ, FPROB, FDY, FDX, FDW, FDB };

/* Threshold fusion switches branch at p = T: draws with a p this close to T
 * are redrawn (the backends' float p and the reference's double p could fall
 * on either side; the derivative does not exist there). A difference step in
 * x or w moves p by less than 3e-5. */
#define P_MARGIN 1e-4
/* Every chunk's maximum stands this far above its runner-up, so a step of
 * fd_eps never moves it and rounding never makes a tie. */
#define CHUNK_GAP 1e-3

static void facs_declare(const bo_case *k, bo_problem *pb)
{
    const int co = k->c / k->fa.r;
    bo_declare(pb, FX, "x", BO_IN, k->n, k->c, k->h, k->w);
    bo_declare(pb, FW, "w", BO_IN, co, k->c, 1, 1);
    bo_declare(pb, FB, "b", BO_IN, co, 1, 1, 1)->absent = !k->fa.bias;
    bo_declare(pb, FY, "y", BO_OUT, k->n, co, k->h, k->w);
    bo_declare(pb, FZ, "z", BO_OUT, k->n, k->c, 1, 1);
    bo_declare(pb, FPROB, "prob", BO_OUT, k->n, co, 1, 1);
    bo_declare_like(pb, FDY, "dy", BO_DY, FY);
    bo_declare_like(pb, FDX, "dx", BO_DX, FX);
    bo_declare_like(pb, FDW, "dw", BO_DPARAM, FW);
    bo_declare_like(pb, FDB, "db", BO_DPARAM, FB);
}

/* z, p and y of paper Eq. 1-3 in double. */
static void facs_reference(const bo_case *k, const bo_problem *pb, double *const *v, int64_t *valid)
{
    (void)pb, (void)valid;
    const int C = k->c, r = k->fa.r, co = C / r;
    const size_t hw = (size_t)k->h * k->w;
    double *z = bo_xmalloc((size_t)C * sizeof *z);
    for (int n = 0; n < k->n; n++) {
        const double *x = v[FX] + (size_t)n * hw * C;
        for (int c = 0; c < C; c++) {
            double sum = 0.0;
            for (size_t q = 0; q < hw; q++)
                sum += x[q * C + c];
            z[c] = sum / (double)hw;
            v[FZ][(size_t)n * C + c] = z[c];
        }
        for (int i = 0; i < co; i++) {
            double s = k->fa.bias ? v[FB][i] : 0.0;
            for (int c = 0; c < C; c++)
                s += v[FW][(size_t)i * C + c] * z[c];
            v[FPROB][(size_t)n * co + i] = 1.0 / (1.0 + exp(-s));
        }
        for (size_t q = 0; q < hw; q++)
            for (int i = 0; i < co; i++) {
                const double *chunk = x + q * C + (size_t)i * r;
                const double p = v[FPROB][(size_t)n * co + i];
                double m = chunk[0], a = 0.0;
                for (int j = 0; j < r; j++) {
                    m = chunk[j] > m ? chunk[j] : m;
                    a += chunk[j];
                }
                a /= r;
                double y = k->fa.fusion == FACS_FUSION_WEIGHTED ? p * m + (1.0 - p) * a
                           : p <= k->fa.threshold               ? p * m
                                                                : p * a;
                v[FY][((size_t)n * hw + q) * co + i] = y;
            }
    }
    free(z);
}

/* Lifts each chunk's first maximum CHUNK_GAP above the rest. */
static void separate_chunks(const bo_case *k, float *x)
{
    const int r = k->fa.r;
    const size_t chunks = (size_t)k->n * k->c * k->h * k->w / r;
    for (size_t q = 0; q < chunks && r > 1; q++) {
        float *chunk = x + q * r;
        int best = 0;
        for (int j = 1; j < r; j++)
            best = chunk[j] > chunk[best] ? j : best;
        float second = -INFINITY;
        for (int j = 0; j < r; j++)
            second = j != best && chunk[j] > second ? chunk[j] : second;
        if (chunk[best] - second < CHUNK_GAP)
            chunk[best] = second + (float)(2 * CHUNK_GAP);
    }
}

/* The smallest |p - T| of the draw (1 for weighted fusion). */
static double threshold_margin(const bo_case *k, const bo_problem *pb)
{
    if (k->fa.fusion == FACS_FUSION_WEIGHTED)
        return 1.0;
    double *v[BO_MAX_TENSORS] = {0};
    for (int i = 0; i < pb->count; i++) {
        size_t n = bo_numel(&pb->t[i]);
        v[i] = bo_xmalloc(n * sizeof(double));
        if (i == FX || i == FW || i == FB)
            for (size_t j = 0; j < n; j++)
                v[i][j] = bo_f32(pb, i)[j];
    }
    int64_t unused;
    facs_reference(k, pb, v, &unused);
    double margin = 1.0;
    for (size_t j = 0; j < bo_numel(&pb->t[FPROB]); j++)
        margin = fmin(margin, fabs(v[FPROB][j] - k->fa.threshold));
    for (int i = 0; i < pb->count; i++)
        free(v[i]);
    return margin;
}

/* x varies per (n, channel) as well as per pixel, so z and p spread over
 * (0, 1) rather than clustering at 0.5. */
static int facs_draw(const bo_case *k, bo_problem *pb)
{
    const size_t hw = (size_t)k->h * k->w;
    float *x = bo_f32(pb, FX);
    for (int attempt = 0; attempt < 50; attempt++) {
        for (int n = 0; n < k->n; n++)
            for (int c = 0; c < k->c; c++) {
                double offset = bo_uniform(-1, 1);
                for (size_t q = 0; q < hw; q++)
                    x[((size_t)n * hw + q) * k->c + c] = (float)(offset + bo_uniform(k->lo, k->hi));
            }
        separate_chunks(k, x);
        bo_fill(bo_f32(pb, FW), bo_numel(&pb->t[FW]), -1, 1);
        bo_fill(bo_f32(pb, FB), bo_numel(&pb->t[FB]), -1, 1);
        if (threshold_margin(k, pb) >= P_MARGIN)
            return 1;
    }
    return 0;
}

static facs_status facs_fwd(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)pb;
    facs_fuse_params p = {.fusion = k->fa.fusion, .threshold = k->fa.threshold};
    return c->be->facs_forward(c->ctx, &p, c->t[FX], c->t[FW], c->t[FB], c->t[FY], c->t[FZ], c->t[FPROB]);
}

static facs_status facs_bwd(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)pb;
    facs_fuse_params p = {.fusion = k->fa.fusion, .threshold = k->fa.threshold};
    return c->be->facs_backward(c->ctx, &p, c->t[FX], c->t[FW], c->t[FZ], c->t[FPROB], c->t[FDY], c->t[FDX],
                                c->t[FDW], c->t[FDB]);
}

static facs_status facs_tape(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)pb;
    facs_fuse_params p = {.fusion = k->fa.fusion, .threshold = k->fa.threshold};
    c->t[FY] = facs_facs(c->ctx, c->t[FX], c->t[FW], c->t[FB], &p);
    return bo_wrapped(c->t[FY]);
}

static void facs_describe(const bo_case *k, char *buf, size_t size)
{
    char mode[32] = "weighted";
    if (k->fa.fusion == FACS_FUSION_THRESHOLD)
        snprintf(mode, sizeof mode, "T=%g", (double)k->fa.threshold);
    snprintf(buf, size, "%s R=%d x(%d,%d,%d,%d)%s", mode, k->fa.r, k->n, k->c, k->h, k->w, k->fa.bias ? " bias" : "");
}

/* Forward: pixel sums of up to 221 terms, then a C-term dot product and a
 * sigmoid (seen <= 5.7e-7 over 200 seeds). Gradients: db and dw go through
 * sums of dy dprob over the pixels and a product with p (1 - p); dx adds
 * three terms (seen <= 3.2e-6, the largest where C/R = 5 outputs give db
 * few values to spread over). eps 1e-4: a
 * smooth function away from the branch switch and the chunk ties; its
 * truncation error (eps^2 |f'''| / 6) and the double rounding of L
 * (1e-16 |L| / eps) stay below 1e-9 relative. */
const bo_family bo_facs = {
    .name = "facs",
    .fwd_entries = "facs_forward",
    .bwd_entries = "facs_backward",
    .tol_fwd = 1.5e-6,
    .tol_fd = 8e-6,
    .fd_eps = 1e-4,
    .declare = facs_declare,
    .draw = facs_draw,
    .forward = facs_fwd,
    .backward = facs_bwd,
    .reference = facs_reference,
    .describe = facs_describe,
    .tape = facs_tape,
};
