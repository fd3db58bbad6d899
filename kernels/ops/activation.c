/* relu, relu6, sigmoid: elementwise, saving input and output for backward. */
#include "op_impl.h"

typedef struct {
    facs_activation act;
    facs_tensor *x;
} activation_state;

static const char *const activation_names[] = {"relu", "relu6", "sigmoid"};

static facs_status activation_backward(facs_ctx *ctx, facs_node *node)
{
    activation_state *s = node->state;
    facs_tensor *dx;
    FACS_TRY(facs_grad_begin(ctx, s->x, &dx));
    FACS_TRY(ctx->backend->activation_backward(ctx, s->act, s->x, node->out, node->out->grad, dx));
    return facs_grad_end(ctx, s->x, dx);
}

static facs_tensor *activation(facs_ctx *ctx, facs_tensor *x, facs_activation act)
{
    const char *op = activation_names[act];
    if (!x)
        return NULL;
    if (facs_check_device(ctx, op, 1, (const facs_tensor *const[]){x}) || facs_check_f32(op, "x", x))
        return NULL;
    if (!FACS_HAS_ENTRY(ctx, activation_forward, op))
        return NULL;
    facs_tensor *y = facs_ctx_like(ctx, x);
    if (!y || ctx->backend->activation_forward(ctx, act, x, y) != FACS_OK)
        return NULL;
    facs_profile_op(ctx, op, 1, (const facs_tensor *const[]){x}, y, NULL);
    if (facs_needs_grad(ctx, 1, &x)) {
        activation_state *s = facs_tape_push(ctx, op, activation_backward, y, sizeof *s);
        if (!s)
            return NULL;
        s->act = act;
        s->x = x;
    }
    return y;
}

facs_tensor *facs_relu(facs_ctx *ctx, facs_tensor *x) { return activation(ctx, x, FACS_ACT_RELU); }
facs_tensor *facs_relu6(facs_ctx *ctx, facs_tensor *x) { return activation(ctx, x, FACS_ACT_RELU6); }
facs_tensor *facs_sigmoid(facs_ctx *ctx, facs_tensor *x) { return activation(ctx, x, FACS_ACT_SIGMOID); }
