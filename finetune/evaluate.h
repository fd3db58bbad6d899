/* Evaluation of a classifier on a loader's next pass: the mean loss and the
 * confusion matrix with top-k (eval/confusion.h), which give top-1/top-5,
 * the per-class table and confusion.csv. */
#ifndef FT_EVALUATE_H
#define FT_EVALUATE_H

#include "confusion.h"
#include "loader.h"
#include "model.h"

typedef struct {
    facs_confusion matrix;
    double loss_sum; /* sum over samples of the cross-entropy */
} ft_eval;

facs_status ft_eval_init(ft_eval *e, int classes);
void ft_eval_free(ft_eval *e);

/* One pass over the loader's next epoch (evaluation mode); e is reset first.
 * where names the pass in messages ("evaluation after epoch 3"). Data
 * parallel: each rank's loader holds its shard, and comm sums the ranks'
 * results, so every rank gets the whole split's. */
facs_status ft_evaluate(facs_ctx *ctx, facs_model *model, facs_loader *loader, facs_comm *comm, const char *where,
                        ft_eval *e);

static inline double ft_eval_loss(const ft_eval *e)
{
    int64_t n = facs_confusion_total(&e->matrix);
    return n ? e->loss_sum / (double)n : 0;
}

#endif
