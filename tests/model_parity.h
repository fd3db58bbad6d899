/* Whole-network parity against a PyTorch reference written by
 * tests/ref/model_case.py: one case = a model's weights (with the case's own
 * nudged biases), an input, a gradient of the output, and what PyTorch
 * computed from them (output, input gradient, every parameter gradient, the
 * running statistics after a train-mode step).
 *
 * Tolerances: normwise relative per tensor, tol in eval mode, never widened;
 * in train mode max(tol_train, 8 spread), where spread (an attribute of each
 * reference tensor) is PyTorch's own NCHW vs channels_last difference: batch
 * statistics of a 2-image batch amplify rounding so much that two float32
 * runs of PyTorch itself disagree by that (test_resnet.c says more). A
 * reference tensor with attribute 'floor' (a train-mode bias gradient that is
 * rounding noise around zero, tests/ref/model_case.py) is measured as
 * max |got - want| / max(floor, max |want|) instead. */
#ifndef FACS_MODEL_PARITY_H
#define FACS_MODEL_PARITY_H

#include <stddef.h>

#include "h5_io.h"
#include "ops.h"
#include "param.h"

typedef struct {
    double tol, tol_train;   /* 1e-4, 3e-4 */
    const char *verbose_env; /* when this variable is set, every comparison is printed */
    double worst;            /* worst error among tensors at the base tolerance */
    char worst_what[256];
    int widened;             /* tensors whose tolerance PyTorch's own spread widened */
} parity_stats;

parity_stats parity_stats_init(const char *verbose_env);

/* Fills params from /<model>/model/<key>, or /<case_name>/bias/<key> where the
 * case stores its own value (its nudged biases, and any other tensor its
 * calibration moved); case_name NULL: the model's own weights only.
 * Returns 1 on success (failures are CHECKs). */
int parity_load_weights(h5_file *ref, const char *model, const char *case_name, facs_param_list *params);

/* got against the reference tensor at key. */
void parity_compare(parity_stats *st, h5_file *ref, const char *key, const char *what, const float *got, size_t count,
                    int training);

typedef facs_tensor *(*parity_forward_fn)(facs_ctx *ctx, void *net, facs_tensor *x);

/* Runs /<case_name>: forward of x_key (NULL: /<model>/x) through forward(net) in the case's
 * mode (attribute 'training'), backward from its grad_output, then compares
 * output, grad_x and, for every entry of params, its gradient (none or zero
 * where PyTorch has none, as for a FACS block's unused BN) and in train mode
 * the updated buffers. */
void parity_run_case(parity_stats *st, h5_file *ref, facs_ctx *ctx, const char *case_name, const char *model,
                     const char *x_key, facs_param_list *params, parity_forward_fn forward, void *net);

/* The summary line: worst error and the widened count. */
void parity_print(const parity_stats *st);

#endif
