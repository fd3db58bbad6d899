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
#include "parallel.h"
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
    facs_comm *comm; /* the run's ranks (one without mpirun); borrowed */
    facs_parallel par;
} ps_run;

/* Data parallel: every rank sets up the same run; rank 0 alone writes OUT and prints. */
facs_status ps_run_setup(ps_run *r, const ps_options *o, facs_comm *comm);
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
 * or gradient is refused before the weights change; where names the step.
 * Data parallel: b is the rank's part of the global batch, whose labelled
 * pixels (global_labelled) the losses average over; the sums added are the
 * global batch's, the same on every rank. */
facs_status ps_step(ps_run *r, const facs_batch *b, int64_t global_labelled, const char *where, ps_sums *sums);

/* The pixels of b that carry a class (not the ignore label). */
int64_t ps_labelled_pixels(const ps_run *r, const facs_batch *b);

/* Every value of the model finite (weights and BatchNorm statistics), else a
 * message naming the first bad tensor and the iteration: checked before each
 * checkpoint, so that a run that diverged keeps its earlier ones. */
facs_status ps_check_finite_weights(const ps_run *r);

#endif
