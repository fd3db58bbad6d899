/* Elementwise add (the residual connection). */
#include "op_impl.h"

typedef struct {
    facs_tensor *a, *b;
} add_state;

static facs_status add_backward(facs_ctx *ctx, facs_node *node)
{
    add_state *s = node->state;
    const facs_tensor *dy = node->out->grad;
    facs_tensor *operands[2] = {s->a, s->b};
    for (int i = 0; i < 2; i++) {
        facs_tensor *d;
        FACS_TRY(facs_grad_begin(ctx, operands[i], &d));
        if (!d)
            continue;
        FACS_TRY(ctx->backend->copy(d->data, dy->data, facs_tensor_bytes(dy)));
        FACS_TRY(facs_grad_end(ctx, operands[i], d));
    }
    return FACS_OK;
}

facs_tensor *facs_add(facs_ctx *ctx, facs_tensor *a, facs_tensor *b)
{
    if (!a || !b)
        return NULL;
    if (facs_check_device(ctx, "add", 2, (const facs_tensor *const[]){a, b}) || facs_check_f32("add", "a", a) ||
        facs_check_f32("add", "b", b) || !FACS_HAS_ENTRY(ctx, add_forward, "add"))
        return NULL;
    if (!facs_tensor_same_shape(a, b)) {
        char sa[64], sb[64];
        facs_fail(FACS_ERR_ARG, "add: shapes %s and %s differ", facs_shape_str(a, sa, sizeof sa),
                  facs_shape_str(b, sb, sizeof sb));
        return NULL;
    }
    facs_tensor *y = facs_ctx_like(ctx, a);
    if (!y || ctx->backend->add_forward(ctx, a, b, FACS_POST_NONE, y) != FACS_OK)
        return NULL;
    facs_profile_op(ctx, "add", 2, (const facs_tensor *const[]){a, b}, y, NULL);
    if (facs_needs_grad(ctx, 2, (facs_tensor *const[]){a, b})) {
        add_state *s = facs_tape_push(ctx, "add", add_backward, y, sizeof *s);
        if (!s)
            return NULL;
        s->a = a;
        s->b = b;
    }
    return y;
}
