/* One pspnet-train step (see train_run.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "autograd.h"
#include "finite.h"
#include "pspnet.h"
#include "train_run.h"

/* Pixels of the batch whose argmax over the logits equals their label. */
static facs_status count_correct(const facs_tensor *logits, const int32_t *labels, int ignore, ps_sums *sums)
{
    size_t pixels = (size_t)logits->n * logits->h * logits->w;
    int K = logits->c;
    float *z = malloc(pixels * (size_t)K * sizeof *z);
    if (!z)
        return facs_fail(FACS_ERR_MEMORY, "out of memory for the logits");
    facs_status s = facs_tensor_download(logits, z, pixels * (size_t)K * sizeof *z);
    for (size_t i = 0; s == FACS_OK && i < pixels; i++) {
        if (labels[i] == ignore)
            continue;
        const float *row = z + i * (size_t)K;
        int best = 0;
        for (int k = 1; k < K; k++)
            best = row[k] > row[best] ? k : best;
        sums->correct += best == labels[i];
        sums->labelled++;
    }
    free(z);
    return s;
}

static facs_status loss_value(const char *where, const char *what, facs_tensor *t, float *out)
{
    FACS_TRY(facs_tensor_download(t, out, sizeof *out));
    if (!isfinite(*out))
        return facs_fail(FACS_ERR_ARG, "%s: the %s is %f; lower --lr (checkpoints already written are kept)", where,
                         what, (double)*out);
    return FACS_OK;
}

/* Every label is a class or the ignore label; the message names the file. */
static facs_status check_labels(const ps_run *r, const facs_batch *b)
{
    size_t per = (size_t)b->height * b->width;
    for (int i = 0; i < b->n; i++)
        for (size_t p = 0; p < per; p++) {
            int32_t v = b->labels[i * per + p];
            if (v != r->o->ignore_index && (v < 0 || v >= r->o->classes))
                return facs_fail(FACS_ERR_FORMAT, "%s: label %d is neither a class of --classes %d nor --ignore-index %d",
                                 r->train_index.pairs[b->indices[i]].label, (int)v, r->o->classes,
                                 r->o->ignore_index);
        }
    return FACS_OK;
}

int64_t ps_labelled_pixels(const ps_run *r, const facs_batch *b)
{
    size_t pixels = (size_t)b->n * b->height * b->width;
    int64_t labelled = 0;
    for (size_t i = 0; i < pixels; i++)
        labelled += b->labels[i] != r->o->ignore_index;
    return labelled;
}

/* The step's losses (values, this rank's means), pixel counts (local) and
 * images, as the global batch's into sums: the same on every rank. */
static facs_status add_global(ps_run *r, const float values[3], const ps_sums *local, int n, double share,
                              ps_sums *sums)
{
    double v[6] = {share * values[0], share * values[1], share * values[2], (double)local->correct,
                   (double)local->labelled, (double)n};
    FACS_TRY(facs_comm_allreduce_sum(r->comm, v, 6, FACS_COMM_F64));
    sums->main_loss += v[0];
    sums->aux_loss += v[1];
    sums->loss += v[2];
    sums->correct += (int64_t)v[3];
    sums->labelled += (int64_t)v[4];
    sums->images += (int64_t)v[5];
    sums->steps++;
    return FACS_OK;
}

facs_status ps_step(ps_run *r, const facs_batch *b, int64_t global_labelled, const char *where, ps_sums *sums)
{
    FACS_TRY(check_labels(r, b));
    const ps_options *o = r->o;
    facs_ctx *ctx = r->ctx;
    facs_ctx_begin_step(ctx);
    facs_ctx_set_mode(ctx, 1, 1);
    facs_ctx_seed_step(ctx, o->seed, r->sgd.steps);
    ctx->batch_offset = b->offset;
    facs_tensor *x = facs_ctx_tensor(ctx, FACS_F32, b->n, b->channels, b->height, b->width);
    facs_tensor *t = facs_ctx_tensor(ctx, FACS_I32, b->n, 1, b->height, b->width);
    if (!x || !t)
        return facs_last_status();
    /* Queued without waiting (page-locked batches on CUDA): b must stay
     * untouched until the device has read it, which the first loss download
     * below waits for, so the loader may refill b once this step returns
     * (loader.h "Staging memory"; a failure before it ends the run, and
     * freeing the loader waits for the copies). The host only reads b's
     * labels meanwhile. */
    FACS_TRY(facs_tensor_upload_async(x, b->images, facs_tensor_bytes(x)));
    FACS_TRY(facs_tensor_upload_async(t, b->labels, (size_t)b->n * b->height * b->width * sizeof *b->labels));
    facs_tensor *main_logits = facs_model_forward(ctx, r->model, x);
    facs_pspnet_loss loss;
    facs_status s = facs_pspnet_train_loss(ctx, r->model, main_logits, t, (float)o->aux_weight, o->ignore_index, &loss);
    if (s != FACS_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", facs_last_error());
        return facs_fail(s, "%s: %s", where, why);
    }
    float values[3];
    FACS_TRY(loss_value(where, "main loss", loss.main, &values[0]));
    FACS_TRY(loss_value(where, "auxiliary loss", loss.aux, &values[1]));
    FACS_TRY(loss_value(where, "loss", loss.total, &values[2]));
    ps_sums local = {0};
    FACS_TRY(count_correct(main_logits, b->labels, o->ignore_index, &local));
    /* Both losses average over the labelled pixels: the rank's part of the global batch's mean. */
    facs_tensor *seed = facs_parallel_loss_seed(ctx, local.labelled, global_labelled);
    if (!seed && local.labelled != global_labelled)
        return facs_last_status();
    FACS_TRY(facs_backward(ctx, loss.total, seed));
    FACS_TRY(facs_parallel_finish_grads(&r->par));
    s = facs_check_finite_grads(ctx, r->sgd.params);
    if (s != FACS_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", facs_last_error());
        return facs_fail(s, "%s: %s; lower --lr (checkpoints already written are kept)", where, why);
    }
    FACS_TRY(facs_sgd_step(&r->sgd));
    FACS_TRY(facs_sgd_zero_grad(&r->sgd));
    return add_global(r, values, &local, b->n, (double)local.labelled / (double)global_labelled, sums);
}

/* On the host, where the checkpoint's write brings every tensor anyway: a run
 * can diverge with a finite loss and finite gradients while its BatchNorm
 * running variances overflow, and such a checkpoint predicts NaN everywhere. */
facs_status ps_check_finite_weights(const ps_run *r)
{
    char where[48];
    snprintf(where, sizeof where, "iteration %lld", (long long)r->sgd.steps);
    return facs_check_finite_values(r->ctx, facs_model_params(r->model), where);
}
