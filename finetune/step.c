/* One forward (and in training backward + SGD) step; see step.h. */
#include <math.h>
#include <stdio.h>

#include "autograd.h"
#include "finite.h"
#include "step.h"

facs_status ft_step(facs_ctx *ctx, facs_model *model, facs_sgd *sgd, facs_parallel *par, uint64_t seed,
                    float smoothing, const facs_batch *b, int64_t global_n, int classes, const char *where,
                    ft_step_result *r)
{
    int n = b->n;
    facs_ctx_begin_step(ctx);
    facs_ctx_set_mode(ctx, sgd != NULL, sgd != NULL);
    if (sgd)
        facs_ctx_seed_step(ctx, seed, sgd->steps);
    ctx->batch_offset = b->offset;
    facs_tensor *x = facs_ctx_tensor(ctx, FACS_F32, n, b->channels, b->height, b->width);
    facs_tensor *t = facs_ctx_tensor(ctx, FACS_I32, n, 1, 1, 1);
    if (!x || !t)
        return facs_last_status();
    /* The loader's batches are NHWC, the tensors' storage order. The uploads
     * are queued without waiting (from page-locked batches on CUDA); b must
     * stay untouched until the device has read it, which the loss download
     * below waits for: once this step returns, the loader may refill b
     * (loader.h "Staging memory"). A step failing before that ends the run,
     * and freeing the loader waits for the copies (backend.h host_free). */
    FACS_TRY(facs_tensor_upload_async(x, b->images, facs_tensor_bytes(x)));
    FACS_TRY(facs_tensor_upload_async(t, b->labels, (size_t)n * sizeof *b->labels));
    facs_tensor *logits = facs_model_forward(ctx, model, x);
    if (!logits)
        return facs_last_status();
    if (logits->c != classes || logits->n != n)
        return facs_fail(FACS_ERR_ARG, "the model gives %d x %d logits for a batch of %d and %d classes", logits->n,
                         logits->c, n, classes);
    facs_tensor *loss = facs_softmax_cross_entropy_smoothed(ctx, logits, t, -100, sgd ? smoothing : 0.0f);
    if (!loss)
        return facs_last_status();
    /* Synchronising: from here on the device is done with b. */
    FACS_TRY(facs_tensor_download(loss, &r->loss, sizeof r->loss));
    FACS_TRY(facs_tensor_download(logits, r->logits, (size_t)n * classes * sizeof(float)));
    if (!isfinite(r->loss))
        return facs_fail(FACS_ERR_ARG, "%s: the loss is %f; lower --lr (checkpoints already written are kept)", where,
                         (double)r->loss);
    if (!sgd)
        return FACS_OK;
    facs_tensor *seed_grad = facs_parallel_loss_seed(ctx, n, global_n);
    if (!seed_grad && n != global_n)
        return facs_last_status();
    FACS_TRY(facs_backward(ctx, loss, seed_grad));
    FACS_TRY(facs_parallel_finish_grads(par));
    facs_status s = facs_check_finite_grads(ctx, sgd->params);
    if (s != FACS_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", facs_last_error());
        return facs_fail(s, "%s: %s; lower --lr (checkpoints already written are kept)", where, why);
    }
    FACS_TRY(facs_sgd_step(sgd));
    return facs_sgd_zero_grad(sgd);
}
