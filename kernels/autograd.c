#include "autograd.h"

#include <stdlib.h>

/* The first node of this step to consume a parameter: its gradient is final
 * once backward has run that node. An op asks before it pushes its node, so
 * the stamp is at most the node's index: never late, at worst early. */
static void stamp_param(const facs_ctx *ctx, facs_tensor *t)
{
    if (t->is_param && t->tape_step != ctx->step_id) {
        t->tape_step = ctx->step_id;
        t->tape_first = ctx->tape_len;
    }
}

int facs_needs_grad(const facs_ctx *ctx, int count, facs_tensor *const *inputs)
{
    if (!ctx->record)
        return 0;
    int needs = 0;
    for (int i = 0; i < count; i++)
        if (inputs[i] && inputs[i]->requires_grad) {
            stamp_param(ctx, inputs[i]);
            needs = 1;
        }
    return needs;
}

void *facs_tape_push(facs_ctx *ctx, const char *op, facs_backward_fn fn, facs_tensor *out, size_t state_bytes)
{
    facs_node *node = facs_ctx_host_alloc(ctx, sizeof *node);
    void *state = state_bytes ? facs_ctx_host_alloc(ctx, state_bytes) : node;
    if (!node || !state)
        return NULL;
    node->next = ctx->tape;
    node->backward = fn;
    node->op = op;
    node->out = out;
    node->index = ctx->tape_len++;
    node->state = state_bytes ? state : NULL;
    out->requires_grad = 1;
    ctx->tape = node;
    return state;
}

facs_status facs_grad_begin(facs_ctx *ctx, facs_tensor *t, facs_tensor **g)
{
    *g = NULL;
    if (!t || !t->requires_grad)
        return FACS_OK;
    /* A parameter in any operand's slot (facs_add(ctx, x, p->value)) keeps its
     * own heap gradient: one from this step's arena would dangle after it. */
    if (t->is_param)
        FACS_TRY(facs_tensor_ensure_grad(t));
    *g = facs_ctx_grad_like(ctx, t);
    if (!*g)
        return FACS_ERR_MEMORY;
    if (!t->grad)
        t->grad = *g;
    return FACS_OK;
}

facs_status facs_grad_end(facs_ctx *ctx, facs_tensor *t, facs_tensor *g)
{
    if (!t || !g || g == t->grad)
        return FACS_OK;
    facs_status s = ctx->backend->axpy(facs_tensor_numel(t), 1.0f, facs_f32(g), facs_f32(t->grad));
    facs_ctx_grad_release(ctx, g); /* a second contribution, now added in */
    return s;
}

facs_tensor *facs_param_grad(facs_tensor *t)
{
    if (!t || !t->requires_grad)
        return NULL;
    return facs_tensor_ensure_grad(t) == FACS_OK ? t->grad : NULL;
}

facs_status facs_accum_begin(facs_ctx *ctx, facs_tensor *t, facs_tensor **g)
{
    *g = NULL;
    if (!t || !t->requires_grad)
        return FACS_OK;
    if (t->is_param) {
        *g = facs_param_grad(t);
        return *g ? FACS_OK : FACS_ERR_MEMORY;
    }
    FACS_TRY(facs_grad_begin(ctx, t, g));
    return ctx->backend->fill_zero((*g)->data, facs_tensor_bytes(*g));
}

facs_status facs_accum_end(facs_ctx *ctx, facs_tensor *t, facs_tensor *g)
{
    return t && !t->is_param ? facs_grad_end(ctx, t, g) : FACS_OK;
}

void facs_keep_grad(facs_tensor *t) { t->keep_grad = 1; }

static facs_status seed_gradient(facs_ctx *ctx, facs_tensor *out, const facs_tensor *grad_out)
{
    if (grad_out && !facs_tensor_same_shape(out, grad_out)) {
        char a[64], b[64];
        return facs_fail(FACS_ERR_ARG, "backward: gradient %s (%s, %s) does not match output %s (%s, %s)",
                         facs_shape_str(grad_out, b, sizeof b), grad_out->dtype == FACS_F32 ? "float32" : "int32",
                         facs_device_name(grad_out->device), facs_shape_str(out, a, sizeof a),
                         out->dtype == FACS_F32 ? "float32" : "int32", facs_device_name(out->device));
    }
    facs_tensor *g = facs_ctx_grad_like(ctx, out);
    if (!g)
        return FACS_ERR_MEMORY;
    size_t count = facs_tensor_numel(out);
    if (grad_out) {
        FACS_TRY(ctx->backend->copy(g->data, grad_out->data, facs_tensor_bytes(out)));
    } else {
        float *ones = malloc(count * sizeof *ones);
        if (!ones)
            return facs_fail(FACS_ERR_MEMORY, "out of host memory seeding backward");
        for (size_t i = 0; i < count; i++)
            ones[i] = 1.0f;
        facs_status s = ctx->backend->copy_from_host(g->data, ones, count * sizeof *ones);
        free(ones);
        FACS_TRY(s);
    }
    out->grad = g;
    return FACS_OK;
}

facs_status facs_backward(facs_ctx *ctx, facs_tensor *out, const facs_tensor *grad_out)
{
    return facs_backward_many(ctx, 1, &out, &grad_out);
}

facs_status facs_backward_many(facs_ctx *ctx, int count, facs_tensor *const *outs,
                               const facs_tensor *const *grads)
{
    if (!ctx)
        return facs_fail(FACS_ERR_ARG, "backward: no context (a NULL facs_ctx: did facs_ctx_create fail?)");
    if (count < 1)
        return facs_fail(FACS_ERR_ARG, "backward: %d outputs", count);
    for (int i = 0; i < count; i++) {
        facs_tensor *out = outs[i];
        if (!out)
            return facs_fail(FACS_ERR_ARG, "backward: no output tensor (an earlier op failed: %s)",
                             facs_last_error());
        if (!out->requires_grad)
            return facs_fail(FACS_ERR_ARG,
                             "backward: the output does not depend on anything that requires a gradient");
        if (out->is_param)
            return facs_fail(FACS_ERR_ARG, "backward: output %d is a parameter, not the result of an op", i);
        for (int j = 0; j < i; j++)
            if (outs[j] == out)
                return facs_fail(FACS_ERR_ARG, "backward: output %d is given twice", i);
    }
    if (!ctx->tape) /* PyTorch's "backward through the graph a second time": the gradients would add up twice */
        return facs_fail(FACS_ERR_ARG, "backward: no recorded ops to run: backward has consumed this step's graph "
                                       "already (run the forward again) or nothing was recorded");
    for (int i = 0; i < count; i++)
        FACS_TRY(seed_gradient(ctx, outs[i], grads[i]));
    for (facs_node *node = ctx->tape; node; node = node->next) {
        if (!node->out->grad)
            continue;
        /* The backends' scratch of this node is dead once it returns. */
        facs_arena_pos scratch = facs_arena_position(&ctx->data);
        facs_status s = node->backward(ctx, node);
        if (s != FACS_OK)
            return s;
        facs_arena_rewind(&ctx->data, scratch, NULL, 0);
        if (ctx->profile_backward)
            ctx->profile_backward(ctx->profile_user, node->op);
        if (ctx->grad_ready && (s = ctx->grad_ready(ctx->grad_ready_user, node->index)) != FACS_OK)
            return s;
        /* The tape runs newest first, so every consumer of node->out has
         * added its share: the gradient has been passed on and is dead. */
        if (!node->out->keep_grad && !node->out->is_param) {
            facs_ctx_grad_release(ctx, node->out->grad);
            node->out->grad = NULL;
        }
    }
    for (facs_node *node = ctx->tape; node; node = node->next)
        if (!node->out->keep_grad && !node->out->is_param)
            node->out->grad = NULL;
    ctx->tape = NULL; /* consumed: its nodes' saved tensors are the next forward's to overwrite */
    return FACS_OK;
}
