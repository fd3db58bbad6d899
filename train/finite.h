/* Guards of a training step: a non-finite gradient stops the run before the
 * optimizer writes it into the weights, so the last checkpoint stays the
 * last good state. */
#ifndef FACS_FINITE_H
#define FACS_FINITE_H

#include "param.h"

/* FACS_OK when every gradient of the list's trainable entries is finite;
 * else FACS_ERR_ARG naming the first bad tensor and the count of bad values. */
facs_status facs_check_finite_grads(const facs_param_list *params);

#endif
