/* Building blocks shared by every backbone: registering a layer's tensors
 * under torchvision state_dict names with torchvision's initialisation, and
 * running them.
 *
 *     facs_builder b = {&net->params, device, seed};
 *     facs_param *w = facs_build_conv(&b, "layer1.0.conv1.weight", 64, 256, 1, 1);
 *     facs_bn bn;
 *     FACS_TRY(facs_build_bn(&b, &bn, "layer1.0.bn1", 64));
 *     ...
 *     y = facs_conv_bn(ctx, x, w, &bn, 1, 0, 1, 1, NULL, FACS_POST_RELU);
 *
 * Every tensor draws its initial values from its own stream (init.h), so a
 * model's weights depend on the seed alone. */
#ifndef FACS_LAYERS_H
#define FACS_LAYERS_H

#include <stdint.h>

#include "ops.h"
#include "param.h"

typedef struct {
    facs_param_list *params; /* where tensors are registered, in order */
    facs_device device;
    uint64_t seed;
} facs_builder;

/* A BatchNorm2d's four tensors (num_batches_tracked is not kept), and once
 * folded into the convolution before it (facs_bn_fold), that convolution's bias. */
typedef struct {
    facs_param *weight, *bias, *running_mean, *running_var;
    facs_tensor *fold_bias; /* NULL: not folded */
} facs_bn;

/* A conv weight (out, in_per_group, k, k), Kaiming normal with fan-out as
 * torchvision's ResNet, VGG and MobileNet-v2 initialise it:
 * std = sqrt(2 / (out k k)). NULL with the last error. */
facs_param *facs_build_conv(facs_builder *b, const char *name, int out, int in_per_group, int k);

/* "<prefix>.weight" (1), ".bias" (0), ".running_mean" (0), ".running_var"
 * (1); weight and bias exempt from weight decay. */
facs_status facs_build_bn(facs_builder *b, facs_bn *bn, const char *prefix, int channels);

/* A zero-initialised bias vector "<name>" exempt from weight decay (conv
 * biases of VGG, SE). NULL with the last error. */
facs_param *facs_build_bias(facs_builder *b, const char *name, int channels);

/* "<prefix>.weight" (out, in), torch rank 2, and "<prefix>.bias". std > 0:
 * weight normal(0, std), bias 0 (torchvision's VGG and MobileNet-v2 heads);
 * std = 0: nn.Linear's default, both uniform in +-1/sqrt(in) (ResNet's fc). */
facs_status facs_build_linear(facs_builder *b, facs_param **weight, facs_param **bias, const char *prefix, int out,
                              int in, double std);

/* BatchNorm with the layer's tensors (mode from ctx). */
facs_tensor *facs_bn_forward(facs_ctx *ctx, facs_tensor *x, const facs_bn *bn);
/* act(bn(x) + residual) as one op (ops.h facs_batchnorm2d_act); residual
 * NULL for none, act FACS_POST_NONE for none. */
facs_tensor *facs_bn_act(facs_ctx *ctx, facs_tensor *x, const facs_bn *bn, facs_tensor *residual, facs_post_act act);

/* Folds eval-mode BN into the convolution before it, for inference: with
 * s = gamma / sqrt(running_var + 1e-5) per output channel, conv_w *= s (in
 * place; its version changes, so reordered copies are dropped) and the bias
 * beta - running_mean * s is registered in store (the network's list of folded
 * tensors, never saved). conv(x) with them equals bn(conv(x)) in eval mode up
 * to rounding. The BN's own tensors stay as they were. Tensors of any device. */
facs_status facs_bn_fold(facs_param_list *store, facs_param *conv_w, facs_bn *bn);

/* One convolution + BN [+ residual] [+ activation] of a block:
 * act(bn(conv(x)) + residual), residual NULL for none, act FACS_POST_NONE
 * for none, FACS_POST_RELU or FACS_POST_RELU6. Unfolded, the convolution
 * then facs_bn_act (training or eval). Folded: in eval mode without a tape, one primitive
 * (facs_conv2d_fused); with a tape (GradCAM), the folded convolution then the
 * add and activation ops. A folded BN in training mode fails: its batch
 * statistics are not those of the convolution's output any more. */
facs_tensor *facs_conv_bn(facs_ctx *ctx, facs_tensor *x, const facs_param *w, const facs_bn *bn, int stride, int pad,
                          int dilation, int groups, facs_tensor *residual, facs_post_act act);
/* facs_conv_bn for a caller that no longer needs residual (not NULL): folded
 * and without a tape, the result is written over it (facs_conv2d_fused_over),
 * which spares a tensor and a copy of the residual; otherwise facs_conv_bn. */
facs_tensor *facs_conv_bn_over(facs_ctx *ctx, facs_tensor *x, const facs_param *w, const facs_bn *bn, int stride,
                               int pad, int dilation, int groups, facs_tensor *residual, facs_post_act act);

/* Square-kernel convolution, no bias unless bias is not NULL. */
facs_tensor *facs_conv_forward(facs_ctx *ctx, facs_tensor *x, const facs_param *weight, const facs_param *bias,
                               int stride, int pad, int dilation, int groups);

/* A feature tap (facs_model_set_tap, model.h): the slot a network holds for
 * the activation wanted. The network numbers its tap points 0, 1, ... in
 * forward order (the family's tap_name hook names them) and offers each
 * activation as it computes it; the one whose number is wanted is kept.
 * Zero-filled (a new network) means off. */
typedef struct {
    int on, index;      /* the tap point wanted, when on */
    facs_tensor *tensor; /* what the last forward recorded there; NULL before */
} facs_tap;

/* Offers y, the activation at tap point index; returns 1 when it is the one
 * wanted (tap->tensor = y). With the tape on (ctx->record) the tapped tensor
 * is marked as requiring a gradient: the ops after it then record even when
 * every parameter is frozen and the input needs no gradient, so a backward
 * from the output reaches it (and stops there: nothing before it recorded). */
int facs_tap_offer(facs_ctx *ctx, facs_tap *tap, int index, facs_tensor *y);

/* The inference-memory step of a forward (ctx.h facs_ctx_keep_only(ctx,
 * *mark, y)) fused with facs_tap_offer: when y is the tap, *mark moves past
 * it, so that the keep_only calls after it leave the tapped map alone. */
facs_tensor *facs_tap_keep(facs_ctx *ctx, facs_tap *tap, int index, facs_ctx_mark *mark, facs_tensor *y);

#endif
