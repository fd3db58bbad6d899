/* Per-channel scaling x * s (squeeze-and-excitation). Saves x and s: dx needs
 * s and ds needs x. */
#include "op_impl.h"

typedef struct {
    facs_tensor *x, *s;
} scale_channels_state;

static facs_status scale_channels_backward(facs_ctx *ctx, facs_node *node)
{
    scale_channels_state *st = node->state;
    facs_tensor *dx, *ds;
    FACS_TRY(facs_grad_begin(ctx, st->x, &dx));
    FACS_TRY(facs_grad_begin(ctx, st->s, &ds));
    FACS_TRY(ctx->backend->scale_channels_backward(ctx, st->x, st->s, node->out->grad, dx, ds));
    FACS_TRY(facs_grad_end(ctx, st->x, dx));
    return facs_grad_end(ctx, st->s, ds);
}

facs_tensor *facs_scale_channels(facs_ctx *ctx, facs_tensor *x, facs_tensor *s)
{
    const char *op = "scale_channels";
    if (!x || !s)
        return NULL;
    if (facs_check_device(ctx, op, 2, (const facs_tensor *const[]){x, s}) || facs_check_f32(op, "x", x) ||
        facs_check_f32(op, "s", s) || !FACS_HAS_ENTRY(ctx, scale_channels_forward, op))
        return NULL;
    if (s->n != x->n || s->c != x->c || s->h != 1 || s->w != 1) {
        char sx[64], ss[64];
        facs_fail(FACS_ERR_ARG, "scale_channels: scale %s does not fit input %s; expected (%d, %d, 1, 1)",
                  facs_shape_str(s, ss, sizeof ss), facs_shape_str(x, sx, sizeof sx), x->n, x->c);
        return NULL;
    }
    facs_tensor *y = facs_ctx_like(ctx, x);
    if (!y || ctx->backend->scale_channels_forward(ctx, x, s, y) != FACS_OK)
        return NULL;
    facs_profile_op(ctx, op, 2, (const facs_tensor *const[]){x, s}, y, NULL);
    if (facs_needs_grad(ctx, 2, (facs_tensor *const[]){x, s})) {
        scale_channels_state *st = facs_tape_push(ctx, op, scale_channels_backward, y, sizeof *st);
        if (!st)
            return NULL;
        st->x = x;
        st->s = s;
    }
    return y;
}
