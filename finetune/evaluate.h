/* Test-split evaluation: top-1 and top-5 accuracy, the confusion matrix, and
 * the per-class table (stdout) and CSV (OUT/confusion.csv) made from it. */
#ifndef FT_EVALUATE_H
#define FT_EVALUATE_H

#include <stdint.h>
#include <stdio.h>

#include "cifar.h"
#include "loader.h"
#include "model.h"

typedef struct {
    int classes;
    int64_t seen, top1, top5;
    double loss_sum;
    int64_t *confusion; /* classes x classes counts: row = true class, column = predicted */
} ft_eval;

facs_status ft_eval_init(ft_eval *e, int classes);
void ft_eval_free(ft_eval *e);

/* One pass over the loader's next epoch (evaluation mode); e is reset first. */
facs_status ft_evaluate(facs_ctx *ctx, facs_model *model, facs_loader *loader, ft_eval *e);

static inline double ft_eval_top1(const ft_eval *e) { return e->seen ? (double)e->top1 / e->seen : 0; }
static inline double ft_eval_top5(const ft_eval *e) { return e->seen ? (double)e->top5 / e->seen : 0; }

/* The table: class, name, images, correct, accuracy, most frequent confusion. */
void ft_eval_print_table(const ft_eval *e, const facs_cifar *names, FILE *out);

/* The matrix as CSV (header "true\predicted" then the class names), written
 * to a temporary file and renamed over path. */
facs_status ft_eval_write_confusion(const ft_eval *e, const facs_cifar *names, const char *path);

#endif
