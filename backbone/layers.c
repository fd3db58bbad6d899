#include "layers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "init.h"

static facs_param *add(facs_builder *b, facs_param_kind kind, const char *name, int n, int c, int h, int w,
                       facs_init_rule rule, double scale)
{
    return facs_param_add_init(b->params, kind, name, b->device, n, c, h, w, rule, scale, b->seed);
}

facs_param *facs_build_conv(facs_builder *b, const char *name, int out, int in_per_group, int k)
{
    return add(b, FACS_PARAM_TRAINABLE, name, out, in_per_group, k, k, FACS_INIT_NORMAL,
               sqrt(2.0 / ((double)out * k * k)));
}

facs_status facs_build_bn(facs_builder *b, facs_bn *bn, const char *prefix, int channels)
{
    char name[160];
    snprintf(name, sizeof name, "%s.weight", prefix);
    bn->weight = add(b, FACS_PARAM_TRAINABLE, name, channels, 1, 1, 1, FACS_INIT_ONE, 0);
    snprintf(name, sizeof name, "%s.bias", prefix);
    bn->bias = bn->weight ? add(b, FACS_PARAM_TRAINABLE, name, channels, 1, 1, 1, FACS_INIT_ZERO, 0) : NULL;
    snprintf(name, sizeof name, "%s.running_mean", prefix);
    bn->running_mean = bn->bias ? add(b, FACS_PARAM_BUFFER, name, channels, 1, 1, 1, FACS_INIT_ZERO, 0) : NULL;
    snprintf(name, sizeof name, "%s.running_var", prefix);
    bn->running_var = bn->running_mean ? add(b, FACS_PARAM_BUFFER, name, channels, 1, 1, 1, FACS_INIT_ONE, 0) : NULL;
    if (!bn->running_var)
        return FACS_ERR_MEMORY;
    bn->weight->no_decay = bn->bias->no_decay = 1;
    return FACS_OK;
}

facs_param *facs_build_bias(facs_builder *b, const char *name, int channels)
{
    facs_param *p = add(b, FACS_PARAM_TRAINABLE, name, channels, 1, 1, 1, FACS_INIT_ZERO, 0);
    if (p)
        p->no_decay = 1;
    return p;
}

facs_status facs_build_linear(facs_builder *b, facs_param **weight, facs_param **bias, const char *prefix, int out,
                              int in, double std)
{
    char name[160];
    double bound = 1.0 / sqrt((double)in); /* nn.Linear's default for weight and bias */
    snprintf(name, sizeof name, "%s.weight", prefix);
    *weight = std > 0 ? add(b, FACS_PARAM_TRAINABLE, name, out, in, 1, 1, FACS_INIT_NORMAL, std)
                      : add(b, FACS_PARAM_TRAINABLE, name, out, in, 1, 1, FACS_INIT_UNIFORM, bound);
    snprintf(name, sizeof name, "%s.bias", prefix);
    *bias = !*weight ? NULL
            : std > 0 ? add(b, FACS_PARAM_TRAINABLE, name, out, 1, 1, 1, FACS_INIT_ZERO, 0)
                      : add(b, FACS_PARAM_TRAINABLE, name, out, 1, 1, 1, FACS_INIT_UNIFORM, bound);
    if (!*bias)
        return FACS_ERR_MEMORY;
    (*weight)->torch_rank = 2;
    (*bias)->no_decay = 1;
    return FACS_OK;
}

facs_tensor *facs_bn_forward(facs_ctx *ctx, facs_tensor *x, const facs_bn *bn)
{
    return facs_bn_act(ctx, x, bn, NULL, FACS_POST_NONE);
}

facs_tensor *facs_bn_act(facs_ctx *ctx, facs_tensor *x, const facs_bn *bn, facs_tensor *residual, facs_post_act act)
{
    return facs_batchnorm2d_act(ctx, x, bn->weight->value, bn->bias->value, bn->running_mean->value,
                                bn->running_var->value, NULL, residual, act);
}

/* Reads a (C, 1, 1, 1) vector of any device into a host array of C floats. */
static facs_status read_vector(const facs_tensor *t, float *out)
{
    return facs_tensor_download(t, out, facs_tensor_bytes(t));
}

facs_status facs_bn_fold(facs_param_list *store, facs_param *conv_w, facs_bn *bn)
{
    facs_tensor *w = conv_w->value;
    int channels = w->n;
    if (bn->weight->value->n != channels)
        return facs_fail(FACS_ERR_ARG, "%s: %d output channels, but its BN has %d", conv_w->name, channels,
                         bn->weight->value->n);
    char name[200];
    snprintf(name, sizeof name, "%s.folded_bias", conv_w->name);
    facs_param *bias = facs_param_list_add(store, FACS_PARAM_BUFFER, name, w->device, channels, 1, 1, 1);
    if (!bias)
        return FACS_ERR_MEMORY;
    /* A one-off host computation in double, whatever the device: the weights
     * travel to the host and back once. */
    size_t count = facs_tensor_numel(w), per_channel = count / (size_t)channels;
    float *host = malloc((count + 5 * (size_t)channels) * sizeof *host);
    if (!host)
        return facs_fail(FACS_ERR_MEMORY, "%s: no host memory to fold its BN", conv_w->name);
    float *wv = host + 5 * (size_t)channels, *gamma = host, *beta = gamma + channels, *mean = beta + channels,
          *var = mean + channels, *b = var + channels;
    facs_status s = facs_tensor_download(w, wv, count * sizeof *wv);
    if (s == FACS_OK)
        s = read_vector(bn->weight->value, gamma);
    if (s == FACS_OK)
        s = read_vector(bn->bias->value, beta);
    if (s == FACS_OK)
        s = read_vector(bn->running_mean->value, mean);
    if (s == FACS_OK)
        s = read_vector(bn->running_var->value, var);
    if (s == FACS_OK) {
        for (int o = 0; o < channels; o++) {
            double k = gamma[o] / sqrt((double)var[o] + 1e-5);
            for (size_t i = 0; i < per_channel; i++)
                wv[o * per_channel + i] = (float)(wv[o * per_channel + i] * k);
            b[o] = (float)(beta[o] - mean[o] * k);
        }
        s = facs_tensor_upload(w, wv, count * sizeof *wv);
    }
    if (s == FACS_OK)
        s = facs_tensor_upload(bias->value, b, (size_t)channels * sizeof *b);
    free(host);
    if (s == FACS_OK) {
        bn->fold_bias = bias->value;
        conv_w->bn_folded = 1;
    }
    return s;
}

static facs_conv2d_params conv_params(int stride, int pad, int dilation, int groups)
{
    facs_conv2d_params p = facs_conv2d_defaults();
    p.stride_h = p.stride_w = stride;
    p.pad_h = p.pad_w = pad;
    p.dil_h = p.dil_w = dilation;
    p.groups = groups;
    return p;
}

/* act(y) as a separate op. */
static facs_tensor *activate(facs_ctx *ctx, facs_tensor *y, facs_post_act act)
{
    if (act == FACS_POST_RELU)
        return facs_relu(ctx, y);
    return act == FACS_POST_RELU6 ? facs_relu6(ctx, y) : y;
}

static facs_tensor *conv_bn(facs_ctx *ctx, facs_tensor *x, const facs_param *w, const facs_bn *bn, int stride,
                            int pad, int dilation, int groups, facs_tensor *residual, facs_post_act act, int over)
{
    if (!x)
        return NULL;
    if (!bn->fold_bias)
        return facs_bn_act(ctx, facs_conv_forward(ctx, x, w, NULL, stride, pad, dilation, groups), bn, residual, act);
    if (ctx->training) {
        facs_fail(FACS_ERR_ARG, "%s: BatchNorm is folded into this convolution (an inference model); training "
                  "mode needs the unfolded model", w->name);
        return NULL;
    }
    facs_conv2d_params p = conv_params(stride, pad, dilation, groups);
    /* Fused wherever no gradient flows through: without a tape, and with
     * one below a GradCAM tap when the parameters are frozen (facs-gradcam),
     * where the map's forward then costs what a plain forward does. */
    if (!facs_needs_grad(ctx, 4, (facs_tensor *const[]){x, w->value, bn->fold_bias, residual}))
        return (over && residual ? facs_conv2d_fused_over : facs_conv2d_fused)(ctx, x, w->value, bn->fold_bias, &p,
                                                                               residual, act);
    facs_tensor *y = facs_conv2d(ctx, x, w->value, bn->fold_bias, &p);
    if (residual)
        y = facs_add(ctx, y, residual);
    return activate(ctx, y, act);
}

facs_tensor *facs_conv_bn(facs_ctx *ctx, facs_tensor *x, const facs_param *w, const facs_bn *bn, int stride, int pad,
                          int dilation, int groups, facs_tensor *residual, facs_post_act act)
{
    return conv_bn(ctx, x, w, bn, stride, pad, dilation, groups, residual, act, 0);
}

facs_tensor *facs_conv_bn_over(facs_ctx *ctx, facs_tensor *x, const facs_param *w, const facs_bn *bn, int stride,
                               int pad, int dilation, int groups, facs_tensor *residual, facs_post_act act)
{
    return conv_bn(ctx, x, w, bn, stride, pad, dilation, groups, residual, act, 1);
}

facs_tensor *facs_conv_forward(facs_ctx *ctx, facs_tensor *x, const facs_param *weight, const facs_param *bias,
                               int stride, int pad, int dilation, int groups)
{
    facs_conv2d_params p = conv_params(stride, pad, dilation, groups);
    return facs_conv2d(ctx, x, weight->value, bias ? bias->value : NULL, &p);
}

int facs_tap_offer(facs_ctx *ctx, facs_tap *tap, int index, facs_tensor *y)
{
    if (!y || !tap->on || tap->index != index)
        return 0;
    tap->tensor = y;
    if (ctx->record)
        y->requires_grad = 1;
    return 1;
}

facs_tensor *facs_tap_keep(facs_ctx *ctx, facs_tap *tap, int index, facs_ctx_mark *mark, facs_tensor *y)
{
    y = facs_ctx_keep_only(ctx, *mark, y);
    if (facs_tap_offer(ctx, tap, index, y))
        *mark = facs_ctx_get_mark(ctx);
    return y;
}
