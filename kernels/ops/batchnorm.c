/* batchnorm2d: per-channel normalisation with learned scale (gamma) and shift
 * (beta). Training mode normalises with the batch statistics and updates the
 * running statistics in place; eval mode uses the running statistics. With
 * ctx->bn_comm, training statistics and their gradients are the whole batch's
 * over the ranks (synchronised BatchNorm): each backend sums them itself. */
#include "op_impl.h"

typedef struct {
    facs_batchnorm_params p;
    facs_tensor *x, *gamma, *beta;
    facs_tensor *save_mean, *save_invstd;
} batchnorm_state;

static facs_status batchnorm_backward(facs_ctx *ctx, facs_node *node)
{
    batchnorm_state *s = node->state;
    facs_tensor *dx, *dgamma, *dbeta;
    FACS_TRY(facs_grad_begin(ctx, s->x, &dx));
    FACS_TRY(facs_accum_begin(ctx, s->gamma, &dgamma));
    FACS_TRY(facs_accum_begin(ctx, s->beta, &dbeta));
    FACS_TRY(ctx->backend->batchnorm_backward(ctx, &s->p, s->x, s->gamma, s->save_mean, s->save_invstd,
                                              node->out->grad, dx, dgamma, dbeta));
    FACS_TRY(facs_grad_end(ctx, s->x, dx));
    FACS_TRY(facs_accum_end(ctx, s->gamma, dgamma));
    return facs_accum_end(ctx, s->beta, dbeta);
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

facs_tensor *facs_batchnorm2d(facs_ctx *ctx, facs_tensor *x, facs_tensor *gamma, facs_tensor *beta,
                              facs_tensor *running_mean, facs_tensor *running_var, const facs_batchnorm_params *p)
{
    if (!x || !gamma || !beta || !running_mean || !running_var)
        return NULL;
    facs_batchnorm_params params = p ? *p : (facs_batchnorm_params){1e-5f, 0.1f, ctx->training};
    facs_tensor *const ts[] = {x, gamma, beta, running_mean, running_var};
    if (check_args(ctx, ts, &params) != FACS_OK || !FACS_HAS_ENTRY(ctx, batchnorm_forward, "batchnorm2d"))
        return NULL;
    facs_tensor *y = facs_ctx_like(ctx, x);
    facs_tensor *save_mean = facs_ctx_tensor(ctx, FACS_F32, x->c, 1, 1, 1);
    facs_tensor *save_invstd = facs_ctx_tensor(ctx, FACS_F32, x->c, 1, 1, 1);
    if (!y || !save_mean || !save_invstd ||
        ctx->backend->batchnorm_forward(ctx, &params, x, gamma, beta, running_mean, running_var, y, save_mean,
                                        save_invstd) != FACS_OK)
        return NULL;
    facs_profile_op(ctx, "batchnorm2d", 5, (const facs_tensor *const *)ts, y, gamma);
    if (facs_needs_grad(ctx, 3, ts)) {
        batchnorm_state *s = facs_tape_push(ctx, "batchnorm2d", batchnorm_backward, y, sizeof *s);
        if (!s)
            return NULL;
        *s = (batchnorm_state){params, x, gamma, beta, save_mean, save_invstd};
    }
    return y;
}
