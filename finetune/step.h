/* One batch through the model: the forward pass and the loss, the logits
 * brought to the host for accuracy, and in training backward + the SGD step.
 * Shared by training and evaluation. */
#ifndef FT_STEP_H
#define FT_STEP_H

#include "grad_sync.h"
#include "loader.h"
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
/* Data parallel: share is the rank's part of the global batch (b->n over the
 * ranks' sum), which seeds backward, and sync sums the gradients over the
 * ranks before the step (grad_sync.h); NULL and 1 in one process. */
facs_status ft_step(facs_ctx *ctx, facs_model *model, facs_sgd *sgd, facs_grad_sync *sync, uint64_t seed,
                    float smoothing, const facs_batch *b, float share, int classes, const char *where,
                    ft_step_result *r);

#endif
