/* dropout2d: zeroes whole channels with probability prob in training and scales
 * the kept ones by 1 / (1 - prob); the identity otherwise. prob = 1 zeroes
 * everything, as PyTorch does. */
#include "op_impl.h"

typedef struct {
    facs_tensor *x, *mask;
} dropout2d_state;

static facs_status dropout2d_backward(facs_ctx *ctx, facs_node *node)
{
    dropout2d_state *s = node->state;
    facs_tensor *dx;
    FACS_TRY(facs_grad_begin(ctx, s->x, &dx));
    FACS_TRY(ctx->backend->dropout2d_backward(ctx, s->mask, node->out->grad, dx));
    return facs_grad_end(ctx, s->x, dx);
}

facs_tensor *facs_dropout2d(facs_ctx *ctx, facs_tensor *x, float prob)
{
    const char *op = "dropout2d";
    if (!x)
        return NULL;
    if (facs_check_device(ctx, op, 1, (const facs_tensor *const[]){x}) || facs_check_f32(op, "x", x))
        return NULL;
    if (!(prob >= 0.0f && prob <= 1.0f)) {
        facs_fail(FACS_ERR_ARG, "dropout2d: probability %g is outside [0, 1]", (double)prob);
        return NULL;
    }
    if (!ctx->training || prob == 0.0f)
        return x;
    if (!FACS_HAS_ENTRY(ctx, dropout2d_forward, op))
        return NULL;
    /* Each call draws from its own stream, seeded by hashing (seed, call), so
     * consecutive masks are unrelated: facs_rng_uniform hashes seed + k (counter
     * + 1) with a fixed k, so seeds spaced by k would give shifted copies of one
     * stream. */
    uint64_t seed = facs_rng_mix64(ctx->seed ^ facs_rng_mix64(ctx->rng_calls + 0x9e3779b97f4a7c15ULL));
    ctx->rng_calls++;
    facs_tensor *y = facs_ctx_like(ctx, x);
    facs_tensor *mask = facs_ctx_tensor(ctx, FACS_F32, x->n, x->c, 1, 1);
    if (!y || !mask || ctx->backend->dropout2d_forward(ctx, prob, seed, x, mask, y) != FACS_OK)
        return NULL;
    facs_profile_op(ctx, op, 1, (const facs_tensor *const[]){x}, y, NULL);
    if (facs_needs_grad(ctx, 1, &x)) {
        dropout2d_state *s = facs_tape_push(ctx, op, dropout2d_backward, y, sizeof *s);
        if (!s)
            return NULL;
        s->x = x;
        s->mask = mask;
    }
    return y;
}
