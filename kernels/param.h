/* Named, persistent model state: trainable parameters and non-trainable buffers.
 *
 * A model registers every tensor it keeps across steps in one facs_param_list,
 * under its torchvision state_dict key, so that weight files (one HDF5 dataset
 * per key, see DESIGN.md "Weights") and optimizers find them by name:
 *
 *     facs_param_list params;
 *     facs_param_list_init(&params);
 *     facs_param *w  = facs_param_list_add(&params, FACS_PARAM_TRAINABLE, "conv1.weight", dev, 64, 3, 7, 7);
 *     facs_param *g  = facs_param_list_add(&params, FACS_PARAM_TRAINABLE, "bn1.weight", dev, 64, 1, 1, 1);
 *     facs_param *rm = facs_param_list_add(&params, FACS_PARAM_BUFFER, "bn1.running_mean", dev, 64, 1, 1, 1);
 *     g->no_decay = 1;                    // BN affine and biases: see optim.h
 *     ... facs_conv2d(ctx, x, w->value, NULL, &p) ...
 *     facs_param_list_free(&params);
 *
 * Shapes follow tensor.h: a vector of C values is (C, 1, 1, 1), a linear
 * weight (OUT, IN, 1, 1), a conv weight (O, I/groups, KH, KW) stored OHWI.
 *
 * Ownership: the list owns its entries, their names, value tensors, gradients
 * (value->grad, created by the first backward that reaches the parameter) and
 * optimizer state (momentum). Entry pointers stay valid until the list is
 * freed: the list grows by reallocating an array of pointers, not of entries. */
#ifndef FACS_PARAM_H
#define FACS_PARAM_H

#include <stddef.h>

#include "tensor.h"

typedef enum {
    FACS_PARAM_TRAINABLE = 0, /* has a gradient; the optimizer updates it */
    FACS_PARAM_BUFFER = 1     /* persistent state without gradient (BN running stats) */
} facs_param_kind;

typedef struct facs_param {
    char *name;            /* state_dict key, e.g. "layer1.0.conv1.weight" */
    facs_param_kind kind;
    facs_tensor *value;    /* heap tensor; trainable: is_param = requires_grad = 1 */
    /* SGD momentum buffer, same shape and device as value. NULL until the first
     * step that sees a gradient: PyTorch then sets it to a copy of d_p rather
     * than starting from zero, which differs when dampening != 0. */
    facs_tensor *momentum;
    double lr_mult;        /* effective lr = lr * lr_mult (PyTorch: a param group's lr); 1 by default */
    int no_decay;          /* BN weight/bias or a bias: exempt from weight decay when the optimizer says so */
    int frozen;            /* the optimizer skips it; set with facs_param_set_frozen */
    int bn_folded;         /* facs_bn_fold scaled it: an inference model's value, which no weight file may hold */
    /* The rank PyTorch holds the tensor in, which the shape alone cannot say (a
     * linear weight and a 1x1 conv weight are both (OUT, IN, 1, 1)): 1 for
     * vectors, 2 for linear weights, 4 for conv weights. facs_param_list_add sets
     * 1 for (n, 1, 1, 1) and 4 otherwise; a model registering a linear weight sets 2.
     * Weight files store each tensor in this rank. */
    int torch_rank;
} facs_param;

typedef struct {
    facs_param **items; /* registration order, which weight files and optimizers follow */
    int count, capacity;
} facs_param_list;

void facs_param_list_init(facs_param_list *list);
/* Frees every entry and its tensors; the list is empty and reusable afterwards. */
void facs_param_list_free(facs_param_list *list);

/* Registers a zero-filled tensor of shape (n, c, h, w) on device under name
 * (copied). NULL with last error on a duplicate or empty name, a bad shape, a
 * missing backend or out of memory. */
facs_param *facs_param_list_add(facs_param_list *list, facs_param_kind kind, const char *name, facs_device device,
                                int n, int c, int h, int w);

/* Moves every entry's value, gradient and momentum to device in place
 * (facs_tensor_move_to): a model built and loaded on the CPU runs on a GPU. */
facs_status facs_param_list_to_device(facs_param_list *list, facs_device device);

/* The entry registered under name, or NULL. */
facs_param *facs_param_list_find(const facs_param_list *list, const char *name);

/* Zeroes in place every existing gradient of the list's trainable entries
 * (keeping the memory, so the training loop does not allocate). */
facs_status facs_param_list_zero_grad(facs_param_list *list);

/* Number of scalars held by entries of the given kind (the "parameters" count
 * of a model is the FACS_PARAM_TRAINABLE one). */
size_t facs_param_list_numel(const facs_param_list *list, facs_param_kind kind);

/* Freezing also clears value->requires_grad, so backward neither computes nor
 * accumulates its gradient; unfreezing restores it. Buffers are left alone. */
void facs_param_set_frozen(facs_param *p, int frozen);

/* Allocates the momentum buffer (zero-filled) if it is missing. The optimizer
 * calls it on a parameter's first step; a checkpoint loader calls it before
 * uploading a saved buffer (see optim.h). */
facs_status facs_param_ensure_momentum(facs_param *p);

#endif
