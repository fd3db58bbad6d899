/* Mean softmax cross-entropy over channels with an ignored label: the loss of
 * classification (H = W = 1) and of segmentation (one label per pixel). */
#include "op_impl.h"

typedef struct {
    facs_tensor *logits, *probs, *labels;
    int ignore_index;
    float smoothing;
    int64_t valid; /* non-ignored pixels the mean was taken over */
} softmax_ce_state;

static facs_status softmax_ce_backward(facs_ctx *ctx, facs_node *node)
{
    softmax_ce_state *s = node->state;
    /* The loss gradient is one number; the kernel takes it by value. */
    float dloss;
    FACS_TRY(ctx->backend->copy_to_host(&dloss, node->out->grad->data, sizeof dloss));
    facs_tensor *dlogits;
    FACS_TRY(facs_grad_begin(ctx, s->logits, &dlogits));
    if (!dlogits)
        return FACS_OK;
    FACS_TRY(ctx->backend->softmax_ce_backward(ctx, s->ignore_index, s->smoothing, s->probs, s->labels, dloss,
                                               s->valid, dlogits));
    return facs_grad_end(ctx, s->logits, dlogits);
}

facs_tensor *facs_softmax_cross_entropy(facs_ctx *ctx, facs_tensor *logits, facs_tensor *labels, int ignore_index)
{
    return facs_softmax_cross_entropy_smoothed(ctx, logits, labels, ignore_index, 0.0f);
}

facs_tensor *facs_softmax_cross_entropy_smoothed(facs_ctx *ctx, facs_tensor *logits, facs_tensor *labels,
                                                 int ignore_index, float smoothing)
{
    const char *op = "softmax_cross_entropy";
    if (!logits || !labels)
        return NULL;
    if (!(smoothing >= 0.0f && smoothing < 1.0f)) {
        facs_fail(FACS_ERR_ARG, "%s: label smoothing %g is outside [0, 1)", op, (double)smoothing);
        return NULL;
    }
    if (facs_check_device(ctx, op, 2, (const facs_tensor *const[]){logits, labels}) ||
        facs_check_f32(op, "logits", logits) || !FACS_HAS_ENTRY(ctx, softmax_ce_forward, op))
        return NULL;
    if (labels->dtype != FACS_I32) {
        facs_fail(FACS_ERR_ARG, "%s: labels must be int32", op);
        return NULL;
    }
    if (labels->n != logits->n || labels->c != 1 || labels->h != logits->h || labels->w != logits->w) {
        char a[64], b[64];
        facs_fail(FACS_ERR_ARG, "%s: labels %s must be (N, 1, H, W) of logits %s", op,
                  facs_shape_str(labels, a, sizeof a), facs_shape_str(logits, b, sizeof b));
        return NULL;
    }
    facs_tensor *probs = facs_ctx_like(ctx, logits);
    facs_tensor *loss = facs_ctx_tensor(ctx, FACS_F32, 1, 1, 1, 1);
    int64_t valid = 0;
    if (!probs || !loss ||
        ctx->backend->softmax_ce_forward(ctx, ignore_index, smoothing, logits, labels, probs, loss, &valid) != FACS_OK)
        return NULL;
    facs_profile_op(ctx, op, 2, (const facs_tensor *const[]){logits, labels}, loss, NULL);
    if (facs_needs_grad(ctx, 1, &logits)) {
        softmax_ce_state *s = facs_tape_push(ctx, op, softmax_ce_backward, loss, sizeof *s);
        if (!s)
            return NULL;
        *s = (softmax_ce_state){logits, probs, labels, ignore_index, smoothing, valid};
    }
    return loss;
}
