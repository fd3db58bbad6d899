/* The two FLOP conventions of flops.h, and whole-model counts through the
 * profiling hook. */
#include "flops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t numel(const facs_tensor *t) { return t ? (int64_t)t->n * t->c * t->h * t->w : 0; }

static const facs_tensor *operand(const facs_tensor *const *inputs, int n_inputs, int i)
{
    return i < n_inputs ? inputs[i] : NULL;
}

facs_status facs_flops_convention_parse(const char *name, facs_flops_convention *convention)
{
    if (name && strcmp(name, "ptflops") == 0)
        *convention = FACS_FLOPS_PTFLOPS;
    else if (name && strcmp(name, "appendix-a") == 0)
        *convention = FACS_FLOPS_APPENDIX_A;
    else
        return facs_fail(FACS_ERR_ARG, "unknown FLOP convention '%s'; valid names: ptflops, appendix-a",
                         name ? name : "(null)");
    return FACS_OK;
}

const char *facs_flops_convention_name(facs_flops_convention convention)
{
    return convention == FACS_FLOPS_APPENDIX_A ? "appendix-a" : "ptflops";
}

/* conv2d and linear: w is (O, I/groups, KH, KW), so each output element takes
 * I/groups x KH x KW multiply-adds; a bias adds one per output element. */
static int64_t weighted_sum(const facs_tensor *w, const facs_tensor *b, const facs_tensor *out)
{
    return numel(out) * ((int64_t)w->c * w->h * w->w) + (b ? numel(out) : 0);
}

/* x (N, C, H, W) -> out (N, C/R, H, W) with w (C/R, C, 1, 1). */
static int64_t facs_op(facs_flops_convention convention, const facs_tensor *x, const facs_tensor *w,
                       const facs_tensor *b, const facs_tensor *out)
{
    int64_t squeezed = (int64_t)x->n * w->n; /* the C/R descriptor entries of the batch */
    int64_t pool = numel(x), blend = squeezed * w->c + (b ? squeezed : 0);
    if (convention == FACS_FLOPS_PTFLOPS)
        return pool + blend;
    int64_t fusion = (numel(x) - numel(out)); /* (R - 1) x C/R x H x W per image */
    return pool + blend + 4 * squeezed + fusion;
}

int64_t facs_flops_of_op(facs_flops_convention convention, const char *op, const facs_tensor *const *inputs,
                         int n_inputs, const facs_tensor *out)
{
    const facs_tensor *x = operand(inputs, n_inputs, 0), *w = operand(inputs, n_inputs, 1),
                      *b = operand(inputs, n_inputs, 2);
    int appendix = convention == FACS_FLOPS_APPENDIX_A;
    if (!op || !out)
        return 0;
    if ((strcmp(op, "conv2d") == 0 || strcmp(op, "linear") == 0) && w)
        return weighted_sum(w, b, out);
    if (strcmp(op, "facs") == 0 && x && w)
        return facs_op(convention, x, w, b, out);
    if (strcmp(op, "batchnorm2d") == 0)
        return (appendix ? 4 : 2) * numel(out);
    if (strcmp(op, "relu") == 0 || strcmp(op, "relu6") == 0)
        return numel(out);
    if (strcmp(op, "sigmoid") == 0)
        return appendix ? 4 * numel(out) : 0;
    if (strcmp(op, "maxpool2d") == 0 || strcmp(op, "avgpool2d") == 0 || strcmp(op, "adaptive_avgpool2d") == 0 ||
        strcmp(op, "global_avgpool") == 0)
        return numel(x);
    if (strcmp(op, "resize_bilinear") == 0)
        return numel(out);
    if (strcmp(op, "scale_channels") == 0)
        return appendix ? numel(out) : 0;
    if (strcmp(op, "channel_pool") == 0 && x)
        return appendix ? numel(x) - numel(out) : 0; /* (R - 1) x C/R x H x W per image */
    return 0;
}

/* What the profile hook fills: the count and where to look names up. */
typedef struct {
    const facs_param_list *params;
    facs_flops_count *count;
    int out_of_memory;
} collector;

/* The trainable parameter whose value is t, or NULL. */
static const facs_param *trainable_of(const facs_param_list *params, const facs_tensor *t)
{
    for (int i = 0; t && i < params->count; i++)
        if (params->items[i]->value == t && params->items[i]->kind == FACS_PARAM_TRAINABLE)
            return params->items[i];
    return NULL;
}

static void name_layer(const collector *c, facs_flops_layer *l, const char *op, const facs_tensor *weight)
{
    const facs_param *p = trainable_of(c->params, weight);
    if (p) {
        size_t len = strlen(p->name), suffix = strlen(".weight");
        if (len > suffix && strcmp(p->name + len - suffix, ".weight") == 0)
            len -= suffix;
        snprintf(l->name, sizeof l->name, "%.*s", (int)len, p->name);
        return;
    }
    int index = 0; /* earlier calls of the same op */
    for (int i = 0; i < c->count->count; i++)
        index += strcmp(c->count->layers[i].op, op) == 0;
    snprintf(l->name, sizeof l->name, "%s#%d", op, index);
}

static void profile(void *user, const char *op, const facs_tensor *const *inputs, int n_inputs,
                    const facs_tensor *out, const facs_tensor *weight)
{
    collector *c = user;
    facs_flops_count *k = c->count;
    if (c->out_of_memory || strcmp(op, FACS_PROFILE_MOVE) == 0) /* a tensor moved, not a layer */
        return;
    if (k->count == k->capacity) {
        int capacity = k->capacity ? 2 * k->capacity : 256;
        facs_flops_layer *layers = realloc(k->layers, (size_t)capacity * sizeof *layers);
        if (!layers) {
            c->out_of_memory = 1;
            return;
        }
        k->layers = layers;
        k->capacity = capacity;
    }
    facs_flops_layer *l = &k->layers[k->count];
    *l = (facs_flops_layer){.op = op, .shape = {out->n, out->c, out->h, out->w}};
    name_layer(c, l, op, weight);
    for (int i = 0; i < n_inputs; i++) {
        const facs_param *p = trainable_of(c->params, inputs[i]);
        if (p)
            l->params += (int64_t)facs_tensor_numel(p->value);
    }
    l->flops = facs_flops_of_op(k->convention, op, inputs, n_inputs, out);
    k->used_params += l->params;
    k->flops += l->flops;
    k->count++;
}

void facs_flops_count_free(facs_flops_count *count)
{
    free(count->layers);
    *count = (facs_flops_count){.convention = count->convention};
}

facs_status facs_flops_count_model(facs_model *model, int height, int width, facs_flops_convention convention,
                                   facs_flops_count *out)
{
    *out = (facs_flops_count){.convention = convention};
    const facs_param_list *params = facs_model_params(model);
    if (params->count == 0)
        return facs_fail(FACS_ERR_ARG, "flops: the model has no parameters, so no device to run on");
    if (height < 1 || width < 1)
        return facs_fail(FACS_ERR_ARG, "flops: input size %dx%d must be positive", height, width);
    facs_ctx *ctx = facs_ctx_create(params->items[0]->value->device);
    if (!ctx)
        return FACS_ERR_BACKEND;
    collector c = {.params = params, .count = out};
    facs_ctx_set_mode(ctx, 0, 0);
    facs_ctx_begin_step(ctx);
    ctx->profile = profile;
    ctx->profile_user = &c;
    facs_tensor *x = facs_ctx_zeros(ctx, FACS_F32, 1, 3, height, width);
    facs_tensor *y = x ? facs_model_forward(ctx, model, x) : NULL;
    facs_ctx_free(ctx);
    facs_status s = FACS_OK;
    if (c.out_of_memory)
        s = facs_fail(FACS_ERR_MEMORY, "flops: out of host memory for the layer table");
    else if (!y)
        s = facs_last_status() != FACS_OK ? facs_last_status() : FACS_ERR_ARG;
    if (s != FACS_OK) {
        facs_flops_count_free(out);
        return s;
    }
    out->params = (int64_t)facs_param_list_numel(params, FACS_PARAM_TRAINABLE);
    return FACS_OK;
}
