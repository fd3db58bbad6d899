/* A facs-finetune run: everything set up (setup.c) before the epoch loop
 * (train.c) starts, so that every check — data, weights, options against a
 * checkpoint — has passed before any file in OUT is written. The output
 * folder, checkpoints, log and resume bookkeeping are the shared run layer's
 * (train/run.h); what is data- and classification-specific stays here. */
#ifndef FT_RUN_H
#define FT_RUN_H

#include "run.h"
#include "data.h"
#include "evaluate.h"
#include "ft_options.h"
#include "interrupt.h"
#include "parallel.h"

typedef struct {
    const ft_options *o;
    facs_run run;
    char plot_path[4096], confusion_path[4096];
    ft_split train, test;
    int classes, batches_per_epoch;
    facs_ctx *ctx;
    facs_model *model;
    facs_sgd sgd;
    int sgd_ready;
    facs_lr_schedule schedule;
    facs_weights_meta meta;
    int skip_batches; /* batches of the first epoch already trained (mid-epoch resume) */
    facs_loader *train_loader, *test_loader;
    ft_eval eval;
    facs_comm *comm;        /* the run's ranks (one without mpirun); borrowed */
    facs_parallel par;
} ft_run;

/* Data parallel (docs/finetune.md): every rank sets up the same run; rank 0
 * alone writes OUT (facs_run_config.follower) and prints. */
facs_status ft_run_setup(ft_run *r, const ft_options *o, facs_comm *comm);
void ft_run_free(ft_run *r);

/* The epoch loop; FACS_EXIT_* (the error, if any, in facs_last_error()). */
int ft_run_train(ft_run *r);

/* --eval: the weights file on the test split; FACS_EXIT_*. */
int ft_eval_weights(const ft_options *o);

#endif
