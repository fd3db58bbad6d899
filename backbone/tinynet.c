#include "tinynet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "layers.h"

static facs_status build(facs_tinynet *net, facs_device device, int in_channels, int width, int classes,
                         uint64_t seed)
{
    facs_builder b = {&net->params, device, seed};
    int mid = width / 4;
    if (!(net->conv1 = facs_build_conv(&b, "conv1.weight", width, in_channels, 3)))
        return FACS_ERR_MEMORY;
    FACS_TRY(facs_build_bn(&b, &net->bn1, "bn1", width));
    if (!(net->squeeze = facs_build_conv(&b, "block.conv1.weight", mid, width, 1)) ||
        !(net->conv2 = facs_build_conv(&b, "block.conv2.weight", mid, mid, 3)))
        return FACS_ERR_MEMORY;
    FACS_TRY(facs_build_bn(&b, &net->bn2, "block.bn2", mid));
    if (!(net->conv3 = facs_build_conv(&b, "block.conv3.weight", width, mid, 1)))
        return FACS_ERR_MEMORY;
    FACS_TRY(facs_build_bn(&b, &net->bn3, "block.bn3", width));
    return facs_build_linear(&b, &net->fc_weight, &net->fc_bias, "fc", classes, width, 0);
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

facs_tensor *facs_tinynet_forward(facs_ctx *ctx, facs_tinynet *net, facs_tensor *x)
{
    facs_conv2d_params same3 = facs_conv2d_defaults();
    same3.pad_h = same3.pad_w = 1;
    facs_conv2d_params one = facs_conv2d_defaults();
    facs_pool2d_params pool = {.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1};

    facs_tensor *stem = facs_relu(ctx, facs_bn_forward(ctx, facs_conv2d(ctx, x, net->conv1->value, NULL, &same3), &net->bn1));
    facs_tensor *pooled = facs_maxpool2d(ctx, stem, &pool);
    facs_tensor *squeezed = facs_facs(ctx, pooled, net->squeeze->value, NULL, &net->fusion);
    facs_tensor *mid = facs_relu(ctx, facs_bn_forward(ctx, facs_conv2d(ctx, squeezed, net->conv2->value, NULL, &same3), &net->bn2));
    facs_tensor *expanded = facs_bn_forward(ctx, facs_conv2d(ctx, mid, net->conv3->value, NULL, &one), &net->bn3);
    facs_tensor *block = facs_relu(ctx, facs_add(ctx, expanded, pooled));
    return facs_linear(ctx, facs_global_avgpool(ctx, block), net->fc_weight->value, net->fc_bias->value);
}
