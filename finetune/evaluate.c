/* A classifier's loss and confusion matrix over one pass (see evaluate.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evaluate.h"
#include "step.h"

facs_status ft_eval_init(ft_eval *e, int classes)
{
    memset(e, 0, sizeof *e);
    return facs_confusion_init(&e->matrix, classes);
}

void ft_eval_free(ft_eval *e) { facs_confusion_free(&e->matrix); }

facs_status ft_evaluate(facs_ctx *ctx, facs_model *model, facs_loader *loader, facs_comm *comm, const char *where,
                        ft_eval *e)
{
    int k = e->matrix.classes;
    facs_confusion_reset(&e->matrix);
    e->loss_sum = 0;
    float *logits = NULL;
    int capacity = 0;
    facs_status s = FACS_OK;
    for (;;) {
        const facs_batch *b;
        if ((s = facs_loader_next(loader, &b)) != FACS_OK || !b)
            break;
        if (b->n == 0)
            continue; /* every file of the batch was skipped (--skip-bad) */
        if (b->n > capacity) {
            free(logits);
            capacity = b->n;
            if (!(logits = malloc((size_t)capacity * k * sizeof *logits))) {
                s = facs_fail(FACS_ERR_MEMORY, "out of memory for the logits");
                break;
            }
        }
        char batch_where[128];
        snprintf(batch_where, sizeof batch_where, "%s, test batch %d", where, b->batch + 1);
        ft_step_result r = {0, logits};
        if ((s = ft_step(ctx, model, NULL, NULL, 0, 0.0f, b, b->n, k, batch_where, &r)) != FACS_OK)
            break;
        if ((s = facs_confusion_add_logits(&e->matrix, logits, b->labels, b->n)) != FACS_OK)
            break;
        e->loss_sum += (double)r.loss * b->n;
    }
    free(logits);
    if (s == FACS_OK && comm)
        s = facs_confusion_allreduce(&e->matrix, comm);
    if (s == FACS_OK && comm)
        s = facs_comm_allreduce_sum(comm, &e->loss_sum, 1, FACS_COMM_F64);
    return s;
}
