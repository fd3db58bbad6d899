/* Families conv2d and linear: the weighted sums. Both are linear in each
 * operand, so central differences of the double forward are exact up to
 * double rounding (~1e-16 |L| / eps, below 1e-10 here) and the gradient
 * tolerance is the float backend's own rounding. */
#include <stdio.h>

#include "bops.h"

/* ---- conv2d --------------------------------------------------------------- */

enum { CX, CW, CB, CY, CDY, CDX, CDW, CDB };

static int conv_out(int in, int k, int stride, int pad, int dil)
{
    return (in + 2 * pad - dil * (k - 1) - 1) / stride + 1;
}

static int conv_has_backward(const bo_case *k) { return !k->conv.post_sum && k->conv.post_act == FACS_POST_NONE; }

static facs_conv2d_params conv_params(const bo_case *k)
{
    const bo_conv_args *a = &k->conv;
    return (facs_conv2d_params){.stride_h = a->sh, .stride_w = a->sw, .pad_h = a->ph, .pad_w = a->pw,
                                .dil_h = a->dh, .dil_w = a->dw, .groups = a->groups, .post_sum = a->post_sum,
                                .post_act = a->post_act};
}

static void conv_declare(const bo_case *k, bo_problem *pb)
{
    const bo_conv_args *a = &k->conv;
    int oh = conv_out(k->h, a->kh, a->sh, a->ph, a->dh), ow = conv_out(k->w, a->kw, a->sw, a->pw, a->dw);
    bo_declare(pb, CX, "x", BO_IN, k->n, k->c, k->h, k->w);
    bo_declare(pb, CW, "w", BO_IN, a->co, k->c / a->groups, a->kh, a->kw);
    bo_declare(pb, CB, "b", BO_IN, a->co, 1, 1, 1)->absent = !a->bias;
    /* post_sum: y holds the residual on entry. */
    bo_declare(pb, CY, "y", a->post_sum ? BO_STATE : BO_OUT, k->n, a->co, oh, ow);
    if (!conv_has_backward(k))
        return;
    bo_declare_like(pb, CDY, "dy", BO_DY, CY);
    bo_declare_like(pb, CDX, "dx", BO_DX, CX);
    bo_declare_like(pb, CDW, "dw", BO_DPARAM, CW);
    /* The CPU sums db by its own loop when dw is not wanted, inside oneDNN's
     * backward-weights primitive when it is. */
    bo_declare_like(pb, CDB, "db", BO_DPARAM, CB)->alone_rounds = 1;
}

static int conv_draw(const bo_case *k, bo_problem *pb)
{
    bo_fill(bo_f32(pb, CX), bo_numel(&pb->t[CX]), k->lo, k->hi);
    bo_fill(bo_f32(pb, CW), bo_numel(&pb->t[CW]), -1, 1);
    bo_fill(bo_f32(pb, CB), bo_numel(&pb->t[CB]), -1, 1);
    bo_fill(bo_f32(pb, CY), bo_numel(&pb->t[CY]), -1, 1); /* the residual of post_sum */
    return 1;
}

static facs_status conv_forward(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)pb;
    facs_conv2d_params p = conv_params(k);
    return c->be->conv2d_forward(c->ctx, &p, c->t[CX], c->t[CW], c->t[CB], c->t[CY]);
}

static facs_status conv_backward(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)pb;
    facs_conv2d_params p = conv_params(k);
    return c->be->conv2d_backward(c->ctx, &p, c->t[CX], c->t[CW], c->t[CDY], c->t[CDX], c->t[CDW], c->t[CDB]);
}

/* The post-ops are facs_conv2d_fused's (inference: the residual is y's initial contents). */
static facs_status conv_tape(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)pb;
    facs_conv2d_params p = conv_params(k);
    const bo_conv_args *a = &k->conv;
    if (conv_has_backward(k))
        c->t[CY] = facs_conv2d(c->ctx, c->t[CX], c->t[CW], c->t[CB], &p);
    else
        c->t[CY] = facs_conv2d_fused(c->ctx, c->t[CX], c->t[CW], c->t[CB], &p, a->post_sum ? c->t[CY] : NULL,
                                     a->post_act);
    return bo_wrapped(c->t[CY]);
}

/* NHWC x, OHWI w: output channel o of group g reads input channels
 * [g Ci/groups, (g + 1) Ci/groups). */
static void conv_reference(const bo_case *k, const bo_problem *pb, double *const *v, int64_t *valid)
{
    (void)valid;
    const bo_conv_args *a = &k->conv;
    const bo_tensor *yt = &pb->t[CY];
    const int H = k->h, W = k->w, C = k->c, OH = yt->h, OW = yt->w, CO = a->co;
    const int cig = C / a->groups, cog = CO / a->groups;
    const double *x = v[CX], *w = v[CW], *b = a->bias ? v[CB] : NULL;
    double *y = v[CY];
    for (int n = 0; n < k->n; n++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++)
                for (int o = 0; o < CO; o++) {
                    double s = b ? b[o] : 0.0;
                    const int g = o / cog;
                    for (int ki = 0; ki < a->kh; ki++) {
                        const int ih = oh * a->sh - a->ph + ki * a->dh;
                        if (ih < 0 || ih >= H)
                            continue;
                        for (int kj = 0; kj < a->kw; kj++) {
                            const int iw = ow * a->sw - a->pw + kj * a->dw;
                            if (iw < 0 || iw >= W)
                                continue;
                            const double *xr = x + ((size_t)(n * H + ih) * W + iw) * C + (size_t)g * cig;
                            const double *wr = w + ((size_t)(o * a->kh + ki) * a->kw + kj) * cig;
                            for (int ic = 0; ic < cig; ic++)
                                s += xr[ic] * wr[ic];
                        }
                    }
                    double *out = y + ((size_t)(n * OH + oh) * OW + ow) * CO + o;
                    if (a->post_sum)
                        s += *out;
                    if (a->post_act != FACS_POST_NONE && s < 0.0)
                        s = 0.0;
                    if (a->post_act == FACS_POST_RELU6 && s > 6.0)
                        s = 6.0;
                    *out = s;
                }
}

static const char *post_act_name(facs_post_act act)
{
    return act == FACS_POST_RELU ? " +relu" : act == FACS_POST_RELU6 ? " +relu6" : "";
}

static void conv_describe(const bo_case *k, char *buf, size_t size)
{
    const bo_conv_args *a = &k->conv;
    snprintf(buf, size, "x(%d,%d,%d,%d) w(%d,%d,%d,%d) s%d,%d p%d,%d d%d,%d g%d%s%s%s", k->n, k->c, k->h, k->w, a->co,
             k->c / a->groups, a->kh, a->kw, a->sh, a->sw, a->ph, a->pw, a->dh, a->dw, a->groups,
             a->bias ? " bias" : "", a->post_sum ? " +sum" : "", post_act_name(a->post_act));
}

/* Forward: each output sums at most Ci/groups * KH * KW <= 153 products of
 * values in [-1, 1]; oneDNN's float sums err by ~sqrt(terms) ulp of the
 * largest output (seen <= 6.4e-7 over 200 seeds). Gradients: dw and db sum
 * up to N * OH * OW = 162 products, dx up to Co KH KW / groups; db has 4 to 9
 * elements, all of which may cancel below their terms (seen <= 1.4e-6).
 * A wrong index, stride, group offset or = for += is an O(1) error. eps: the
 * differences of a linear op are exact for any step; 1e-2 keeps the double
 * rounding of L (~1e-16 |L| / eps) below 1e-12. */
const bo_family bo_conv2d = {
    .name = "conv2d",
    .fwd_entries = "conv2d_forward",
    .bwd_entries = "conv2d_backward",
    .tol_fwd = 1.5e-6,
    .tol_fd = 4e-6,
    .fd_eps = 1e-2,
    .declare = conv_declare,
    .draw = conv_draw,
    .has_backward = conv_has_backward,
    .forward = conv_forward,
    .backward = conv_backward,
    .reference = conv_reference,
    .describe = conv_describe,
    .tape = conv_tape,
};

/* ---- linear --------------------------------------------------------------- */

enum { LX, LW, LB, LY, LDY, LDX, LDW, LDB };

static void linear_declare(const bo_case *k, bo_problem *pb)
{
    const bo_linear_args *a = &k->lin;
    bo_declare(pb, LX, "x", BO_IN, k->n, k->c, 1, 1);
    bo_declare(pb, LW, "w", BO_IN, a->out, k->c, 1, 1);
    bo_declare(pb, LB, "b", BO_IN, a->out, 1, 1, 1)->absent = !a->bias;
    bo_declare(pb, LY, "y", BO_OUT, k->n, a->out, 1, 1);
    bo_declare_like(pb, LDY, "dy", BO_DY, LY);
    bo_declare_like(pb, LDX, "dx", BO_DX, LX);
    bo_declare_like(pb, LDW, "dw", BO_DPARAM, LW);
    bo_declare_like(pb, LDB, "db", BO_DPARAM, LB);
}

static int linear_draw(const bo_case *k, bo_problem *pb)
{
    bo_fill(bo_f32(pb, LX), bo_numel(&pb->t[LX]), k->lo, k->hi);
    bo_fill(bo_f32(pb, LW), bo_numel(&pb->t[LW]), -1, 1);
    bo_fill(bo_f32(pb, LB), bo_numel(&pb->t[LB]), -1, 1);
    return 1;
}

static facs_status linear_forward(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)k, (void)pb;
    return c->be->linear_forward(c->ctx, c->t[LX], c->t[LW], c->t[LB], c->t[LY]);
}

static facs_status linear_backward(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)k, (void)pb;
    return c->be->linear_backward(c->ctx, c->t[LX], c->t[LW], c->t[LDY], c->t[LDX], c->t[LDW], c->t[LDB]);
}

static facs_status linear_tape(const bo_case *k, const bo_problem *pb, bo_call *c)
{
    (void)k, (void)pb;
    c->t[LY] = facs_linear(c->ctx, c->t[LX], c->t[LW], c->t[LB]);
    return bo_wrapped(c->t[LY]);
}

static void linear_reference(const bo_case *k, const bo_problem *pb, double *const *v, int64_t *valid)
{
    (void)pb, (void)valid;
    const int in = k->c, out = k->lin.out;
    for (int n = 0; n < k->n; n++)
        for (int o = 0; o < out; o++) {
            double s = k->lin.bias ? v[LB][o] : 0.0;
            for (int i = 0; i < in; i++)
                s += v[LX][(size_t)n * in + i] * v[LW][(size_t)o * in + i];
            v[LY][(size_t)n * out + o] = s;
        }
}

static void linear_describe(const bo_case *k, char *buf, size_t size)
{
    snprintf(buf, size, "x(%d,%d) w(%d,%d)%s", k->n, k->c, k->lin.out, k->c, k->lin.bias ? " bias" : "");
}

/* Sums of at most 33 products (forward), 10 (dx) or N <= 7 (dw, db): a few
 * ulp of the largest value (seen <= 3.8e-7 forward, 2.1e-7 gradients over
 * 150 seeds). Linear: exact differences. */
const bo_family bo_linear = {
    .name = "linear",
    .fwd_entries = "linear_forward",
    .bwd_entries = "linear_backward",
    .tol_fwd = 1e-6,
    .tol_fd = 6e-7,
    .fd_eps = 1e-2,
    .declare = linear_declare,
    .draw = linear_draw,
    .forward = linear_forward,
    .backward = linear_backward,
    .reference = linear_reference,
    .describe = linear_describe,
    .tape = linear_tape,
};
