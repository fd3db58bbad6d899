/* linear (fully connected): y = x w^T + b on (N, IN, 1, 1) activations. */
#include "op_impl.h"

typedef struct {
    facs_tensor *x, *w, *b;
} linear_state;

static facs_status linear_backward(facs_ctx *ctx, facs_node *node)
{
    linear_state *s = node->state;
    facs_tensor *dx, *dw, *db;
    FACS_TRY(facs_grad_begin(ctx, s->x, &dx));
    FACS_TRY(facs_accum_begin(ctx, s->w, &dw));
    FACS_TRY(facs_accum_begin(ctx, s->b, &db));
    FACS_TRY(ctx->backend->linear_backward(ctx, s->x, s->w, node->out->grad, dx, dw, db));
    FACS_TRY(facs_grad_end(ctx, s->x, dx));
    FACS_TRY(facs_accum_end(ctx, s->w, dw));
    return facs_accum_end(ctx, s->b, db);
}

static facs_status check_args(facs_ctx *ctx, const facs_tensor *x, const facs_tensor *w, const facs_tensor *b)
{
    const char *op = "linear";
    FACS_TRY(facs_check_device(ctx, op, 3, (const facs_tensor *const[]){x, w, b}));
    FACS_TRY(facs_check_f32(op, "x", x));
    FACS_TRY(facs_check_f32(op, "w", w));
    FACS_TRY(facs_check_f32(op, "b", b));
    char sx[64], sw[64], sb[64];
    if (x->h != 1 || x->w != 1)
        return facs_fail(FACS_ERR_ARG,
                         "linear: x is %s but needs H = W = 1, i.e. (N, IN, 1, 1); pool or flatten it first",
                         facs_shape_str(x, sx, sizeof sx));
    if (w->c != x->c || w->h != 1 || w->w != 1)
        return facs_fail(FACS_ERR_ARG, "linear: w is %s but x is %s: expected (OUT, %d, 1, 1)",
                         facs_shape_str(w, sw, sizeof sw), facs_shape_str(x, sx, sizeof sx), x->c);
    if (b && (b->n != w->n || b->c != 1 || b->h != 1 || b->w != 1))
        return facs_fail(FACS_ERR_ARG, "linear: b is %s but w is %s: expected (%d, 1, 1, 1)",
                         facs_shape_str(b, sb, sizeof sb), facs_shape_str(w, sw, sizeof sw), w->n);
    return FACS_OK;
}

facs_tensor *facs_linear(facs_ctx *ctx, facs_tensor *x, facs_tensor *w, facs_tensor *b)
{
    if (!x || !w)
        return NULL;
    if (check_args(ctx, x, w, b) != FACS_OK || !FACS_HAS_ENTRY(ctx, linear_forward, "linear"))
        return NULL;
    facs_tensor *y = facs_ctx_tensor(ctx, FACS_F32, x->n, w->n, 1, 1);
    if (!y || ctx->backend->linear_forward(ctx, x, w, b, y) != FACS_OK)
        return NULL;
    facs_profile_op(ctx, "linear", 3, (const facs_tensor *const[]){x, w, b}, y, w);
    if (facs_needs_grad(ctx, 3, (facs_tensor *const[]){x, w, b})) {
        linear_state *s = facs_tape_push(ctx, "linear", linear_backward, y, sizeof *s);
        if (!s)
            return NULL;
        *s = (linear_state){x, w, b};
    }
    return y;
}
