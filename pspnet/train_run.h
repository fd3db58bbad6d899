/* A pspnet-train run: set up (train_setup.c) before the iteration loop
 * (train_loop.c) starts, so every check has passed before OUT is written.
 * The output folder, checkpoints, log, resume and Ctrl-C are the run layer's
 * (train/run.h); validation is eval/seg_eval.h's whole-image evaluation. */
#ifndef PS_TRAIN_RUN_H
#define PS_TRAIN_RUN_H

#include "augment.h"
#include "cityscapes.h"
#include "interrupt.h"
#include "loader.h"
#include "run.h"
#include "train_options.h"

typedef struct {
    const ps_options *o;
    facs_run run;
    char plot_path[4096];
    facs_cityscapes_pairs train_index, val_index;
    facs_dataset train_set, val_set;
    facs_seg_aug aug;
    facs_loader *loader;
    int batches_per_epoch;
    int64_t total_iters;
    facs_ctx *ctx;
    facs_model *model;
    facs_sgd sgd;
    int sgd_ready;
    facs_lr_schedule schedule;
    facs_weights_meta meta;
} ps_run;

facs_status ps_run_setup(ps_run *r, const ps_options *o);
void ps_run_free(ps_run *r);

/* The iteration loop; FACS_EXIT_* (the error, if any, in facs_last_error()). */
int ps_run_train(ps_run *r);

/* OUT/curves.png from the log's records. */
facs_status ps_plot_curves(const json_t *history, const char *path);

/* The sums of a log interval: what one step adds. */
typedef struct {
    double loss, main_loss, aux_loss; /* sums over steps */
    int64_t correct, labelled;        /* pixels (ignore label excluded) */
    int64_t steps, images;
    double seconds;
} ps_sums;

/* One training step on batch b (forward, main + aux_weight * aux loss,
 * backward, SGD), its losses and pixel counts added to sums. A non-finite loss
 * or gradient is refused before the weights change; where names the step. */
facs_status ps_step(ps_run *r, const facs_batch *b, const char *where, ps_sums *sums);

#endif
