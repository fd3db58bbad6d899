/* Concatenation along channels (PSPNet joins its backbone features and pyramid
 * branches). Backward splits dy into the inputs' gradients. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "op_impl.h"

typedef struct {
    int count;
    facs_tensor *xs[]; /* count inputs, in order */
} concat_state;

static facs_status concat_backward(facs_ctx *ctx, facs_node *node)
{
    concat_state *s = node->state;
    facs_tensor **dxs = facs_ctx_host_alloc(ctx, (size_t)s->count * sizeof *dxs);
    if (!dxs)
        return FACS_ERR_MEMORY;
    for (int i = 0; i < s->count; i++)
        FACS_TRY(facs_grad_begin(ctx, s->xs[i], &dxs[i]));
    FACS_TRY(ctx->backend->concat_backward(ctx, s->count, (const facs_tensor *const *)s->xs, node->out->grad, dxs));
    for (int i = 0; i < s->count; i++)
        FACS_TRY(facs_grad_end(ctx, s->xs[i], dxs[i]));
    return FACS_OK;
}

facs_tensor *facs_concat(facs_ctx *ctx, int count, facs_tensor *const *xs)
{
    const char *op = "concat";
    if (count < 1 || !xs) {
        facs_fail(FACS_ERR_ARG, "%s: needs at least one input, got %d", op, count);
        return NULL;
    }
    for (int i = 0; i < count; i++)
        if (!xs[i])
            return NULL;
    if (facs_check_device(ctx, op, count, (const facs_tensor *const *)xs) ||
        !FACS_HAS_ENTRY(ctx, concat_forward, op))
        return NULL;
    int64_t channels = 0;
    for (int i = 0; i < count; i++) {
        char name[32];
        snprintf(name, sizeof name, "input %d", i);
        if (facs_check_f32(op, name, xs[i]))
            return NULL;
        if (xs[i]->n != xs[0]->n || xs[i]->h != xs[0]->h || xs[i]->w != xs[0]->w) {
            char a[64], b[64];
            facs_fail(FACS_ERR_ARG, "%s: input %d %s and input 0 %s differ in N, H or W", op, i,
                      facs_shape_str(xs[i], a, sizeof a), facs_shape_str(xs[0], b, sizeof b));
            return NULL;
        }
        channels += xs[i]->c;
    }
    if (channels > INT_MAX) {
        facs_fail(FACS_ERR_ARG, "%s: the %d inputs have %lld channels together, too many", op, count,
                  (long long)channels);
        return NULL;
    }
    facs_tensor *y = facs_ctx_tensor(ctx, FACS_F32, xs[0]->n, (int)channels, xs[0]->h, xs[0]->w);
    if (!y || ctx->backend->concat_forward(ctx, count, (const facs_tensor *const *)xs, y) != FACS_OK)
        return NULL;
    facs_profile_op(ctx, op, count, (const facs_tensor *const *)xs, y, NULL);
    if (facs_needs_grad(ctx, count, xs)) {
        concat_state *s = facs_tape_push(ctx, op, concat_backward, y, sizeof *s + (size_t)count * sizeof s->xs[0]);
        if (!s)
            return NULL;
        s->count = count;
        for (int i = 0; i < count; i++)
            s->xs[i] = xs[i];
    }
    return y;
}
