/* MobileNet-v2 / FACS-MobileNet-v2 forward pass (the tape records it for backward). */
#include "mobilenet.h"

#include "model_family.h"

/* conv, BN [+ residual] [+ ReLU6]: torchvision's Conv2dNormActivation, fused
 * once BN is folded (facs_mobilenet_fold_bn). */
static facs_tensor *conv_bn(facs_ctx *ctx, facs_tensor *x, const facs_param *w, const facs_bn *bn, int stride,
                            int groups, facs_tensor *residual, facs_post_act act)
{
    return facs_conv_bn(ctx, x, w, bn, stride, w->value->h / 2, 1, groups, residual, act);
}

/* x_dead: nothing reads x after the block, so the projection may write its
 * result over x, the residual (layers.h facs_conv_bn_over). */
static facs_tensor *block(facs_ctx *ctx, const facs_mobilenet *net, const facs_mobilenet_block *b, facs_tensor *x,
                          int x_dead)
{
    const facs_mobilenet_options *o = &net->options;
    int fused = b->facs;
    facs_tensor *y = x;
    if (b->expand_conv)
        y = conv_bn(ctx, y, b->expand_conv, &b->expand_bn, 1, 1, NULL, FACS_POST_RELU6);
    /* PRE (mobilenet.h): the depthwise stage's BN output is the fusion's input, no ReLU6 between. */
    int pre = fused && o->fusion_bn == FACS_FUSION_BN_PRE;
    y = conv_bn(ctx, y, b->dw_conv, &b->dw_bn, b->stride, net->full ? 1 : b->hidden, NULL,
                pre ? FACS_POST_NONE : FACS_POST_RELU6);
    /* The projection has no activation; the residual add rides on it. */
    if (!fused) {
        facs_tensor *residual = b->residual ? x : NULL;
        return (residual && x_dead ? facs_conv_bn_over : facs_conv_bn)(ctx, y, b->project_conv, &b->project_bn, 1, 0,
                                                                       1, 1, residual, FACS_POST_NONE);
    }
    y = facs_facs(ctx, y, b->project_conv->value, NULL, &o->fusion);
    if (o->fusion_bn == FACS_FUSION_BN_POST)
        return facs_bn_act(ctx, y, &b->project_bn, b->residual ? x : NULL, FACS_POST_NONE);
    return b->residual ? facs_add(ctx, x, y) : y;
}

facs_tensor *facs_mobilenet_features(facs_ctx *ctx, facs_mobilenet *net, facs_tensor *x)
{
    if (!x || facs_expect_rgb("mobilenet", x) != FACS_OK)
        return NULL;
    /* Without a tape, each block's output replaces its input (ctx.h facs_ctx_keep_only);
     * a block whose input was handed out (the tap) must not write over it. */
    facs_ctx_mark mark = facs_ctx_get_mark(ctx);
    facs_tensor *y = conv_bn(ctx, x, net->stem_conv, &net->stem_bn, 2, 1, NULL, FACS_POST_RELU6);
    y = facs_tap_keep(ctx, &net->tap, 0, &mark, y);
    for (int k = 0; k < FACS_MOBILENET_BLOCKS; k++) {
        const int handed_out = y && net->tap.tensor == y;
        y = facs_tap_keep(ctx, &net->tap, k + 1, &mark, block(ctx, net, &net->blocks[k], y, !handed_out));
    }
    y = conv_bn(ctx, y, net->head_conv, &net->head_bn, 1, 1, NULL, FACS_POST_RELU6);
    facs_tap_offer(ctx, &net->tap, FACS_MOBILENET_BLOCKS + 1, y);
    return y;
}

facs_tensor *facs_mobilenet_forward(facs_ctx *ctx, facs_mobilenet *net, facs_tensor *x)
{
    facs_tensor *pooled = facs_global_avgpool(ctx, facs_mobilenet_features(ctx, net, x));
    /* classifier.0: on a 1x1 map dropout2d drops single elements, which is nn.Dropout on the flattened features. */
    if (net->options.dropout > 0.0f)
        pooled = facs_dropout2d(ctx, pooled, net->options.dropout);
    return facs_linear(ctx, pooled, net->fc_weight->value, net->fc_bias->value);
}
