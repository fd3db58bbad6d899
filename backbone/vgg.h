/* VGG-16-1x1 and FACS-VGG-16 (paper section 3.5, Table 4), a facs_model
 * family (model_family.h: facs_vgg_family); tools reach it through model.h.
 *
 * Architectures: vgg16_1x1_r2, vgg16_1x1_r4 and their FACS variants
 * facs_vgg16_r2, facs_vgg16_r4 (R = 2 or 4).
 *
 * Layout: torchvision's vgg16_bn body, five blocks of [2, 2, 3, 3, 3] 3x3
 * convolutions (padding 1) with 64, 128, 256, 512, 512 output channels, each
 * followed by BN and ReLU, and a 2x2 stride-2 max-pool after each block.
 * Before every 3x3 conv except the first of a block (the eight convs whose
 * input and output widths C are equal) sits a squeeze: a 1x1 conv C -> C/R,
 * BN, ReLU; the 3x3 conv then maps C/R -> C. Head: global average pool and
 * one linear layer (Table 4's counts have no room for torchvision's 4096-wide
 * classifier).
 *
 * No convolution has a bias: a BN follows each one, so a bias adds
 * parameters and FLOPs but no function. torchvision's vgg16_bn convs carry
 * one; with them facs_vgg16_r4 would count 6.40B FLOPs, 1.6% over Table 4's
 * 6.3B. Without them (ptflops convention, 224x224, 1000 classes):
 *     vgg16_1x1_r2   10.43M parameters, 10.06B FLOPs  (Table 4: 10.3M, 10.0B)
 *     facs_vgg16_r2  10.43M,             9.39B        (10.3M, 9.3B)
 *     vgg16_1x1_r4    7.43M,             6.72B        (7.4M, 6.7B)
 *     facs_vgg16_r4   7.43M,             6.38B        (7.4M, 6.3B)
 *
 * Parameter names are the state_dict of a PyTorch module whose `features` is
 * one nn.Sequential of conv, bn, relu, [squeeze conv, bn, relu,] ... maxpool
 * and whose `classifier` is the nn.Linear (tests/ref/vgg_torch.py): the first
 * conv is "features.0.weight", its BN "features.1", the first squeeze
 * "features.3.weight", the head "classifier.weight"; BN running statistics
 * are FACS_PARAM_BUFFER (num_batches_tracked is not kept).
 *
 * FACS variants: each squeeze conv is replaced by the FACS op (ops.h
 * facs_facs) with that conv's weight (C/R, C, 1, 1) as blending weight, so
 * chunks of R channels. As in FACS-ResNet (resnet.h), by default the fusion
 * output goes straight to the 3x3 conv and the squeeze's BN stays registered
 * but unused (no gradient, running statistics unchanged), so a vgg16_1x1
 * checkpoint loads strictly; with FACS_FUSION_BN_POST that BN and a ReLU
 * follow the fusion.
 *
 * Options (model.h): width multiplies every channel count (round, at least
 * 1); the squeeze width is C / R rounded down, and FACS needs C divisible by
 * R. cifar_stem and FACS_FUSION_BN_PRE are refused: VGG has no stem to
 * replace (32x32 inputs work as they are: five pools leave 1x1), and BN
 * before the fusion is MobileNet-v2's. Inputs need H, W >= 32.
 *
 * Initialisation (torchvision's VGG): convs Kaiming normal with fan-out
 * (std sqrt(2 / (out k k))), BN weight 1 bias 0, running mean 0 var 1,
 * linear weight normal(0, 0.01) bias 0; all drawn from the seed. */
#ifndef FACS_VGG_H
#define FACS_VGG_H

#include "layers.h"
#include "model.h"

#define FACS_VGG_CONVS 13

/* One 3x3 conv with its BN (and ReLU), the optional squeeze before it and
 * the max-pool after it. */
typedef struct {
    int in, out, squeeze;   /* channels: in -> squeeze (0: no squeeze) -> out */
    int pool_after;         /* the block's last conv: 2x2 max-pool follows */
    facs_param *squeeze_conv, *conv;
    facs_bn squeeze_bn, bn;
} facs_vgg_layer;

/* Tap points (model.h facs_model_set_tap): each 3x3 conv's ReLU output and
 * each max-pool's, in forward order. */
#define FACS_VGG_TAPS (FACS_VGG_CONVS + 5)

typedef struct {
    facs_model_options options;
    int facs, reduction;    /* FACS variant; R */
    facs_param_list params;
    facs_param_list folded; /* the biases of BN folded into convolutions (facs_model_fold_bn); never saved */
    facs_vgg_layer layers[FACS_VGG_CONVS];
    facs_param *fc_weight, *fc_bias;
    int tap_features[FACS_VGG_TAPS]; /* tap point t is features.<tap_features[t]> */
    facs_tap tap;
} facs_vgg;

const char *const *facs_vgg_arch_names(void);

/* Builds and initialises the network for options (options->arch one of
 * facs_vgg_arch_names()). On failure net holds nothing (facs_vgg_free is
 * still safe) and the last error says why. */
facs_status facs_vgg_create(facs_vgg *net, const facs_model_options *options, facs_device device, uint64_t seed);
void facs_vgg_free(facs_vgg *net);

/* Logits (N, classes, 1, 1) of images x (N, 3, H, W); NULL on error. */
facs_tensor *facs_vgg_forward(facs_ctx *ctx, facs_vgg *net, facs_tensor *x);

#endif
