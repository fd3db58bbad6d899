/* The contract between backbone/model.c and each network family. A family
 * lists its architecture names and builds a network behind an opaque impl;
 * model.c dispatches by name. Adding a family of backbone/ = one file
 * defining a facs_model_family + one line in model.c's table; a family of a
 * floor above backbone/ (pspnet/) registers itself at run time instead
 * (facs_model_register_family, model.h). */
#ifndef FACS_MODEL_FAMILY_H
#define FACS_MODEL_FAMILY_H

#include <stddef.h>

#include "layers.h" /* facs_tap */
#include "model.h"

struct facs_model_family {
    const char *const *(*names)(void); /* NULL-terminated list */
    const char *head_prefix;  /* "fc." */
    const char *head_weight;  /* the classifier's weight key, "fc.weight": its rows are the classes */
    /* Defaults of facs_model_options_for_arch; 0 means the classification
     * default: 1000 classes, output stride 32. */
    int classes, output_stride;
    /* 1: the logits are per pixel, (N, classes, H, W) at the input's size
     * (PSPNet); 0: one vector per image, (N, classes, 1, 1). */
    int segmentation;
    /* The default dropout probability; negative: the family has no dropout
     * (a dropout above 0 is then refused, 0 accepted). */
    double dropout;
    /* Builds the network for options (options->arch is one of names): *impl
     * receives the network, *params its parameter list (owned by impl), *facs
     * whether it uses the FACS op. On failure nothing is left allocated. */
    facs_status (*create)(void **impl, facs_param_list **params, int *facs, const facs_model_options *options,
                          facs_device device, uint64_t seed);
    facs_tensor *(*forward)(facs_ctx *ctx, void *impl, facs_tensor *x);
    void (*destroy)(void *impl);
    /* Optional (NULL: none): the auxiliary logits of the last forward in
     * training mode, NULL in eval mode (facs_model_aux_output). */
    facs_tensor *(*aux_output)(void *impl);
    /* Optional, for facs_model_load_backbone (model_file.h): into buf, the key
     * that the model's tensor model_key has in the weights file of the
     * backbone's classification network (an ImageNet ResNet), or NULL when the
     * tensor is no part of the backbone (a head: left to its initialiser). NULL
     * hook: every tensor outside head_prefix keeps its name. */
    const char *(*backbone_key)(const facs_model_options *options, const char *model_key, char *buf, size_t size);
    /* The classifier of that file, which loading skips ("fc."); NULL: head_prefix. */
    const char *backbone_head_prefix;
    /* Optional (NULL: the family has no feature taps), for facs_model_set_tap:
     * tap_name writes into buf the name of the network's tap point index
     * (0, 1, ... in forward order: a state_dict prefix, "layer4.2") and
     * returns buf, or NULL past the last point. The last point is the
     * family's default tap, its last feature block. tap_slot is the network's
     * facs_tap (layers.h), which its forward fills through facs_tap_offer or
     * facs_tap_keep at each point. */
    const char *(*tap_name)(void *impl, int index, char *buf, size_t size);
    facs_tap *(*tap_slot)(void *impl);
    /* Optional (NULL: nothing to fold), for facs_model_fold_bn: folds the
     * network's BNs into the convolutions before them (layers.h facs_bn_fold). */
    facs_status (*fold_bn)(void *impl);
};

/* The family that built model (model_file.c reads its hooks). */
const facs_model_family *facs_model_family_of(const facs_model *model);

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
extern const facs_model_family facs_pspnet_family; /* pspnet.h */

#endif
