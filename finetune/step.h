/* One batch through the model: the forward pass and the loss, the logits
 * brought to the host for accuracy, and in training backward + the SGD step.
 * Shared by training and evaluation. */
#ifndef FT_STEP_H
#define FT_STEP_H

#include "loader.h"
#include "parallel.h"
#include "model.h"
#include "optim.h"

typedef struct {
    float loss;     /* mean cross-entropy of the batch (label-smoothed in training when asked) */
    float *logits;  /* n x classes, row-major (caller's buffer, batch x classes floats) */
} ft_step_result;

/* sgd NULL: evaluation (BN running statistics, no tape). In training, the
 * step's stochastic ops are seeded from (seed, sgd->steps) alone, so a resumed
 * run draws what the uninterrupted one drew, and the loss has label smoothing
 * `smoothing` (ops.h; evaluation reports the plain cross-entropy, so runs
 * with different smoothing compare). A non-finite loss or gradient is
 * refused before the step changes any parameter; the message starts with
 * where ("epoch 2, batch 1", "evaluation after epoch 2"). */
/* Data parallel (training): the loss is the mean over the global batch of
 * global_n images, b->n of them this rank's, and par sums the gradients over
 * the ranks before the step (parallel.h); in evaluation par is NULL. */
facs_status ft_step(facs_ctx *ctx, facs_model *model, facs_sgd *sgd, facs_parallel *par, uint64_t seed,
                    float smoothing, const facs_batch *b, int64_t global_n, int classes, const char *where,
                    ft_step_result *r);

#endif
