/* batchnorm2d: per-channel normalisation with learned scale (gamma) and shift
 * (beta). Training mode normalises with the batch statistics and updates the
 * running statistics in place; eval mode uses the running statistics. With
 * ctx->bn_comm, training statistics and their gradients are the whole batch's
 * over the ranks (synchronised BatchNorm): each backend sums them itself.
 *
 * facs_batchnorm2d_act also adds a residual and applies an activation in the
 * same output tensor, as one tape node: the block tail BN -> add -> ReLU of a
 * ResNet then keeps one tensor for backward instead of three (BN's input is
 * kept anyway, and the ReLUs' gradients need only the final output: y > 0
 * exactly where the pre-activation is, NaN included). */
#include "op_impl.h"

typedef struct {
    facs_batchnorm_params p;
    facs_tensor *x, *gamma, *beta;
    facs_tensor *save_mean, *save_invstd;
    facs_tensor *residual; /* NULL: none */
    facs_post_act act;
} batchnorm_state;

static facs_activation activation_of(facs_post_act act)
{
    return act == FACS_POST_RELU6 ? FACS_ACT_RELU6 : FACS_ACT_RELU;
}

/* The gradient at BN's output, from the gradient dy at the op's output:
 * through the activation (its mask read from the output) into the residual's
 * gradient buffer dres when there is one, else into scratch; dy itself
 * without an activation (then copied into dres). */
static facs_status pre_activation_grad(facs_ctx *ctx, const batchnorm_state *s, facs_tensor *out,
                                       facs_tensor *dres, const facs_tensor **dz)
{
    const facs_tensor *dy = out->grad;
    *dz = dy;
    if (s->act == FACS_POST_NONE)
        return dres ? ctx->backend->copy(dres->data, dy->data, facs_tensor_bytes(dy)) : FACS_OK;
    facs_tensor *buf = dres ? dres : facs_ctx_like(ctx, out);
    if (!buf)
        return FACS_ERR_MEMORY;
    FACS_TRY(ctx->backend->activation_backward(ctx, activation_of(s->act), out, out, dy, buf));
    *dz = buf;
    return FACS_OK;
}

static facs_status batchnorm_backward(facs_ctx *ctx, facs_node *node)
{
    batchnorm_state *s = node->state;
    facs_tensor *dres, *dx, *dgamma, *dbeta;
    const facs_tensor *dz;
    FACS_TRY(facs_grad_begin(ctx, s->residual, &dres));
    FACS_TRY(pre_activation_grad(ctx, s, node->out, dres, &dz));
    FACS_TRY(facs_grad_begin(ctx, s->x, &dx));
    FACS_TRY(facs_accum_begin(ctx, s->gamma, &dgamma));
    FACS_TRY(facs_accum_begin(ctx, s->beta, &dbeta));
    FACS_TRY(ctx->backend->batchnorm_backward(ctx, &s->p, s->x, s->gamma, s->save_mean, s->save_invstd, dz, dx,
                                              dgamma, dbeta));
    FACS_TRY(facs_grad_end(ctx, s->x, dx));
    FACS_TRY(facs_accum_end(ctx, s->gamma, dgamma));
    FACS_TRY(facs_accum_end(ctx, s->beta, dbeta));
    return facs_grad_end(ctx, s->residual, dres);
}

static int is_channel_vector(const facs_tensor *t, int c)
{
    return t->n == c && t->c == 1 && t->h == 1 && t->w == 1;
}

static facs_status check_args(facs_ctx *ctx, facs_tensor *const *ts, const facs_batchnorm_params *p)
{
    static const char *const names[] = {"x", "gamma", "beta", "running_mean", "running_var"};
    const char *op = "batchnorm2d";
    FACS_TRY(facs_check_device(ctx, op, 5, (const facs_tensor *const *)ts));
    for (int i = 0; i < 5; i++)
        FACS_TRY(facs_check_f32(op, names[i], ts[i]));
    char shape[64];
    const facs_tensor *x = ts[0];
    for (int i = 1; i < 5; i++)
        if (!is_channel_vector(ts[i], x->c))
            return facs_fail(FACS_ERR_ARG, "batchnorm2d: %s is %s but x has %d channels: expected (%d, 1, 1, 1)",
                             names[i], facs_shape_str(ts[i], shape, sizeof shape), x->c, x->c);
    if (p->training && (int64_t)x->n * x->h * x->w < 2)
        return facs_fail(FACS_ERR_ARG,
                         "batchnorm2d: x is %s; training needs more than one value per channel (N*H*W > 1)",
                         facs_shape_str(x, shape, sizeof shape));
    if (!(p->eps >= 0.0f) || !(p->momentum >= 0.0f && p->momentum <= 1.0f))
        return facs_fail(FACS_ERR_ARG, "batchnorm2d: eps %g must be >= 0 and momentum %g within [0, 1]",
                         (double)p->eps, (double)p->momentum);
    return FACS_OK;
}

static facs_status check_tail(facs_ctx *ctx, const facs_tensor *x, const facs_tensor *residual, facs_post_act act)
{
    const char *op = "batchnorm2d";
    FACS_TRY(facs_check_post_act(op, act));
    if (act != FACS_POST_NONE && !FACS_HAS_ENTRY(ctx, activation_forward, op))
        return FACS_ERR_UNSUPPORTED;
    if (!residual)
        return FACS_OK;
    FACS_TRY(facs_check_device(ctx, op, 1, &residual));
    FACS_TRY(facs_check_f32(op, "residual", residual));
    if (!FACS_HAS_ENTRY(ctx, add_forward, op))
        return FACS_ERR_UNSUPPORTED;
    char sx[64], sr[64];
    if (!facs_tensor_same_shape(x, residual))
        return facs_fail(FACS_ERR_ARG, "batchnorm2d: residual is %s but x is %s",
                         facs_shape_str(residual, sr, sizeof sr), facs_shape_str(x, sx, sizeof sx));
    if (residual == x)
        return facs_fail(FACS_ERR_ARG, "batchnorm2d: the residual is x itself (add x after the op instead)");
    return FACS_OK;
}

/* y = act(y + residual) in place, one pass (backend.h allows both in place). */
static facs_status apply_tail(facs_ctx *ctx, const facs_tensor *residual, facs_post_act act, facs_tensor *y)
{
    if (residual) {
        FACS_TRY(ctx->backend->add_forward(ctx, y, residual, act, y));
        facs_profile_op(ctx, "add", 2, (const facs_tensor *const[]){y, residual}, y, NULL);
    } else if (act != FACS_POST_NONE) {
        FACS_TRY(ctx->backend->activation_forward(ctx, activation_of(act), y, y));
    }
    if (act != FACS_POST_NONE)
        facs_profile_op(ctx, act == FACS_POST_RELU ? "relu" : "relu6", 1, (const facs_tensor *const[]){y}, y, NULL);
    return FACS_OK;
}

facs_tensor *facs_batchnorm2d_act(facs_ctx *ctx, facs_tensor *x, facs_tensor *gamma, facs_tensor *beta,
                                  facs_tensor *running_mean, facs_tensor *running_var,
                                  const facs_batchnorm_params *p, facs_tensor *residual, facs_post_act act)
{
    if (!x || !gamma || !beta || !running_mean || !running_var)
        return NULL;
    facs_batchnorm_params params = p ? *p : (facs_batchnorm_params){1e-5f, 0.1f, ctx->training};
    facs_tensor *const ts[] = {x, gamma, beta, running_mean, running_var};
    if (check_args(ctx, ts, &params) != FACS_OK || !FACS_HAS_ENTRY(ctx, batchnorm_forward, "batchnorm2d") ||
        check_tail(ctx, x, residual, act) != FACS_OK)
        return NULL;
    facs_tensor *y = facs_ctx_like(ctx, x);
    facs_tensor *save_mean = facs_ctx_tensor(ctx, FACS_F32, x->c, 1, 1, 1);
    facs_tensor *save_invstd = facs_ctx_tensor(ctx, FACS_F32, x->c, 1, 1, 1);
    if (!y || !save_mean || !save_invstd ||
        ctx->backend->batchnorm_forward(ctx, &params, x, gamma, beta, running_mean, running_var, y, save_mean,
                                        save_invstd) != FACS_OK)
        return NULL;
    facs_profile_op(ctx, "batchnorm2d", 5, (const facs_tensor *const *)ts, y, gamma);
    if (apply_tail(ctx, residual, act, y) != FACS_OK)
        return NULL;
    if (facs_needs_grad(ctx, 3, ts) || facs_needs_grad(ctx, 1, &residual)) {
        batchnorm_state *s = facs_tape_push(ctx, "batchnorm2d", batchnorm_backward, y, sizeof *s);
        if (!s)
            return NULL;
        *s = (batchnorm_state){params, x, gamma, beta, save_mean, save_invstd, residual, act};
    }
    return y;
}

facs_tensor *facs_batchnorm2d(facs_ctx *ctx, facs_tensor *x, facs_tensor *gamma, facs_tensor *beta,
                              facs_tensor *running_mean, facs_tensor *running_var, const facs_batchnorm_params *p)
{
    return facs_batchnorm2d_act(ctx, x, gamma, beta, running_mean, running_var, p, NULL, FACS_POST_NONE);
}
