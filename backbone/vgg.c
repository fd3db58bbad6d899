/* VGG-16-1x1 / FACS-VGG-16: construction, forward pass and the facs_model
 * family (see vgg.h). */
#include "vgg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_family.h"

typedef struct {
    const char *name;
    int reduction, facs;
} arch_entry;

static const arch_entry ARCHS[] = {
    {"vgg16_1x1_r2", 2, 0},
    {"vgg16_1x1_r4", 4, 0},
    {"facs_vgg16_r2", 2, 1},
    {"facs_vgg16_r4", 4, 1},
};
#define ARCH_COUNT ((int)(sizeof ARCHS / sizeof ARCHS[0]))
static const char *const NAMES[] = {"vgg16_1x1_r2", "vgg16_1x1_r4", "facs_vgg16_r2", "facs_vgg16_r4", NULL};

/* VGG-16: convs per block and their output channels at width 1. */
static const int BLOCK_CONVS[5] = {2, 2, 3, 3, 3};
static const int BLOCK_CHANNELS[5] = {64, 128, 256, 512, 512};
#define MIN_INPUT 32 /* five 2x2 pools */

const char *const *facs_vgg_arch_names(void) { return NAMES; }

_Static_assert(sizeof NAMES / sizeof NAMES[0] == ARCH_COUNT + 1, "NAMES must list every ARCHS entry");

static const arch_entry *find_arch(const char *arch)
{
    int i = facs_arch_index(NAMES, arch);
    return i < 0 ? NULL : &ARCHS[i];
}

static facs_status check_options(const facs_model_options *o)
{
    if (!find_arch(o->arch))
        return facs_arch_unknown("vgg", o->arch, NAMES);
    if (o->cifar_stem)
        return facs_fail(FACS_ERR_ARG, "%s: VGG has no stem to replace (cifar_stem); 32x32 inputs work as they are",
                         o->arch);
    if (o->fusion_bn == FACS_FUSION_BN_PRE)
        return facs_fail(FACS_ERR_ARG, "%s: BN before the fusion exists only for MobileNet-v2; VGG takes post-BN",
                         o->arch);
    if (o->output_stride != 0 && o->output_stride != 32)
        return facs_fail(FACS_ERR_ARG, "%s: VGG has output stride 32 only (dilation exists for ResNets), not %d",
                         o->arch, o->output_stride);
    if (o->deep_stem)
        return facs_fail(FACS_ERR_ARG, "%s: VGG has no stem to replace (deep_stem exists for ResNets)", o->arch);
    return FACS_OK;
}

/* Registers features.<*index> (conv) and features.<*index + 1> (BN), then
 * steps *index past the ReLU. */
static facs_status build_conv_bn(facs_builder *b, facs_param **conv, facs_bn *bn, int *index, int out, int in,
                                 int k)
{
    char name[64];
    snprintf(name, sizeof name, "features.%d.weight", *index);
    if (!(*conv = facs_build_conv(b, name, out, in, k)))
        return FACS_ERR_MEMORY;
    snprintf(name, sizeof name, "features.%d", *index + 1);
    *index += 3;
    return facs_build_bn(b, bn, name, out);
}

static facs_status build(facs_builder *b, facs_vgg *net)
{
    const facs_model_options *o = &net->options;
    int in = 3, index = 0, k = 0, taps = 0;
    for (int s = 0; s < 5; s++) {
        int out = (int)lround(BLOCK_CHANNELS[s] * o->width);
        if (out < 1)
            out = 1;
        for (int i = 0; i < BLOCK_CONVS[s]; i++, k++) {
            facs_vgg_layer *l = &net->layers[k];
            *l = (facs_vgg_layer){.in = in, .out = out, .pool_after = i == BLOCK_CONVS[s] - 1};
            if (i > 0) { /* the first conv of a block changes the width; the others keep it and get a squeeze */
                l->squeeze = in / net->reduction;
                if (l->squeeze < 1 || (net->facs && in % net->reduction != 0))
                    return facs_fail(FACS_ERR_ARG,
                                     "%s with width multiplier %g: block %d squeezes %d channels by R = %d, %s",
                                     o->arch, o->width, s + 1, in, net->reduction,
                                     l->squeeze < 1 ? "which leaves none"
                                                    : "which FACS cannot split into equal chunks");
                FACS_TRY(build_conv_bn(b, &l->squeeze_conv, &l->squeeze_bn, &index, l->squeeze, in, 1));
            }
            FACS_TRY(build_conv_bn(b, &l->conv, &l->bn, &index, out, l->squeeze ? l->squeeze : in, 3));
            net->tap_features[taps++] = index - 1; /* the ReLU */
            if (l->pool_after)
                net->tap_features[taps++] = index;
            index += l->pool_after; /* the max-pool holds an index of features too */
            in = out;
        }
    }
    return facs_build_linear(b, &net->fc_weight, &net->fc_bias, "classifier", o->classes, in, 0.01);
}

facs_status facs_vgg_create(facs_vgg *net, const facs_model_options *options, facs_device device, uint64_t seed)
{
    *net = (facs_vgg){.options = *options};
    facs_param_list_init(&net->params);
    facs_param_list_init(&net->folded);
    FACS_TRY(check_options(options));
    const arch_entry *arch = find_arch(options->arch);
    net->facs = arch->facs;
    net->reduction = arch->reduction;
    facs_builder b = {&net->params, device, seed};
    facs_status s = build(&b, net);
    if (s != FACS_OK)
        facs_vgg_free(net);
    return s;
}

void facs_vgg_free(facs_vgg *net)
{
    facs_model_options options = net->options;
    facs_param_list_free(&net->params);
    facs_param_list_free(&net->folded);
    *net = (facs_vgg){.options = options};
    facs_param_list_init(&net->params);
    facs_param_list_init(&net->folded);
}

static facs_tensor *conv_bn_relu(facs_ctx *ctx, facs_tensor *x, const facs_param *w, const facs_bn *bn, int pad)
{
    return facs_conv_bn(ctx, x, w, bn, 1, pad, 1, 1, NULL, FACS_POST_RELU);
}

static facs_tensor *squeeze(facs_ctx *ctx, const facs_vgg *net, const facs_vgg_layer *l, facs_tensor *x)
{
    if (!net->facs)
        return conv_bn_relu(ctx, x, l->squeeze_conv, &l->squeeze_bn, 0);
    facs_tensor *y = facs_facs(ctx, x, l->squeeze_conv->value, NULL, &net->options.fusion);
    return net->options.fusion_bn == FACS_FUSION_BN_POST ? facs_bn_act(ctx, y, &l->squeeze_bn, NULL, FACS_POST_RELU)
                                                         : y;
}

facs_tensor *facs_vgg_forward(facs_ctx *ctx, facs_vgg *net, facs_tensor *x)
{
    if (!x)
        return NULL;
    if (x->c != 3 || x->h < MIN_INPUT || x->w < MIN_INPUT) {
        char shape[64];
        facs_fail(FACS_ERR_ARG, "%s: input is %s; expected (N, 3, H, W) with H, W >= %d (five 2x2 max-pools)",
                  net->options.arch, facs_shape_str(x, shape, sizeof shape), MIN_INPUT);
        return NULL;
    }
    facs_pool2d_params pool = {.kernel_h = 2, .kernel_w = 2, .stride_h = 2, .stride_w = 2};
    /* Without a tape, each layer's output replaces its input (ctx.h facs_ctx_keep_only). */
    facs_ctx_mark mark = facs_ctx_get_mark(ctx);
    facs_tensor *y = x;
    for (int k = 0, tap = 0; k < FACS_VGG_CONVS; k++) {
        const facs_vgg_layer *l = &net->layers[k];
        if (l->squeeze)
            y = squeeze(ctx, net, l, y);
        y = facs_tap_keep(ctx, &net->tap, tap++, &mark, conv_bn_relu(ctx, y, l->conv, &l->bn, 1));
        if (l->pool_after)
            y = facs_tap_keep(ctx, &net->tap, tap++, &mark, facs_maxpool2d(ctx, y, &pool));
    }
    return facs_linear(ctx, facs_global_avgpool(ctx, y), net->fc_weight->value, net->fc_bias->value);
}

/* The facs_model family (model_family.h). */

static facs_status family_create(void **impl, facs_param_list **params, int *facs, const facs_model_options *o,
                                 facs_device device, uint64_t seed)
{
    facs_vgg *net = malloc(sizeof *net);
    if (!net)
        return facs_fail(FACS_ERR_MEMORY, "%s: out of memory", o->arch);
    facs_status s = facs_vgg_create(net, o, device, seed);
    if (s != FACS_OK) {
        free(net);
        return s;
    }
    *impl = net;
    *params = &net->params;
    *facs = net->facs;
    return FACS_OK;
}

static facs_tensor *family_forward(facs_ctx *ctx, void *impl, facs_tensor *x) { return facs_vgg_forward(ctx, impl, x); }

static const char *family_tap_name(void *impl, int index, char *buf, size_t size)
{
    if (index < 0 || index >= FACS_VGG_TAPS)
        return NULL;
    snprintf(buf, size, "features.%d", ((facs_vgg *)impl)->tap_features[index]);
    return buf;
}

static facs_tap *family_tap_slot(void *impl) { return &((facs_vgg *)impl)->tap; }

/* Every 3x3 conv's BN, and the plain squeeze's (a FACS squeeze keeps its own). */
static facs_status family_fold_bn(void *impl)
{
    facs_vgg *net = impl;
    for (int k = 0; k < FACS_VGG_CONVS; k++) {
        facs_vgg_layer *l = &net->layers[k];
        if (l->squeeze && !net->facs)
            FACS_TRY(facs_bn_fold(&net->folded, l->squeeze_conv, &l->squeeze_bn));
        FACS_TRY(facs_bn_fold(&net->folded, l->conv, &l->bn));
    }
    return FACS_OK;
}

static void family_destroy(void *impl)
{
    facs_vgg_free(impl);
    free(impl);
}

const facs_model_family facs_vgg_family = {
    .names = facs_vgg_arch_names,
    .head_prefix = "classifier.",
    .dropout = -1.0, /* none */
    .create = family_create,
    .forward = family_forward,
    .destroy = family_destroy,
    .tap_name = family_tap_name,
    .tap_slot = family_tap_slot,
    .fold_bn = family_fold_bn,
};
