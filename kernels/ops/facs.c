/* The FACS op: squeeze C channels to C/R by fusing chunks of R channels under
 * the probability p = sigmoid(W z + b) (paper Eq. 1-3, backend.h). Saves x,
 * w, b, z and p for backward; z and p cost N x C and N x C/R floats, and z
 * spares the backward a second sum of x over its pixels. */
#include <math.h>
#include <string.h>

#include "op_impl.h"

typedef struct {
    facs_fuse_params params;
    facs_tensor *x, *w, *b, *z, *prob;
} facs_state;

static facs_status facs_backward_node(facs_ctx *ctx, facs_node *node)
{
    facs_state *s = node->state;
    facs_tensor *dx, *dw, *db;
    FACS_TRY(facs_grad_begin(ctx, s->x, &dx));
    FACS_TRY(facs_accum_begin(ctx, s->w, &dw));
    FACS_TRY(facs_accum_begin(ctx, s->b, &db));
    FACS_TRY(ctx->backend->facs_backward(ctx, &s->params, s->x, s->w, s->z, s->prob, node->out->grad, dx, dw, db));
    FACS_TRY(facs_grad_end(ctx, s->x, dx));
    FACS_TRY(facs_accum_end(ctx, s->w, dw));
    return facs_accum_end(ctx, s->b, db);
}

static facs_status check_args(const facs_tensor *x, const facs_tensor *w, const facs_tensor *b,
                              const facs_fuse_params *p)
{
    char sx[64], sw[64], sb[64];
    if (!p)
        return facs_fail(FACS_ERR_ARG, "facs: no fusion parameters");
    if (p->fusion != FACS_FUSION_THRESHOLD && p->fusion != FACS_FUSION_WEIGHTED)
        return facs_fail(FACS_ERR_ARG, "facs: unknown fusion mode %d (threshold %d or weighted %d)", (int)p->fusion,
                         FACS_FUSION_THRESHOLD, FACS_FUSION_WEIGHTED);
    if (!isfinite(p->threshold))
        return facs_fail(FACS_ERR_ARG, "facs: fusion threshold %g is not finite", (double)p->threshold);
    if (w->c != x->c || w->h != 1 || w->w != 1)
        return facs_fail(FACS_ERR_ARG, "facs: weight %s does not fit input %s; expected (C/R, %d, 1, 1)",
                         facs_shape_str(w, sw, sizeof sw), facs_shape_str(x, sx, sizeof sx), x->c);
    if (x->c % w->n != 0)
        return facs_fail(FACS_ERR_ARG,
                         "facs: %d input channels are not divisible into %d output channels (weight %s)", x->c,
                         w->n, facs_shape_str(w, sw, sizeof sw));
    if (b && (b->n != w->n || b->c != 1 || b->h != 1 || b->w != 1))
        return facs_fail(FACS_ERR_ARG, "facs: bias %s should be (%d, 1, 1, 1)", facs_shape_str(b, sb, sizeof sb),
                         w->n);
    return FACS_OK;
}

facs_tensor *facs_facs(facs_ctx *ctx, facs_tensor *x, facs_tensor *w, facs_tensor *b, const facs_fuse_params *p)
{
    if (!x || !w)
        return NULL;
    if (facs_check_device(ctx, "facs", 3, (const facs_tensor *const[]){x, w, b}) ||
        facs_check_f32("facs", "x", x) || facs_check_f32("facs", "w", w) || facs_check_f32("facs", "b", b) ||
        check_args(x, w, b, p) || !FACS_HAS_ENTRY(ctx, facs_forward, "facs"))
        return NULL;
    facs_tensor *y = facs_ctx_tensor(ctx, FACS_F32, x->n, w->n, x->h, x->w);
    facs_tensor *z = facs_ctx_tensor(ctx, FACS_F32, x->n, x->c, 1, 1);
    facs_tensor *prob = facs_ctx_tensor(ctx, FACS_F32, x->n, w->n, 1, 1);
    if (!y || !z || !prob || ctx->backend->facs_forward(ctx, p, x, w, b, y, z, prob) != FACS_OK)
        return NULL;
    facs_profile_op(ctx, "facs", 3, (const facs_tensor *const[]){x, w, b}, y, w);
    if (facs_needs_grad(ctx, 3, (facs_tensor *const[]){x, w, b})) {
        facs_state *s = facs_tape_push(ctx, "facs", facs_backward_node, y, sizeof *s);
        if (!s)
            return NULL;
        *s = (facs_state){.params = *p, .x = x, .w = w, .b = b, .z = z, .prob = prob};
    }
    return y;
}

const char *facs_fusion_name(facs_fusion fusion) { return fusion == FACS_FUSION_WEIGHTED ? "weighted" : "threshold"; }

facs_status facs_fusion_parse(const char *name, facs_fusion *out)
{
    if (!name || (strcmp(name, "threshold") && strcmp(name, "weighted")))
        return facs_fail(FACS_ERR_ARG, "the fusion must be threshold or weighted, not '%s'", name ? name : "(none)");
    *out = strcmp(name, "weighted") ? FACS_FUSION_THRESHOLD : FACS_FUSION_WEIGHTED;
    return FACS_OK;
}
