/* The contract between backbone/model.c and each network family. A family
 * lists its architecture names and builds a network behind an opaque impl;
 * model.c dispatches by name. Adding a family = one file defining a
 * facs_model_family + one line in model.c's table. */
#ifndef FACS_MODEL_FAMILY_H
#define FACS_MODEL_FAMILY_H

#include "model.h"

typedef struct {
    const char *const *(*names)(void); /* NULL-terminated list */
    const char *head_prefix;  /* "fc." */
    const char *head_weight;  /* the classifier's weight key, "fc.weight": its rows are the classes */
    /* Builds the network for options (options->arch is one of names): *impl
     * receives the network, *params its parameter list (owned by impl), *facs
     * whether it uses the FACS op. On failure nothing is left allocated. */
    facs_status (*create)(void **impl, facs_param_list **params, int *facs, const facs_model_options *options,
                          facs_device device, uint64_t seed);
    facs_tensor *(*forward)(facs_ctx *ctx, void *impl, facs_tensor *x);
    void (*destroy)(void *impl);
} facs_model_family;

/* Index of arch in the NULL-terminated names, -1 when absent (or arch is NULL). */
int facs_arch_index(const char *const *names, const char *arch);

/* Fails with FACS_ERR_ARG: "<family>: unknown architecture '<arch>'; valid
 * names: <names, comma-separated>" (no "<family>: " when family is NULL).
 * Shared so every family and the dispatcher word the error alike. */
facs_status facs_arch_unknown(const char *family, const char *arch, const char *const *names);

/* FACS_OK when x has 3 channels (a batch of RGB images); else fails with
 * "<family>: input is <shape>; expected 3 channels (N, 3, H, W)". */
facs_status facs_expect_rgb(const char *family, const facs_tensor *x);

extern const facs_model_family facs_resnet_family;
extern const facs_model_family facs_vgg_family;
extern const facs_model_family facs_mobilenet_family;

#endif
