/* A tiny FACS network for the demo and the end-to-end tests: one stem, one
 * FACS bottleneck, a classifier. Its parameter names follow the torchvision
 * state_dict style, so tests can load the same weights into a PyTorch twin.
 *
 *   conv1 3x3 (in -> W), bn1, relu, maxpool 3x3/2 pad 1
 *   block: FACS (W -> W/4, squeeze weight block.conv1.weight, chunk R = 4)
 *          conv2 3x3 (W/4 -> W/4), bn2, relu, conv3 1x1 (W/4 -> W), bn3,
 *          + identity, relu
 *   global average pool, fc (W -> classes)
 *
 * The bottleneck has no BN/ReLU after the fusion (DESIGN.md's default FACS
 * bottleneck). */
#ifndef FACS_TINYNET_H
#define FACS_TINYNET_H

#include <stdint.h>

#include "layers.h"
#include "ops.h"
#include "param.h"

typedef struct {
    facs_param_list params;
    facs_fuse_params fusion;
    facs_param *conv1, *squeeze, *conv2, *conv3, *fc_weight, *fc_bias;
    facs_bn bn1, bn2, bn3;
} facs_tinynet;

/* width must be a positive multiple of 4. Weights get torchvision's
 * initialisation (Kaiming-normal fan-out convolutions, unit BN, uniform fc)
 * drawn from seed. Returns FACS_OK or a status with the last error. */
facs_status facs_tinynet_init(facs_tinynet *net, facs_device device, int in_channels, int width, int classes,
                              const facs_fuse_params *fusion, uint64_t seed);
void facs_tinynet_free(facs_tinynet *net);

/* Logits (N, classes, 1, 1) of images x (N, in_channels, H, W); NULL on error. */
facs_tensor *facs_tinynet_forward(facs_ctx *ctx, facs_tinynet *net, facs_tensor *x);

#endif
