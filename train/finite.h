/* Guards of a training run: a non-finite gradient stops the run before the
 * optimizer writes it into the weights, and non-finite weights or statistics
 * stop it before a checkpoint, so the last checkpoint stays the last good
 * state. */
#ifndef FACS_FINITE_H
#define FACS_FINITE_H

#include "ctx.h"
#include "param.h"

/* FACS_OK when every gradient of the list's trainable entries is finite;
 * else FACS_ERR_ARG naming the first bad tensor (in list order) and the
 * count of bad values. The gradients must be on ctx's device: they are
 * counted there (backend.h count_non_finite, into scratch of ctx valid until
 * its next step) and one download brings every count back. */
facs_status facs_check_finite_grads(facs_ctx *ctx, const facs_param_list *params);

/* The same for the values of every entry, weights and buffers (BatchNorm's
 * running statistics), as "WHERE: the value of NAME has N non-finite values:
 * training diverged; lower --lr ...". Before a checkpoint: a run can diverge
 * with every gradient finite (huge steps, running variances past float's
 * range), and its checkpoint must not keep it. */
facs_status facs_check_finite_values(facs_ctx *ctx, const facs_param_list *params, const char *where);

#endif
