/* Adaptive average pooling (PSPNet's pyramid bins) and global average pooling,
 * its 1 x 1 case. */
#include "op_impl.h"

typedef struct {
    facs_tensor *x;
} adaptive_state;

static facs_status adaptive_backward(facs_ctx *ctx, facs_node *node)
{
    adaptive_state *s = node->state;
    facs_tensor *dx;
    FACS_TRY(facs_grad_begin(ctx, s->x, &dx));
    FACS_TRY(ctx->backend->adaptive_avgpool2d_backward(ctx, node->out->grad, dx));
    return facs_grad_end(ctx, s->x, dx);
}

static facs_tensor *adaptive(facs_ctx *ctx, const char *op, facs_tensor *x, int out_h, int out_w)
{
    if (!x)
        return NULL;
    if (facs_check_device(ctx, op, 1, (const facs_tensor *const[]){x}) || facs_check_f32(op, "x", x))
        return NULL;
    if (!FACS_HAS_ENTRY(ctx, adaptive_avgpool2d_forward, op))
        return NULL;
    if (out_h < 1 || out_w < 1) {
        facs_fail(FACS_ERR_ARG, "%s: output size %d x %d must be positive", op, out_h, out_w);
        return NULL;
    }
    facs_tensor *y = facs_ctx_tensor(ctx, FACS_F32, x->n, x->c, out_h, out_w);
    if (!y || ctx->backend->adaptive_avgpool2d_forward(ctx, x, y) != FACS_OK)
        return NULL;
    facs_profile_op(ctx, op, 1, (const facs_tensor *const[]){x}, y, NULL);
    if (facs_needs_grad(ctx, 1, &x)) {
        adaptive_state *s = facs_tape_push(ctx, op, adaptive_backward, y, sizeof *s);
        if (!s)
            return NULL;
        s->x = x;
    }
    return y;
}

facs_tensor *facs_adaptive_avgpool2d(facs_ctx *ctx, facs_tensor *x, int out_h, int out_w)
{
    return adaptive(ctx, "adaptive_avgpool2d", x, out_h, out_w);
}

facs_tensor *facs_global_avgpool(facs_ctx *ctx, facs_tensor *x) { return adaptive(ctx, "global_avgpool", x, 1, 1); }
