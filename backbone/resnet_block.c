/* ResNet / FACS-ResNet forward pass (the tape records it for backward). */
#include "resnet.h"

#include <stdio.h>

#include "model_family.h"

static facs_tensor *stem(facs_ctx *ctx, facs_resnet *net, facs_tensor *x)
{
    const facs_resnet_options *o = &net->options;
    facs_tensor *y;
    if (o->deep_stem) {
        y = facs_conv_bn(ctx, x, net->stem_conv[0], &net->stem_bn[0], 2, 1, 1, 1, NULL, FACS_POST_RELU);
        y = facs_conv_bn(ctx, y, net->stem_conv[1], &net->stem_bn[1], 1, 1, 1, 1, NULL, FACS_POST_RELU);
        y = facs_conv_bn(ctx, y, net->stem_conv[2], &net->stem_bn[2], 1, 1, 1, 1, NULL, FACS_POST_RELU);
    } else if (o->cifar_stem) {
        return facs_conv_bn(ctx, x, net->stem_conv[0], &net->stem_bn[2], 1, 1, 1, 1, NULL, FACS_POST_RELU);
    } else {
        y = facs_conv_bn(ctx, x, net->stem_conv[0], &net->stem_bn[2], 2, 3, 1, 1, NULL, FACS_POST_RELU);
    }
    facs_pool2d_params pool = {.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1};
    return facs_maxpool2d(ctx, y, &pool);
}

/* y * sigmoid(fc2(relu(fc1(gap(y))))) (Hu et al.). */
static facs_tensor *excite(facs_ctx *ctx, const facs_resnet_block *b, facs_tensor *y)
{
    facs_tensor *s = facs_relu(ctx, facs_conv_forward(ctx, facs_global_avgpool(ctx, y), b->se_fc1, b->se_fc1_bias, 1, 0, 1, 1));
    s = facs_sigmoid(ctx, facs_conv_forward(ctx, s, b->se_fc2, b->se_fc2_bias, 1, 0, 1, 1));
    return facs_scale_channels(ctx, y, s);
}

/* Without SE, the residual add and ReLU ride on conv3 (fused when BN is folded).
 * x_dead: nothing reads x after the block, so conv3 may write over it when
 * it is the shortcut; a downsampled shortcut is the block's own and always may
 * be written over. */
static facs_tensor *block(facs_ctx *ctx, facs_resnet *net, const facs_resnet_block *b, facs_tensor *x, int x_dead)
{
    facs_tensor *shortcut = x;
    if (b->down_conv)
        shortcut = facs_conv_bn(ctx, x, b->down_conv, &b->down_bn, b->stride, 0, 1, 1, NULL, FACS_POST_NONE);
    facs_tensor *y;
    if (net->dwp)
        y = facs_bn_act(ctx, facs_channel_pool(ctx, x, b->width, FACS_CHANNEL_POOL_MAX), &b->bn1, NULL, FACS_POST_RELU);
    else if (!net->facs)
        y = facs_conv_bn(ctx, x, b->conv1, &b->bn1, 1, 0, 1, 1, NULL, FACS_POST_RELU);
    else if (net->options.post_bn)
        y = facs_bn_act(ctx, facs_facs(ctx, x, b->conv1->value, NULL, &net->options.fusion), &b->bn1, NULL,
                        FACS_POST_RELU);
    else
        y = facs_facs(ctx, x, b->conv1->value, NULL, &net->options.fusion);
    y = facs_conv_bn(ctx, y, b->conv2, &b->bn2, b->stride, b->dilation, b->dilation, 1, NULL, FACS_POST_RELU);
    if (!b->se_fc1)
        return (b->down_conv || x_dead ? facs_conv_bn_over : facs_conv_bn)(ctx, y, b->conv3, &b->bn3, 1, 0, 1, 1,
                                                                           shortcut, FACS_POST_RELU);
    y = excite(ctx, b, facs_conv_bn(ctx, y, b->conv3, &b->bn3, 1, 0, 1, 1, NULL, FACS_POST_NONE));
    return facs_relu(ctx, facs_add(ctx, y, shortcut));
}

facs_tensor *facs_resnet_features(facs_ctx *ctx, facs_resnet *net, facs_tensor *x, facs_tensor **layer3)
{
    if (!x || facs_expect_rgb("resnet", x) != FACS_OK)
        return NULL;
    /* Without a tape, each block's output replaces its input at the mark
     * (ctx.h facs_ctx_keep_only): inference holds about one block at a time.
     * A block whose input was handed out (the tap, layer3) must not write
     * over it. */
    facs_ctx_mark mark = facs_ctx_get_mark(ctx);
    facs_tensor *y = facs_ctx_keep_only(ctx, mark, stem(ctx, net, x));
    int k = 0, handed_out = 0;
    for (int s = 0; s < 4; s++) {
        for (int i = 0; i < net->stage_blocks[s]; i++, k++) {
            y = facs_tap_keep(ctx, &net->tap, k, &mark, block(ctx, net, &net->blocks[k], y, !handed_out));
            handed_out = y && net->tap.tensor == y;
        }
        if (s == 2 && layer3) {
            *layer3 = y;
            handed_out = 1;
            mark = facs_ctx_get_mark(ctx); /* layer3 stays */
        }
    }
    return y;
}

const char *facs_resnet_tap_name(const facs_resnet *net, int index, char *buf, size_t size)
{
    for (int s = 0; s < 4 && index >= 0; index -= net->stage_blocks[s++])
        if (index < net->stage_blocks[s]) {
            snprintf(buf, size, "layer%d.%d", s + 1, index);
            return buf;
        }
    return NULL;
}

facs_tensor *facs_resnet_forward(facs_ctx *ctx, facs_resnet *net, facs_tensor *x)
{
    if (net->options.no_head) {
        facs_fail(FACS_ERR_ARG, "resnet: %s was built without a head (no_head); use facs_resnet_features",
                  net->options.arch);
        return NULL;
    }
    facs_tensor *features = facs_resnet_features(ctx, net, x, NULL);
    return facs_linear(ctx, facs_global_avgpool(ctx, features), net->fc_weight->value, net->fc_bias->value);
}
