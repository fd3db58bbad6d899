/* Bilinear resize to a given (OH, OW): PSPNet's upsampling of its pyramid bins
 * and logits, and downsampling of inputs. */
#include "op_impl.h"

typedef struct {
    facs_tensor *x;
    int align_corners;
} resize_state;

static facs_status resize_backward(facs_ctx *ctx, facs_node *node)
{
    resize_state *s = node->state;
    facs_tensor *dx;
    FACS_TRY(facs_grad_begin(ctx, s->x, &dx));
    if (!dx)
        return FACS_OK;
    FACS_TRY(ctx->backend->resize_bilinear_backward(ctx, s->align_corners, node->out->grad, dx));
    return facs_grad_end(ctx, s->x, dx);
}

facs_tensor *facs_resize_bilinear(facs_ctx *ctx, facs_tensor *x, int out_h, int out_w, int align_corners)
{
    const char *op = "resize_bilinear";
    if (!x)
        return NULL;
    if (facs_check_device(ctx, op, 1, (const facs_tensor *const[]){x}) || facs_check_f32(op, "x", x) ||
        !FACS_HAS_ENTRY(ctx, resize_bilinear_forward, op))
        return NULL;
    if (out_h <= 0 || out_w <= 0) {
        facs_fail(FACS_ERR_ARG, "%s: output size %dx%d must be positive", op, out_h, out_w);
        return NULL;
    }
    align_corners = align_corners != 0;
    facs_tensor *y = facs_ctx_tensor(ctx, FACS_F32, x->n, x->c, out_h, out_w);
    if (!y || ctx->backend->resize_bilinear_forward(ctx, align_corners, x, y) != FACS_OK)
        return NULL;
    facs_profile_op(ctx, op, 1, (const facs_tensor *const[]){x}, y, NULL);
    if (facs_needs_grad(ctx, 1, &x)) {
        resize_state *s = facs_tape_push(ctx, op, resize_backward, y, sizeof *s);
        if (!s)
            return NULL;
        s->x = x;
        s->align_corners = align_corners;
    }
    return y;
}
