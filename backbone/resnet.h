/* ResNet (bottleneck, torchvision v1.5 layout) and FACS-ResNet.
 *
 *     facs_resnet_options o;
 *     if (facs_resnet_options_for_arch("facs_resnet50", &o) != FACS_OK) ...  // message lists the names
 *     o.classes = 10;
 *     facs_resnet net;
 *     facs_resnet_create(&net, &o, FACS_DEVICE_CPU, seed);
 *     facs_tensor *logits = facs_resnet_forward(ctx, &net, x);   // (N, classes, 1, 1)
 *     facs_resnet_free(&net);
 *
 * Architectures: resnet26 ([2,2,2,2] bottlenecks, as timm defines it), resnet50
 * ([3,4,6,3]), resnet101 ([3,4,23,3]), resnet152 ([3,8,36,3]) and their FACS
 * variants facs_resnet26/50/101/152. resnet50_r8 and facs_resnet50_r8 are the
 * paper's R = 8 rows of Table 2: ResNet-50 whose bottleneck width is the block's
 * output channels / 8 instead of / 4 (same output channels). Table 2's last
 * rows: se_resnet50 and se_facs_resnet50 add squeeze-and-excitation (Hu et
 * al., r = 16) to every block, as timm's seresnet50 names it: the bn3 output
 * y becomes y * sigmoid(se.fc2(relu(se.fc1(gap(y))))), fc1/fc2 1x1 convs with
 * bias (out -> out/16 -> out), before the shortcut is added. dwp_resnet50 is
 * the depth-wise pooling baseline (Hussain & Hesheng 2019): conv1 does not
 * exist, the squeeze is the max over each group of R = in / width channels
 * (ops.h facs_channel_pool, the FACS op's chunk grouping), then bn1 and ReLU
 * as in the plain block.
 *
 * Layout (torchvision): conv1 7x7/2, bn1, relu, maxpool 3x3/2, layer1..layer4,
 * global average pool, fc. Bottleneck: conv1 1x1 (in -> width), bn1, relu,
 * conv2 3x3 with the block's stride and dilation, bn2, relu, conv3 1x1
 * (width -> out = 4 width, 8 width for the _r8 nets), bn3, + shortcut, relu.
 * The first block of a stage has the shortcut downsample.0 (1x1 conv with the
 * block's stride) + downsample.1 (BN).
 *
 * net->params holds every tensor under its torchvision state_dict key
 * ("layer1.0.conv1.weight", "layer1.0.downsample.1.running_var", "fc.bias"),
 * BN running statistics as FACS_PARAM_BUFFER (num_batches_tracked is not kept),
 * so a torchvision checkpoint of the same depth maps one to one.
 *
 * FACS variants: in every bottleneck the squeeze conv1 is replaced by the FACS
 * op (ops.h facs_facs) using conv1's weight (width, in, 1, 1) as the blending
 * weight; the chunk is R = in / width (1, 2 or 4; 2, 4 or 8 for
 * facs_resnet50_r8). By default the fusion output goes straight to conv2
 * (DESIGN.md): the block's bn1 stays registered,
 * so a plain ResNet checkpoint loads strictly, but it is unused — it gets no
 * gradient and its running statistics never change. With post_bn, bn1 + ReLU
 * follow the fusion.
 *
 * Options:
 *   width       multiplies the stem and every stage width: base = round(64 width),
 *               stage i has output channels 4 base 2^i and bottleneck width
 *               base 2^i (base 2^(i-1) for _r8, whose FACS variant needs an
 *               even base so that R stays an integer);
 *   cifar_stem  conv1 is 3x3 stride 1 (64 x 3 x 3 x 3) and there is no max-pool;
 *   deep_stem   a facs_stem: three 3x3 convolutions (the first stride 2, a BN
 *               and ReLU after each) instead of the 7x7 conv, then the max-pool:
 *               FACS_STEM_DEEP, ResNet-v1c as timm names it: conv1.0 (3 ->
 *               base/2), conv1.1 BN, conv1.3 (base/2 -> base/2), conv1.4 BN,
 *               conv1.6 (base/2 -> base), bn1;
 *               FACS_STEM_DEEP_BASE, hszhao/semseg's deep base (its ImageNet
 *               ResNets and every released PSPNet): conv1 (3 -> base), bn1,
 *               conv2 (base -> base), bn2, conv3 (base -> 2 base), bn3, and
 *               layer1 takes 2 base channels;
 *   output_stride 32 (classification), 16 (layer4 dilation 2, no stride) or
 *               8 (also layer3 dilation 2, layer4 dilation 4), as hszhao/semseg
 *               dilates: every 3x3 conv2 of the stage, stride 1 in conv2 and in
 *               downsample.0;
 *   no_head     no fc: use facs_resnet_features (segmentation backbones).
 *
 * Initialisation (torchvision): convolutions Kaiming normal with fan-out
 * (std sqrt(2 / (out k k))), BN weight 1 bias 0, running mean 0 var 1, fc
 * uniform in +-1/sqrt(in) for weight and bias; all drawn from seed. */
#ifndef FACS_RESNET_H
#define FACS_RESNET_H

#include <stddef.h>
#include <stdint.h>

#include "layers.h"
#include "model.h" /* facs_stem */
#include "ops.h"
#include "param.h"

typedef struct {
    char arch[32];          /* one of facs_resnet_arch_names() */
    int classes;            /* 1000 */
    double width;           /* 1.0 */
    int cifar_stem;         /* 0 */
    int deep_stem;          /* a facs_stem: FACS_STEM_7X7 (0) */
    int output_stride;      /* 32, 16 or 8 */
    int no_head;            /* 0 */
    int post_bn;            /* FACS only: bn1 + ReLU after the fusion; 0 */
    facs_fuse_params fusion; /* FACS only: threshold 0.5 */
} facs_resnet_options;


typedef struct {
    int in, width, out;     /* channels: in -> width -> out (4 or 8 width) */
    int stride, dilation;   /* of conv2 (stride also of downsample.0) */
    facs_param *conv1, *conv2, *conv3, *down_conv; /* down_conv NULL: identity shortcut; conv1 NULL for DWP */
    facs_param *se_fc1, *se_fc1_bias, *se_fc2, *se_fc2_bias; /* NULL without SE */
    facs_bn bn1, bn2, bn3, down_bn;
} facs_resnet_block;

typedef struct {
    facs_resnet_options options;
    int facs;               /* the architecture is a FACS variant */
    int dwp;                /* the squeeze is depth-wise pooling (dwp_resnet50) */
    facs_param_list params;
    facs_param_list folded;   /* the biases of BN folded into convolutions (facs_resnet_fold_bn); never saved */
    facs_param *stem_conv[3]; /* [0] only, unless deep_stem */
    facs_bn stem_bn[3]; /* the last one is "bn1" (deep base: "bn3") */
    facs_resnet_block *blocks;
    int stage_blocks[4], block_count;
    int layer3_channels, out_channels; /* widths of the layer3 and layer4 outputs */
    facs_param *fc_weight, *fc_bias;   /* NULL with no_head */
    facs_tap tap;                      /* tap point k: the output of block k (model.h facs_model_set_tap) */
} facs_resnet;

/* NULL-terminated list of the architecture names. */
const char *const *facs_resnet_arch_names(void);

/* Default options for arch; FACS_ERR_ARG naming the valid architectures when
 * arch is unknown. */
facs_status facs_resnet_options_for_arch(const char *arch, facs_resnet_options *options);

/* Builds and initialises the network on device from seed. On failure net holds
 * nothing (facs_resnet_free is still safe) and the last error says why. */
facs_status facs_resnet_create(facs_resnet *net, const facs_resnet_options *options, facs_device device,
                               uint64_t seed);
void facs_resnet_free(facs_resnet *net);

/* For inference: folds every BN that follows a convolution into it
 * (layers.h facs_bn_fold), so each block runs as three fused convolutions in
 * eval mode. The BN after a FACS or DWP squeeze stays. The network then
 * refuses training mode; its parameters hold the folded weights. */
facs_status facs_resnet_fold_bn(facs_resnet *net);

/* The layer4 output (N, out_channels, H/os, W/os) of images x (N, 3, H, W);
 * when layer3 is not NULL it receives the layer3 output (the auxiliary head's
 * input). NULL on error. */
facs_tensor *facs_resnet_features(facs_ctx *ctx, facs_resnet *net, facs_tensor *x, facs_tensor **layer3);

/* The name of tap point index, block index's output: "layer<s>.<i>" into
 * buf; NULL past the last block. The family's tap_name (PSPNet's too). */
const char *facs_resnet_tap_name(const facs_resnet *net, int index, char *buf, size_t size);

/* Logits (N, classes, 1, 1); an error when the net was built with no_head. */
facs_tensor *facs_resnet_forward(facs_ctx *ctx, facs_resnet *net, facs_tensor *x);

#endif
