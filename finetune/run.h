/* A training run: everything set up (setup.c) before the epoch loop
 * (train.c) starts, so that every check — data, weights, options against a
 * checkpoint — has passed before any file in OUT is written. */
#ifndef FT_RUN_H
#define FT_RUN_H

#include "checkpoint.h"
#include "data.h"
#include "evaluate.h"
#include "ft_options.h"
#include "run_log.h"

typedef struct {
    const ft_options *o;
    char last_path[4096], best_path[4096], log_path[4096], plot_path[4096], confusion_path[4096];
    ft_split train, test;
    int classes, batches_per_epoch;
    facs_ctx *ctx;
    facs_model *model;
    facs_sgd sgd;
    int sgd_ready;
    facs_lr_schedule schedule;
    facs_weights_meta meta;
    ft_run_info info;   /* configuration, best so far and the partial epoch */
    int first_epoch;    /* 0-based epoch the loop starts in */
    int skip_batches;   /* batches of first_epoch already trained (mid-epoch resume) */
    facs_loader *train_loader, *test_loader;
    ft_history history;
    ft_eval eval;
} ft_run;

/* Exit codes of the program. */
enum { FT_EXIT_OK = 0, FT_EXIT_ERROR = 1, FT_EXIT_USAGE = 2, FT_EXIT_INTERRUPTED = 130 };

facs_status ft_run_setup(ft_run *r, const ft_options *o);
void ft_run_free(ft_run *r);

/* The epoch loop; FT_EXIT_* (the error, if any, in facs_last_error()). */
int ft_run_train(ft_run *r);

/* --eval: the weights file on the test split; FT_EXIT_*. */
int ft_eval_weights(const ft_options *o);

#endif
