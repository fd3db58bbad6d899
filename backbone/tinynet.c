#include "tinynet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "init.h"

static facs_param *add(facs_tinynet *net, facs_param_kind kind, const char *name, facs_device device, int n, int c,
                       int h, int w, facs_init_rule rule, double scale, uint64_t seed)
{
    return facs_param_add_init(&net->params, kind, name, device, n, c, h, w, rule, scale, seed);
}

/* torchvision's ResNet init: Kaiming normal, mode fan_out, gain sqrt(2). */
static facs_param *add_conv(facs_tinynet *net, const char *name, facs_device device, int out, int in, int k,
                            uint64_t seed)
{
    return add(net, FACS_PARAM_TRAINABLE, name, device, out, in, k, k, FACS_INIT_NORMAL, sqrt(2.0 / (out * k * k)), seed);
}

static facs_status add_bn(facs_tinynet *net, facs_tinynet_bn *bn, const char *prefix, facs_device device, int c)
{
    char name[64];
    snprintf(name, sizeof name, "%s.weight", prefix);
    bn->weight = add(net, FACS_PARAM_TRAINABLE, name, device, c, 1, 1, 1, FACS_INIT_ONE, 0, 0);
    snprintf(name, sizeof name, "%s.bias", prefix);
    bn->bias = add(net, FACS_PARAM_TRAINABLE, name, device, c, 1, 1, 1, FACS_INIT_ZERO, 0, 0);
    snprintf(name, sizeof name, "%s.running_mean", prefix);
    bn->running_mean = add(net, FACS_PARAM_BUFFER, name, device, c, 1, 1, 1, FACS_INIT_ZERO, 0, 0);
    snprintf(name, sizeof name, "%s.running_var", prefix);
    bn->running_var = add(net, FACS_PARAM_BUFFER, name, device, c, 1, 1, 1, FACS_INIT_ONE, 0, 0);
    if (!bn->weight || !bn->bias || !bn->running_mean || !bn->running_var)
        return FACS_ERR_MEMORY;
    bn->weight->no_decay = bn->bias->no_decay = 1;
    return FACS_OK;
}

static facs_status build(facs_tinynet *net, facs_device device, int in_channels, int width, int classes,
                         uint64_t seed)
{
    int mid = width / 4;
    if (!(net->conv1 = add_conv(net, "conv1.weight", device, width, in_channels, 3, seed)))
        return FACS_ERR_MEMORY;
    FACS_TRY(add_bn(net, &net->bn1, "bn1", device, width));
    if (!(net->squeeze = add_conv(net, "block.conv1.weight", device, mid, width, 1, seed)) ||
        !(net->conv2 = add_conv(net, "block.conv2.weight", device, mid, mid, 3, seed)))
        return FACS_ERR_MEMORY;
    FACS_TRY(add_bn(net, &net->bn2, "block.bn2", device, mid));
    if (!(net->conv3 = add_conv(net, "block.conv3.weight", device, width, mid, 1, seed)))
        return FACS_ERR_MEMORY;
    FACS_TRY(add_bn(net, &net->bn3, "block.bn3", device, width));
    /* nn.Linear's default init: uniform in +-1/sqrt(fan_in) for weight and bias. */
    double bound = 1.0 / sqrt(width);
    net->fc_weight = add(net, FACS_PARAM_TRAINABLE, "fc.weight", device, classes, width, 1, 1, FACS_INIT_UNIFORM, bound,
                         seed);
    net->fc_bias = add(net, FACS_PARAM_TRAINABLE, "fc.bias", device, classes, 1, 1, 1, FACS_INIT_UNIFORM, bound, seed);
    if (!net->fc_weight || !net->fc_bias)
        return FACS_ERR_MEMORY;
    net->fc_weight->torch_rank = 2;
    net->fc_bias->no_decay = 1;
    return FACS_OK;
}

facs_status facs_tinynet_init(facs_tinynet *net, facs_device device, int in_channels, int width, int classes,
                              const facs_fuse_params *fusion, uint64_t seed)
{
    *net = (facs_tinynet){.fusion = *fusion};
    facs_param_list_init(&net->params);
    if (width <= 0 || width % 4 != 0 || in_channels <= 0 || classes <= 0)
        return facs_fail(FACS_ERR_ARG, "tinynet: width %d must be a positive multiple of 4 (in %d, classes %d)",
                         width, in_channels, classes);
    facs_status s = build(net, device, in_channels, width, classes, seed);
    if (s != FACS_OK)
        facs_param_list_free(&net->params);
    return s;
}

void facs_tinynet_free(facs_tinynet *net) { facs_param_list_free(&net->params); }

static facs_tensor *bn(facs_ctx *ctx, facs_tensor *x, const facs_tinynet_bn *b)
{
    return facs_batchnorm2d(ctx, x, b->weight->value, b->bias->value, b->running_mean->value, b->running_var->value,
                            NULL);
}

facs_tensor *facs_tinynet_forward(facs_ctx *ctx, facs_tinynet *net, facs_tensor *x)
{
    facs_conv2d_params same3 = facs_conv2d_defaults();
    same3.pad_h = same3.pad_w = 1;
    facs_conv2d_params one = facs_conv2d_defaults();
    facs_pool2d_params pool = {.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1};

    facs_tensor *stem = facs_relu(ctx, bn(ctx, facs_conv2d(ctx, x, net->conv1->value, NULL, &same3), &net->bn1));
    facs_tensor *pooled = facs_maxpool2d(ctx, stem, &pool);
    facs_tensor *squeezed = facs_facs(ctx, pooled, net->squeeze->value, NULL, &net->fusion);
    facs_tensor *mid = facs_relu(ctx, bn(ctx, facs_conv2d(ctx, squeezed, net->conv2->value, NULL, &same3), &net->bn2));
    facs_tensor *expanded = bn(ctx, facs_conv2d(ctx, mid, net->conv3->value, NULL, &one), &net->bn3);
    facs_tensor *block = facs_relu(ctx, facs_add(ctx, expanded, pooled));
    return facs_linear(ctx, facs_global_avgpool(ctx, block), net->fc_weight->value, net->fc_bias->value);
}
