/* Channel pooling (depth-wise pooling): C channels to C/R by the max or mean
 * of each chunk of R channels; see ops.h for the grouping. Saves x, from
 * which max backward recomputes the argmax instead of storing indices. */
#include "op_impl.h"

typedef struct {
    facs_channel_pool_mode mode;
    facs_tensor *x;
} channel_pool_state;

static facs_status channel_pool_backward(facs_ctx *ctx, facs_node *node)
{
    channel_pool_state *s = node->state;
    facs_tensor *dx;
    FACS_TRY(facs_grad_begin(ctx, s->x, &dx));
    FACS_TRY(ctx->backend->channel_pool_backward(ctx, s->mode, s->x, node->out->grad, dx));
    return facs_grad_end(ctx, s->x, dx);
}

static facs_status check_args(const facs_tensor *x, int out_channels, facs_channel_pool_mode mode)
{
    char sx[64];
    if (mode != FACS_CHANNEL_POOL_MAX && mode != FACS_CHANNEL_POOL_AVG)
        return facs_fail(FACS_ERR_ARG, "channel_pool: unknown mode %d (max %d or avg %d)", (int)mode,
                         FACS_CHANNEL_POOL_MAX, FACS_CHANNEL_POOL_AVG);
    if (out_channels <= 0 || x->c % out_channels != 0)
        return facs_fail(FACS_ERR_ARG,
                         "channel_pool: %d input channels of %s are not divisible into %d output channels",
                         x->c, facs_shape_str(x, sx, sizeof sx), out_channels);
    return FACS_OK;
}

facs_tensor *facs_channel_pool(facs_ctx *ctx, facs_tensor *x, int out_channels, facs_channel_pool_mode mode)
{
    const char *op = "channel_pool";
    if (!x)
        return NULL;
    if (facs_check_device(ctx, op, 1, (const facs_tensor *const[]){x}) || facs_check_f32(op, "x", x) ||
        check_args(x, out_channels, mode) || !FACS_HAS_ENTRY(ctx, channel_pool_forward, op))
        return NULL;
    facs_tensor *y = facs_ctx_tensor(ctx, FACS_F32, x->n, out_channels, x->h, x->w);
    if (!y || ctx->backend->channel_pool_forward(ctx, mode, x, y) != FACS_OK)
        return NULL;
    facs_profile_op(ctx, op, 1, (const facs_tensor *const[]){x}, y, NULL);
    if (facs_needs_grad(ctx, 1, &x)) {
        channel_pool_state *s = facs_tape_push(ctx, op, channel_pool_backward, y, sizeof *s);
        if (!s)
            return NULL;
        s->mode = mode;
        s->x = x;
    }
    return y;
}
