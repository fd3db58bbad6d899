/* The run's files: OUT/last.h5 (weights + optimizer state, for --resume) and
 * OUT/best.h5 (weights), each in backbone/weights.h's format plus the root
 * attributes below, which say how to rebuild the model and its input
 * (--eval needs no other option) and where the run stood.
 *
 *   ft_width (float64), ft_cifar_stem, ft_fusion_bn, ft_input_size, ft_norm,
 *   ft_batch, ft_epochs, ft_seed (int64), ft_lr, ft_momentum, ft_wd, ft_warmup
 *   (float64), ft_nesterov, ft_schedule (int64): the run's configuration;
 *   ft_best_top1 (float64), ft_best_epoch: best test top-1 so far;
 *   ft_partial_loss_sum (float64), ft_partial_correct, ft_partial_seen: the
 *   training sums of an epoch interrupted after some of its steps.
 *
 * A save writes everything to `<path>.partial.<pid>`, syncs it and renames it
 * over path, so an existing file is replaced whole or not at all. */
#ifndef FT_CHECKPOINT_H
#define FT_CHECKPOINT_H

#include <stdint.h>

#include "weights.h"

typedef struct {
    double width;
    int64_t cifar_stem, fusion_bn, input_size, norm, batch, epochs, seed;
    double lr, momentum, wd, warmup;
    int64_t nesterov, schedule;
    double best_top1;
    int64_t best_epoch;
    double partial_loss_sum;
    int64_t partial_correct, partial_seen;
} ft_run_info;

/* sgd NULL: weights only (best.h5); else the whole training state. */
facs_status ft_checkpoint_save(const char *path, facs_param_list *params, const facs_sgd *sgd,
                               const facs_weights_meta *meta, const facs_train_state *state,
                               const ft_run_info *info);

/* The attributes above; *found = 0 (and info untouched) for a file without them. */
facs_status ft_read_run_info(const char *path, ft_run_info *info, int *found);

#endif
