/* Families activation, add, dropout2d and scale_channels: one value (or one
 * product) per element. Their float results round once or twice, so the
 * tolerances sit a few ulp (2^-24 = 6e-8 each) above zero; a wrong index, a
 * wrong channel of s or of the mask is O(1). */
#include <math.h>
#include <stdio.h>

#include "bops.h"

/* ---- activation ----------------------------------------------------------- */

enum { AX, AY, ADY, ADX };

/* Finite differences stay this far from the ReLU kinks (0 and 6); the step
 * is ten times smaller, so no difference straddles one. */
#define KINK_MARGIN 1e-2

static const char *act_name(facs_activation act)
{
    return act == FACS_ACT_RELU ? "relu" : act == FACS_ACT_RELU6 ? "relu6" : "sigmoid";
}

static void act_declare(const bo_case *k, bo_problem *pb)
{
    bo_declare(pb, AX, "x", BO_IN, k->n, k->c, k->h, k->w);
    bo_declare_like(pb, AY, "y", BO_OUT, AX);
    bo_declare_like(pb, ADY, "dy", BO_DY, AY);
    bo_declare_like(pb, ADX, "dx", BO_DX, AX);
}

static int near_kink(facs_activation act, double x)
{
    if (act == FACS_ACT_SIGMOID)
        return 0;
    return fabs(x) < KINK_MARGIN || (act == FACS_ACT_RELU6 && fabs(x - 6.0) < KINK_MARGIN);
}

static int act_draw(const bo_case *k, bo_problem *pb)
{
    float *x = bo_f32(pb, AX);
    const size_t n = bo_numel(&pb->t[AX]);
    for (size_t i = 0; i < n; i++) {
        if (k->act.kinks && i % 3 == 0) {
            x[i] = k->act.act == FACS_ACT_RELU6 && i % 2 ? 6.0f : 0.0f;
            continue;
        }
        do
            x[i] = (float)bo_uniform(k->lo, k->hi);
        while (!k->act.kinks && near_kink(k->act.act, x[i]));
    }
    return 1;
}

static facs_status act_forward(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)pb;
    return c->be->activation_forward(c->ctx, k->act.act, c->t[AX], c->t[AY]);
}

static facs_status act_backward(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)pb;
    return c->be->activation_backward(c->ctx, k->act.act, c->t[AX], c->t[AY], c->t[ADY], c->t[ADX]);
}

static facs_status act_tape(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)pb;
    facs_tensor *(*const op)(facs_ctx *, facs_tensor *) = k->act.act == FACS_ACT_RELU    ? facs_relu
                                                          : k->act.act == FACS_ACT_RELU6 ? facs_relu6
                                                                                         : facs_sigmoid;
    c->t[AY] = op(c->ctx, c->t[AX]);
    return bo_wrapped(c->t[AY]);
}

static void act_reference(const bo_case *k, const bo_problem *pb, double *const *v, int64_t *valid)
{
    (void)valid;
    for (size_t i = 0; i < bo_numel(&pb->t[AX]); i++) {
        const double x = v[AX][i];
        switch (k->act.act) {
        case FACS_ACT_RELU:
            v[AY][i] = x < 0.0 ? 0.0 : x;
            break;
        case FACS_ACT_RELU6:
            v[AY][i] = x < 0.0 ? 0.0 : x > 6.0 ? 6.0 : x;
            break;
        case FACS_ACT_SIGMOID:
            v[AY][i] = 1.0 / (1.0 + exp(-x));
            break;
        }
    }
}

/* At the kinks themselves: PyTorch's gradient there is 0 (threshold_backward
 * keeps dy where x > 0, hardtanh_backward where 0 < x < 6). */
static void act_grad_reference(const bo_case *k, const bo_problem *pb, double *const *g)
{
    const float *x = bo_f32(pb, AX), *dy = bo_f32(pb, ADY);
    for (size_t i = 0; i < bo_numel(&pb->t[AX]); i++) {
        int pass = k->act.act == FACS_ACT_RELU ? x[i] > 0.0f : x[i] > 0.0f && x[i] < 6.0f;
        if (k->act.act == FACS_ACT_SIGMOID) {
            double y = 1.0 / (1.0 + exp(-(double)x[i]));
            g[ADX][i] = dy[i] * y * (1.0 - y);
        } else {
            g[ADX][i] = pass ? dy[i] : 0.0;
        }
    }
}

static void act_describe(const bo_case *k, char *buf, size_t size)
{
    snprintf(buf, size, "%s x(%d,%d,%d,%d) in [%g, %g]%s", act_name(k->act.act), k->n, k->c, k->h, k->w, k->lo, k->hi,
             k->act.kinks ? " at the kinks" : "");
}

/* The ReLUs copy or zero (exact); sigmoid is oneDNN's, within a few ulp of
 * 1 / (1 + exp(-x)) (seen <= 8.7e-8 over 200 seeds), and so is its gradient
 * y (1 - y) dy (seen <= 2e-7). eps 1e-3 is a tenth of the kink margin;
 * sigmoid's truncation error eps^2 |f'''| / 6 < 3e-8 relative is below
 * float noise. */
const bo_family bo_activation = {
    .name = "activation",
    .fwd_entries = "activation_forward",
    .bwd_entries = "activation_backward",
    .tol_fwd = 2.5e-7,
    .tol_fd = 5e-7,
    .fd_eps = 1e-3,
    .declare = act_declare,
    .draw = act_draw,
    .forward = act_forward,
    .backward = act_backward,
    .reference = act_reference,
    .grad_reference = act_grad_reference,
    .describe = act_describe,
    .tape = act_tape,
};

/* ---- add ------------------------------------------------------------------ */

enum { DA, DB, DY };

static void add_declare(const bo_case *k, bo_problem *pb)
{
    bo_declare(pb, DA, "a", BO_IN, k->n, k->c, k->h, k->w);
    bo_declare_like(pb, DB, "b", BO_IN, DA);
    bo_declare_like(pb, DY, "y", BO_OUT, DA);
}

static int add_draw(const bo_case *k, bo_problem *pb)
{
    bo_fill(bo_f32(pb, DA), bo_numel(&pb->t[DA]), k->lo, k->hi);
    bo_fill(bo_f32(pb, DB), bo_numel(&pb->t[DB]), k->lo, k->hi);
    return 1;
}

static facs_status add_forward(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)pb;
    return c->be->add_forward(c->ctx, c->t[DA], c->t[DB], k->add.act, c->t[DY]);
}

/* With an activation, the separate ops it fuses: the same bits. */
static facs_status add_tape(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)pb;
    facs_tensor *sum = facs_add(c->ctx, c->t[DA], c->t[DB]);
    c->t[DY] = k->add.act == FACS_POST_RELU ? facs_relu(c->ctx, sum)
               : k->add.act == FACS_POST_RELU6 ? facs_relu6(c->ctx, sum)
                                                : sum;
    return bo_wrapped(c->t[DY]);
}

static void add_reference(const bo_case *k, const bo_problem *pb, double *const *v, int64_t *valid)
{
    (void)valid;
    for (size_t i = 0; i < bo_numel(&pb->t[DA]); i++) {
        const double s = v[DA][i] + v[DB][i];
        const double top = k->add.act == FACS_POST_RELU6 ? 6.0 : INFINITY;
        v[DY][i] = k->add.act == FACS_POST_NONE ? s : s < 0.0 ? 0.0 : s > top ? top : s;
    }
}

static void add_describe(const bo_case *k, char *buf, size_t size)
{
    static const char *const acts[] = {"", " relu", " relu6"};
    snprintf(buf, size, "(%d,%d,%d,%d)%s in [%g, %g]", k->n, k->c, k->h, k->w, acts[k->add.act], k->lo, k->hi);
}

/* One rounding per element: at most 2^-24 of the largest sum (the ReLUs
 * then copy or clamp it). Its backward is a copy done by ops.h, not an entry. */
const bo_family bo_add = {
    .name = "add",
    .fwd_entries = "add_forward",
    .tol_fwd = 1.2e-7,
    .declare = add_declare,
    .draw = add_draw,
    .forward = add_forward,
    .reference = add_reference,
    .describe = add_describe,
    .tape = add_tape,
};

/* ---- dropout2d ------------------------------------------------------------ */

enum { PX, PMASK, PY, PDY, PDX };

static void drop_declare(const bo_case *k, bo_problem *pb)
{
    bo_declare(pb, PX, "x", BO_IN, k->n, k->c, k->h, k->w);
    /* The mask is a draw, not arithmetic: every backend must draw the same bits. */
    bo_declare(pb, PMASK, "mask", BO_OUT, k->n, k->c, 1, 1)->exact = 1;
    bo_declare_like(pb, PY, "y", BO_OUT, PX);
    bo_declare_like(pb, PDY, "dy", BO_DY, PY);
    bo_declare_like(pb, PDX, "dx", BO_DX, PX);
}

static int drop_draw(const bo_case *k, bo_problem *pb)
{
    bo_fill(bo_f32(pb, PX), bo_numel(&pb->t[PX]), k->lo, k->hi);
    return 1;
}

static facs_status drop_forward(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)pb;
    /* The samples' place in a data-parallel batch picks their draws. */
    const int keep = c->ctx->batch_offset;
    c->ctx->batch_offset = k->drop.batch_offset;
    facs_status s = c->be->dropout2d_forward(c->ctx, k->drop.prob, k->drop.seed, c->t[PX], c->t[PMASK], c->t[PY]);
    c->ctx->batch_offset = keep;
    return s;
}

static facs_status drop_backward(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)k, (void)pb;
    return c->be->dropout2d_backward(c->ctx, c->t[PMASK], c->t[PDY], c->t[PDX]);
}

/* backend.h's mask: facs_rng_uniform(seed, (offset + n) C + c) < prob drops
 * the channel, the others keep 1 / (1 - prob) as a float (0 when prob = 1). */
static void drop_reference(const bo_case *k, const bo_problem *pb, double *const *v, int64_t *valid)
{
    (void)pb, (void)valid;
    const float prob = k->drop.prob, keep = prob < 1.0f ? 1.0f / (1.0f - prob) : 0.0f;
    const size_t hw = (size_t)k->h * k->w, first = (size_t)k->drop.batch_offset * k->c;
    for (int n = 0; n < k->n; n++)
        for (int c = 0; c < k->c; c++) {
            const size_t i = (size_t)n * k->c + c;
            const double m = facs_rng_uniform(k->drop.seed, first + i) < prob ? 0.0f : keep;
            v[PMASK][i] = m;
            for (size_t q = 0; q < hw; q++) {
                const size_t e = ((size_t)n * hw + q) * k->c + c;
                v[PY][e] = v[PX][e] * m;
            }
        }
}

static void drop_describe(const bo_case *k, char *buf, size_t size)
{
    snprintf(buf, size, "p %g x(%d,%d,%d,%d) seed %llu offset %d", (double)k->drop.prob, k->n, k->c, k->h, k->w,
             (unsigned long long)k->drop.seed, k->drop.batch_offset);
}

/* y = x * mask and dx = dy * mask: one rounding each (2^-24). The op is
 * linear in x: differences are exact for any step. No tape hook:
 * facs_dropout2d draws its seed from the context's stream, not the case's. */
const bo_family bo_dropout2d = {
    .name = "dropout2d",
    .fwd_entries = "dropout2d_forward",
    .bwd_entries = "dropout2d_backward",
    .tol_fwd = 1.2e-7,
    .tol_fd = 1.2e-7,
    .fd_eps = 1e-2,
    .declare = drop_declare,
    .draw = drop_draw,
    .forward = drop_forward,
    .backward = drop_backward,
    .reference = drop_reference,
    .describe = drop_describe,
};

/* ---- scale_channels ------------------------------------------------------- */

enum { SX, SS, SY, SDY, SDX, SDS };

static void sc_declare(const bo_case *k, bo_problem *pb)
{
    bo_declare(pb, SX, "x", BO_IN, k->n, k->c, k->h, k->w);
    bo_declare(pb, SS, "s", BO_IN, k->n, k->c, 1, 1);
    bo_declare_like(pb, SY, "y", BO_OUT, SX);
    bo_declare_like(pb, SDY, "dy", BO_DY, SY);
    bo_declare_like(pb, SDX, "dx", BO_DX, SX);
    bo_declare_like(pb, SDS, "ds", BO_DX, SS);
}

static int sc_draw(const bo_case *k, bo_problem *pb)
{
    bo_fill(bo_f32(pb, SX), bo_numel(&pb->t[SX]), k->lo, k->hi);
    bo_fill(bo_f32(pb, SS), bo_numel(&pb->t[SS]), -1, 1);
    return 1;
}

static facs_status sc_forward(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)k, (void)pb;
    return c->be->scale_channels_forward(c->ctx, c->t[SX], c->t[SS], c->t[SY]);
}

static facs_status sc_backward(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)k, (void)pb;
    return c->be->scale_channels_backward(c->ctx, c->t[SX], c->t[SS], c->t[SDY], c->t[SDX], c->t[SDS]);
}

static facs_status sc_tape(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)k, (void)pb;
    c->t[SY] = facs_scale_channels(c->ctx, c->t[SX], c->t[SS]);
    return bo_wrapped(c->t[SY]);
}

static void sc_reference(const bo_case *k, const bo_problem *pb, double *const *v, int64_t *valid)
{
    (void)pb, (void)valid;
    const size_t hw = (size_t)k->h * k->w;
    for (int n = 0; n < k->n; n++)
        for (size_t q = 0; q < hw; q++)
            for (int c = 0; c < k->c; c++) {
                const size_t e = ((size_t)n * hw + q) * k->c + c;
                v[SY][e] = v[SX][e] * v[SS][(size_t)n * k->c + c];
            }
}

static void sc_describe(const bo_case *k, char *buf, size_t size)
{
    snprintf(buf, size, "x(%d,%d,%d,%d)", k->n, k->c, k->h, k->w);
}

/* y and dx: one product each (2^-24). ds sums H W <= 221 products per
 * (n, c): ~sqrt(221) ulp of the largest (seen <= 9.2e-7 over 200 seeds). L
 * is bilinear, so differences in one variable at a time are exact. */
const bo_family bo_scale_channels = {
    .name = "scale_channels",
    .fwd_entries = "scale_channels_forward",
    .bwd_entries = "scale_channels_backward",
    .tol_fwd = 1.2e-7,
    .tol_fd = 2e-6,
    .fd_eps = 1e-2,
    .declare = sc_declare,
    .draw = sc_draw,
    .forward = sc_forward,
    .backward = sc_backward,
    .reference = sc_reference,
    .describe = sc_describe,
    .tape = sc_tape,
};
