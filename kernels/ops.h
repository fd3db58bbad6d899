/* The differentiable ops: what networks are built from.
 *
 * Each function checks its arguments (device, shapes), allocates its output
 * from the context's arena, runs the backend's forward and, when recording and
 * some input requires a gradient, pushes a tape node (autograd.h).
 *
 * Every function returns its output, or NULL with the last error set. Passing
 * NULL as an input is allowed and returns NULL at once, so a chain of calls
 * needs one check at its end and reports the first failure:
 *
 *     facs_tensor *y = facs_relu(ctx, facs_conv2d(ctx, x, w, NULL, &p));
 *     if (!y) fprintf(stderr, "%s\n", facs_last_error());
 *
 * Parameters (w, b, gamma, beta) are heap tensors with is_param set; their
 * gradients accumulate into param->grad. */
#ifndef FACS_OPS_H
#define FACS_OPS_H

#include "autograd.h"
#include "backend.h"
#include "ctx.h"

facs_tensor *facs_conv2d(facs_ctx *ctx, facs_tensor *x, facs_tensor *w, facs_tensor *b,
                         const facs_conv2d_params *p);
/* stride, pad, dilation 1, groups 1: the defaults of nn.Conv2d. */
facs_conv2d_params facs_conv2d_defaults(void);
/* Inference only (no gradient may flow: fails when one would be recorded):
 * act(conv2d(x, w, b) + residual) in one oneDNN primitive (post-ops sum and
 * eltwise), residual NULL for none, act FACS_POST_NONE, FACS_POST_RELU or
 * FACS_POST_RELU6 (backend.h). What an eval-mode block with BatchNorm folded
 * into its convolutions runs (layers.h facs_conv_bn). */
facs_tensor *facs_conv2d_fused(facs_ctx *ctx, facs_tensor *x, facs_tensor *w, facs_tensor *b,
                               const facs_conv2d_params *p, facs_tensor *residual, facs_post_act act);
/* facs_conv2d_fused writing its result over residual (not NULL, and not x)
 * and returning residual: for a caller that no longer needs the residual, it
 * saves an output tensor and the copy of the residual into it. */
facs_tensor *facs_conv2d_fused_over(facs_ctx *ctx, facs_tensor *x, facs_tensor *w, facs_tensor *b,
                                    const facs_conv2d_params *p, facs_tensor *residual, facs_post_act act);

/* Uses ctx->training unless the model overrides the params. running_* are
 * persistent buffers (not parameters) updated in place in training. */
facs_tensor *facs_batchnorm2d(facs_ctx *ctx, facs_tensor *x, facs_tensor *gamma, facs_tensor *beta,
                              facs_tensor *running_mean, facs_tensor *running_var, const facs_batchnorm_params *p);
/* act(batchnorm2d(x) + residual) in one output tensor and one tape node, for
 * training as for eval (residual NULL for none, never x itself; act
 * FACS_POST_NONE, FACS_POST_RELU or FACS_POST_RELU6): what an unfolded block
 * runs (layers.h facs_conv_bn). Gradients, values and profile entries are
 * those of the three separate ops; backward keeps one tensor instead of three. */
facs_tensor *facs_batchnorm2d_act(facs_ctx *ctx, facs_tensor *x, facs_tensor *gamma, facs_tensor *beta,
                                  facs_tensor *running_mean, facs_tensor *running_var,
                                  const facs_batchnorm_params *p, facs_tensor *residual, facs_post_act act);

facs_tensor *facs_relu(facs_ctx *ctx, facs_tensor *x);
facs_tensor *facs_relu6(facs_ctx *ctx, facs_tensor *x);
facs_tensor *facs_sigmoid(facs_ctx *ctx, facs_tensor *x);
facs_tensor *facs_add(facs_ctx *ctx, facs_tensor *a, facs_tensor *b);

facs_tensor *facs_maxpool2d(facs_ctx *ctx, facs_tensor *x, const facs_pool2d_params *p);
facs_tensor *facs_avgpool2d(facs_ctx *ctx, facs_tensor *x, const facs_pool2d_params *p);
/* Output size of a pooling window along one axis, with PyTorch's ceil_mode rule. */
int facs_pool_out_size(int in, int kernel, int stride, int pad, int ceil_mode);
facs_tensor *facs_global_avgpool(facs_ctx *ctx, facs_tensor *x);
facs_tensor *facs_adaptive_avgpool2d(facs_ctx *ctx, facs_tensor *x, int out_h, int out_w);

facs_tensor *facs_resize_bilinear(facs_ctx *ctx, facs_tensor *x, int out_h, int out_w, int align_corners);
facs_tensor *facs_concat(facs_ctx *ctx, int count, facs_tensor *const *xs);
/* Drops whole channels with probability prob when ctx->training; identity otherwise.
 * The mask comes from (ctx->seed, ctx->rng_calls++), so a run is reproducible. */
facs_tensor *facs_dropout2d(facs_ctx *ctx, facs_tensor *x, float prob);
facs_tensor *facs_linear(facs_ctx *ctx, facs_tensor *x, facs_tensor *w, facs_tensor *b);

/* Squeeze-and-excitation's rescaling: y[n, c, h, w] = x[n, c, h, w] * s[n, c]
 * with s (N, C, 1, 1), e.g. sigmoid(fc2(relu(fc1(gap(x))))). Both x and s get
 * gradients (ds sums dy * x over the pixels). */
facs_tensor *facs_scale_channels(facs_ctx *ctx, facs_tensor *x, facs_tensor *s);

/* Depth-wise pooling (DWP, Hussain & Hesheng 2019): reduces x (N, C, H, W) to
 * (N, out_channels, H, W) by taking the max (or mean) of R = C / out_channels
 * channels. Output channel i pools the contiguous input channels
 * [R i, R i + R), the grouping of the FACS op's chunks (backend.h), so that DWP
 * is exactly FACS's Max (or Avg) branch without the blend and the two networks
 * compare like for like; it is also PyTorch's
 * x.view(N, C/R, R, H, W).amax(2). Max backward sends each gradient to the
 * first maximal channel of its group (ties go to the lowest index, as in
 * PyTorch's max pooling and the FACS op); avg spreads it evenly. */
facs_tensor *facs_channel_pool(facs_ctx *ctx, facs_tensor *x, int out_channels, facs_channel_pool_mode mode);

/* Mean softmax cross-entropy over the channel axis; a (1, 1, 1, 1) tensor. */
facs_tensor *facs_softmax_cross_entropy(facs_ctx *ctx, facs_tensor *logits, facs_tensor *labels,
                                        int ignore_index);
/* The same with label smoothing e in [0, 1), as PyTorch's
 * cross_entropy(label_smoothing=e): the target puts 1 - e + e / K on the label
 * and e / K on every class, so each pixel's loss is
 * (1 - e) (-log p_label) + (e / K) sum_k (-log p_k), averaged over the
 * non-ignored pixels. e = 0 is facs_softmax_cross_entropy. */
facs_tensor *facs_softmax_cross_entropy_smoothed(facs_ctx *ctx, facs_tensor *logits, facs_tensor *labels,
                                                 int ignore_index, float smoothing);

/* The FACS op: squeeze x (N, C, H, W) to (N, C/R, H, W) with the squeeze weight
 * w (C/R, C, 1, 1) and optional bias; see backend.h and the paper's Eq. 1-3. */
facs_tensor *facs_facs(facs_ctx *ctx, facs_tensor *x, facs_tensor *w, facs_tensor *b, const facs_fuse_params *p);

/* The fusion's name as files and command lines spell it: "threshold" or
 * "weighted"; facs_fusion_parse refuses anything else (FACS_ERR_ARG naming both). */
const char *facs_fusion_name(facs_fusion fusion);
facs_status facs_fusion_parse(const char *name, facs_fusion *out);

#endif
