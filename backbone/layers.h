/* Building blocks shared by every backbone: registering a layer's tensors
 * under torchvision state_dict names with torchvision's initialisation, and
 * running them.
 *
 *     facs_builder b = {&net->params, device, seed};
 *     facs_param *w = facs_build_conv(&b, "layer1.0.conv1.weight", 64, 256, 1, 1);
 *     facs_bn bn;
 *     FACS_TRY(facs_build_bn(&b, &bn, "layer1.0.bn1", 64));
 *     ...
 *     y = facs_relu(ctx, facs_bn_forward(ctx, facs_conv_forward(ctx, x, w, 1, 0, 1, 1), &bn));
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

/* A BatchNorm2d's four tensors (num_batches_tracked is not kept). */
typedef struct {
    facs_param *weight, *bias, *running_mean, *running_var;
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

/* Square-kernel convolution, no bias unless bias is not NULL. */
facs_tensor *facs_conv_forward(facs_ctx *ctx, facs_tensor *x, const facs_param *weight, const facs_param *bias,
                               int stride, int pad, int dilation, int groups);

#endif
