/* Registering a model tensor together with its initial values.
 *
 * Each tensor draws from its own counter-based stream, derived from the seed
 * and the tensor's registration index, so a model's initial weights depend on
 * the seed alone (not on thread count or on other models built before). */
#ifndef FACS_INIT_H
#define FACS_INIT_H

#include <stdint.h>

#include "param.h"

typedef enum {
    FACS_INIT_ZERO,    /* 0 */
    FACS_INIT_ONE,     /* 1 (BN weight, running_var) */
    FACS_INIT_NORMAL,  /* normal, standard deviation scale (Kaiming) */
    FACS_INIT_UNIFORM  /* uniform in [-scale, scale] (nn.Linear's default) */
} facs_init_rule;

/* facs_param_list_add, then fills the tensor by rule. NULL with last error. */
facs_param *facs_param_add_init(facs_param_list *list, facs_param_kind kind, const char *name, facs_device device,
                                int n, int c, int h, int w, facs_init_rule rule, double scale, uint64_t seed);

#endif
